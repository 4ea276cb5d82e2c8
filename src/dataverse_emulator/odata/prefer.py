"""The ``Prefer`` request header and the ``Preference-Applied`` answer (spec §1.6).

Parsing is deliberately forgiving: a malformed or unknown preference is ignored, never an error,
because real clients send all sorts (and Dataverse ignores them too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Largest page the emulator serves; larger ``odata.maxpagesize`` values are capped to it.
MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class Preferences:
    """What the client asked for in ``Prefer``.

    Attributes:
        maxpagesize: requested page size, capped at :data:`MAX_PAGE_SIZE`; ``None`` when absent,
            non-positive or not an integer.
        track_changes: ``odata.track-changes``.
        include_annotations: the ``odata.include-annotations`` terms as given (trimmed).
        return_representation: ``return=representation``.
        continue_on_error: ``odata.continue-on-error``.
    """

    maxpagesize: int | None = None
    track_changes: bool = False
    include_annotations: tuple[str, ...] = ()
    return_representation: bool = False
    continue_on_error: bool = False

    def wants_annotation(self, term: str) -> bool:
        """Whether ``term`` (``OData.Community.Display.V1.FormattedValue``) was asked for.

        ``*`` matches every term, a trailing ``*`` is a prefix wildcard (``Microsoft.Dynamics.CRM.*``),
        anything else must match exactly; all comparisons ignore case.
        """
        wanted = term.casefold()
        return any(_matches(pattern.casefold(), wanted) for pattern in self.include_annotations)

    def applied(
        self,
        *,
        maxpagesize: int | None = None,
        track_changes: bool = False,
        annotations: bool = False,
        return_representation: bool = False,
        continue_on_error: bool = False,
    ) -> str | None:
        """The ``Preference-Applied`` value for what the caller honoured, or ``None`` for nothing.

        Args:
            maxpagesize: the page size actually used, when the caller honoured a requested one.
            track_changes: change tracking was honoured.
            annotations: annotations were honoured; echoed only if some were requested.
            return_representation: the row is returned in the body.
            continue_on_error: the batch continued after failures.

        Returns:
            Items joined by ``", "``, e.g.
            ``odata.track-changes, odata.maxpagesize=500, odata.include-annotations="*"``.
        """
        items = [
            "odata.track-changes" if track_changes else "",
            f"odata.maxpagesize={maxpagesize}" if maxpagesize is not None else "",
            self._annotations_item() if annotations else "",
            "return=representation" if return_representation else "",
            "odata.continue-on-error" if continue_on_error else "",
        ]
        return ", ".join(item for item in items if item) or None

    def _annotations_item(self) -> str:
        if not self.include_annotations:
            return ""
        return f'odata.include-annotations="{",".join(self.include_annotations)}"'


def _matches(pattern: str, term: str) -> bool:
    if pattern.endswith("*"):
        return term.startswith(pattern[:-1])
    return pattern == term


def parse_prefer(values: Sequence[str]) -> Preferences:
    """Read every ``Prefer`` header value of a request, in order. Never raises.

    The values are joined with ``,`` and split on commas outside double quotes; each item is
    ``name`` or ``name=value`` (RFC 7240 ``;`` parameters are dropped), names are case-insensitive
    and may omit the ``odata.`` prefix, quotes around a value are stripped, and only the first
    occurrence of a preference counts.
    """
    seen: dict[str, str | None] = {}
    for item in _split_outside_quotes(",".join(values), ","):
        head = _split_outside_quotes(item, ";")[0]
        name, equals, value = head.partition("=")
        name = name.strip().lower().removeprefix("odata.")
        if name:
            seen.setdefault(name, _unquote(value.strip()) if equals else None)
    return Preferences(
        maxpagesize=_page_size(seen.get("maxpagesize")),
        track_changes=_flag(seen, "track-changes"),
        include_annotations=_terms(seen.get("include-annotations")),
        return_representation=(seen.get("return") or "").lower() == "representation",
        continue_on_error=_flag(seen, "continue-on-error"),
    )


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, start, quoted = [], 0, False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _page_size(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    if not digits:
        return None
    return MAX_PAGE_SIZE if len(digits) > len(str(MAX_PAGE_SIZE)) else min(int(digits), MAX_PAGE_SIZE)


def _flag(seen: dict[str, str | None], name: str) -> bool:
    """Present and not explicitly ``=false``."""
    return name in seen and (seen[name] or "").lower() != "false"


def _terms(value: str | None) -> tuple[str, ...]:
    return tuple(term for term in (t.strip() for t in (value or "").split(",")) if term)
