"""Decoding and encoding of Web API query strings (spec §1.5, §1.4).

Clients encode the same request differently (``$`` or ``%24``, ``+`` or ``%20``, ``,`` or ``%2C``);
:func:`parse_query` turns all of them into one :class:`QueryOptions`. :func:`encode_query` writes the
options back for ``@odata.nextLink``/``@odata.deltaLink`` with a literal ``$`` and encoded values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, quote

from dataverse_emulator.errors import bad_request
from dataverse_emulator.odata.options import parse_select, parse_top

#: The system query options the emulator understands (lower case, with ``$``).
SYSTEM_OPTIONS = frozenset(
    {
        "$select",
        "$filter",
        "$orderby",
        "$top",
        "$count",
        "$expand",
        "$skiptoken",
        "$deltatoken",
        "$apply",
        "$id",
    }
)

# Readable in links yet unambiguous when decoded: "+", "&", "#", "%", ";" and spaces are escaped.
_SAFE_IN_VALUES = ",'()/:=$@!*"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class QueryOptions:
    """The decoded query string of one request.

    Attributes:
        select: ``$select`` names, trimmed, in order.
        filter, orderby, expand, skiptoken, deltatoken, apply, id: the decoded option text, unparsed.
        top: ``$top``; count: ``$count=true``.
        aliases: parameter aliases keyed with their ``@`` (``"@p1"``), values decoded but unparsed.
        extra: every other key (``fetchXml``, ``api-version``); the first occurrence wins.
        system: the system options in arrival order as (lower-case name with ``$``, decoded value),
            for rebuilding links with :func:`encode_query`.
    """

    select: tuple[str, ...] | None = None
    filter: str | None = None
    orderby: str | None = None
    top: int | None = None
    count: bool = False
    expand: str | None = None
    skiptoken: str | None = None
    deltatoken: str | None = None
    apply: str | None = None
    id: str | None = None
    aliases: Mapping[str, str] = field(default_factory=_empty)
    extra: Mapping[str, str] = field(default_factory=_empty)
    system: tuple[tuple[str, str], ...] = ()

    def has(self, name: str) -> bool:
        """Whether the system option ``name`` (``"$filter"``, any case) was given."""
        wanted = name.lower()
        return any(option == wanted for option, _ in self.system)


def parse_query(raw_query: str) -> QueryOptions:
    """Decode a raw query string (with or without its leading ``?``) per spec §1.5.

    Keys and values are split on ``&`` and the first ``=``, ``+`` becomes a space and then
    percent-escapes are decoded as UTF-8 (``urllib.parse.parse_qsl`` semantics). Only the system
    options' own syntax is checked here; names are validated against a type later.

    Raises:
        WebApiError: 400 ``0x0`` for invalid UTF-8, an unknown or unsupported system option
            (``$skip``), a repeated system option or alias, a ``$top`` that is not a non-negative
            integer, a ``$count`` other than ``true``/``false``, or an empty ``$select`` item.
    """
    system: list[tuple[str, str]] = []
    aliases: dict[str, str] = {}
    extra: dict[str, str] = {}
    for key, value in _decode_pairs(raw_query.removeprefix("?")):
        if key.startswith("$"):
            system.append((_system_name(key, system), value))
        elif key.startswith("@"):
            if key in aliases:
                raise bad_request(f"The parameter alias '{key}' is specified more than once.")
            aliases[key] = value
        else:
            extra.setdefault(key, value)
    return _options(dict(system), tuple(system), aliases, extra)


def _decode_pairs(query: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise bad_request("The query string is not valid percent-encoded UTF-8.") from None


def _system_name(key: str, seen: list[tuple[str, str]]) -> str:
    name = key.lower()
    if name == "$skip":
        raise bad_request("The query parameter '$skip' is not supported; follow @odata.nextLink to page.")
    if name not in SYSTEM_OPTIONS:
        raise bad_request(f"The query parameter '{key}' is not supported.")
    if any(option == name for option, _ in seen):
        raise bad_request(f"Query option '{name}' was specified more than once, but it must be specified at most once.")
    return name


def _options(
    values: Mapping[str, str],
    system: tuple[tuple[str, str], ...],
    aliases: dict[str, str],
    extra: dict[str, str],
) -> QueryOptions:
    return QueryOptions(
        select=parse_select(values["$select"]) if "$select" in values else None,
        filter=values.get("$filter"),
        orderby=values.get("$orderby"),
        top=parse_top(values["$top"]) if "$top" in values else None,
        count=_parse_count(values["$count"]) if "$count" in values else False,
        expand=values.get("$expand"),
        skiptoken=values.get("$skiptoken"),
        deltatoken=values.get("$deltatoken"),
        apply=values.get("$apply"),
        id=values.get("$id"),
        aliases=MappingProxyType(aliases),
        extra=MappingProxyType(extra),
        system=system,
    )


def _parse_count(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise bad_request(f"The $count value '{text}' is not valid: expected true or false.")
    return value == "true"


def encode_query(system: Iterable[tuple[str, str]]) -> str:
    """Build ``name=value&…`` (no leading ``?``) from pairs such as ``QueryOptions.system``.

    Names keep a literal ``$``/``@``; values are percent-encoded as UTF-8, leaving ``,'()/:=$@!*``
    readable (``$select=name,revenue``, ``$filter=name%20eq%20'A'``). ``parse_query`` of the result
    gives back the same pairs.
    """
    return "&".join(f"{quote(name, safe='$@')}={quote(value, safe=_SAFE_IN_VALUES)}" for name, value in system)
