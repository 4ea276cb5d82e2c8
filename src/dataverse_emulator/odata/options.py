"""Parsers for the structured query options and key segments: ``$select``, ``$orderby``, ``$expand``
and the parenthesised key of ``accounts(<guid>)`` / ``EntityDefinitions(LogicalName='account')``.

All of them check syntax only; whether a name exists on a type is decided later by the handler.
Every malformed input raises :class:`~dataverse_emulator.errors.WebApiError` 400 ``0x0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dataverse_emulator.errors import bad_request

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:/[A-Za-z_][A-Za-z0-9_.]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_INTEGER = re.compile(r"-?[0-9]+")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_ORDER_ITEM = re.compile(r"(?P<name>\S+)(?:\s+(?P<direction>\S+))?")
_EXPAND_OPTIONS = frozenset({"$select", "$filter", "$orderby", "$top", "$expand"})


@dataclass(frozen=True)
class OrderItem:
    """One ``$orderby`` item: ``name`` ascending unless ``descending``."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class ExpandItem:
    """One ``$expand`` item with its nested options (``None``/empty when not given).

    ``filter`` and ``orderby`` are kept as text, exactly like the top-level options in
    :class:`~dataverse_emulator.odata.querystring.QueryOptions`; parse them with
    :func:`~dataverse_emulator.odata.filter.parse_filter` and :func:`parse_orderby`.
    """

    name: str
    select: tuple[str, ...] | None = None
    filter: str | None = None
    orderby: str | None = None
    top: int | None = None
    expand: tuple[ExpandItem, ...] = ()


@dataclass(frozen=True)
class KeyRef:
    """A key segment: either a primary key ``guid`` (lower case) or named ``values`` (alternate key,
    ``LogicalName='account'``). Exactly one of the two is set; ``values`` is read-only."""

    guid: str | None
    values: Mapping[str, str | int] = field(default_factory=lambda: MappingProxyType({}))


def parse_select(text: str) -> tuple[str, ...]:
    """Split a ``$select`` value on commas and trim each name (order kept).

    Raises:
        WebApiError: 400 ``0x0`` when the list or one of its items is empty (``a,,b``, ``a,``).
    """
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise bad_request(f"The $select value '{text}' contains an empty property name.")
    return names


def parse_orderby(text: str) -> tuple[OrderItem, ...]:
    """Parse ``col [asc|desc][, …]`` (direction case-insensitive, default ascending).

    Raises:
        WebApiError: 400 ``0x0`` for an empty item, a name that is not a property path, an unknown
            direction, or anything after the direction.
    """
    return tuple(_order_item(item.strip(), text) for item in text.split(","))


def _order_item(item: str, text: str) -> OrderItem:
    match = _ORDER_ITEM.fullmatch(item)
    if match is None or not _NAME.fullmatch(match["name"]):
        raise bad_request(f"The $orderby value '{text}' is not valid: expected 'property [asc|desc]'.")
    direction = (match["direction"] or "asc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request(f"The $orderby direction '{match['direction']}' is not valid: use asc or desc.")
    return OrderItem(match["name"], descending=direction == "desc")


def parse_expand(text: str) -> tuple[ExpandItem, ...]:
    """Parse ``name`` / ``name(opt=val;opt=val)`` items separated by commas.

    Nested options are ``$select``, ``$filter``, ``$orderby``, ``$top`` and ``$expand`` (names
    case-insensitive, ``$`` required); parentheses and ``'…'`` strings inside values are respected,
    and a nested ``$expand`` is parsed recursively.

    Raises:
        WebApiError: 400 ``0x0`` for unbalanced parentheses or quotes, an empty item or option, an
            unknown or repeated nested option, or a ``$top`` that is not a non-negative integer.
    """
    return tuple(_expand_item(item.strip()) for item in split_top_level(text, ",", "$expand"))


def _expand_item(item: str) -> ExpandItem:
    name, paren, rest = item.partition("(")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise bad_request(f"The $expand item '{item}' is not valid: expected 'name' or 'name(options)'.")
    if not paren:
        return ExpandItem(name)
    rest = rest.strip()
    if not rest.endswith(")"):
        raise bad_request(f"The $expand item '{item}' has text after its closing parenthesis.")
    options = _expand_options(rest[:-1], name)
    return ExpandItem(
        name,
        select=parse_select(options["$select"]) if "$select" in options else None,
        filter=options.get("$filter"),
        orderby=options.get("$orderby"),
        top=parse_top(options["$top"]) if "$top" in options else None,
        expand=parse_expand(options["$expand"]) if "$expand" in options else (),
    )


def _expand_options(body: str, name: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for option in split_top_level(body, ";", f"$expand of '{name}'"):
        key, equals, value = option.partition("=")
        key = key.strip().lower()
        if not equals or key not in _EXPAND_OPTIONS:
            shown = key or option.strip()
            raise bad_request(f"The query option '{shown}' is not supported inside $expand of '{name}'.")
        if key in options:
            raise bad_request(f"The query option '{key}' is repeated inside $expand of '{name}'.")
        options[key] = value.strip()
    return options


def parse_top(text: str) -> int:
    """A ``$top`` value: a non-negative decimal integer (surrounding whitespace allowed).

    Raises:
        WebApiError: 400 ``0x0`` otherwise.
    """
    digits = text.strip()
    try:
        if digits.isascii() and digits.isdigit():
            return int(digits)
    except ValueError:  # more digits than int() accepts
        pass
    raise bad_request(f"The $top value '{text}' is not valid: expected a non-negative integer.")


def parse_key_segment(text: str) -> KeyRef:
    """Parse a key, with or without its parentheses: ``<guid>``, ``name='v'``, ``k1='v',k2=2``.

    Values are ``'…'`` strings (``''`` escapes a quote), integers or bare GUIDs (lower-cased strings).

    Raises:
        WebApiError: 400 ``0x0`` for an empty key, a value that is not a GUID when unnamed, a bad name
            or value, or a name given twice.
    """
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1].strip()
    if _GUID.fullmatch(inner):
        return KeyRef(guid=inner.lower())
    if "=" not in inner:
        raise bad_request(f"The key '{text}' is not valid: expected a GUID or name=value pairs.")
    values: dict[str, str | int] = {}
    for pair in split_top_level(inner, ",", "key"):
        name, _, raw = pair.partition("=")
        name = name.strip()
        if not _IDENTIFIER.fullmatch(name) or name in values:
            raise bad_request(f"The key '{text}' is not valid: bad or repeated key name '{name}'.")
        values[name] = _key_value(raw.strip(), text)
    return KeyRef(guid=None, values=MappingProxyType(values))


def _key_value(raw: str, text: str) -> str | int:
    quoted = _QUOTED.fullmatch(raw)
    if quoted:
        return quoted[1].replace("''", "'")
    if _GUID.fullmatch(raw):
        return raw.lower()
    if _INTEGER.fullmatch(raw) and len(raw) <= 19:
        return int(raw)
    raise bad_request(f"The key '{text}' is not valid: '{raw}' is not a quoted string, integer or GUID.")


def split_top_level(text: str, separator: str, context: str) -> list[str]:
    """Split ``text`` on ``separator`` outside parentheses, brackets and ``'…'`` strings.

    Raises:
        WebApiError: 400 ``0x0`` (mentioning ``context``) for unbalanced brackets or quotes, or when a
            part is empty.
    """
    parts: list[str] = []
    depth, start, quoted = 0, 0, False
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted  # a doubled '' toggles twice, so escapes need no special case
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                break
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth != 0 or quoted:
        raise bad_request(f"Unbalanced parentheses or quotes in {context}: '{text}'.")
    parts.append(text[start:])
    if not all(part.strip() for part in parts):
        raise bad_request(f"Empty item in {context}: '{text}'.")
    return parts
