"""The values of ``$filter`` literal tokens (see the table in :mod:`.filter_syntax`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from dataverse_emulator.errors import bad_request
from dataverse_emulator.odata.filter_lexer import Token, TokenKind, syntax_error
from dataverse_emulator.odata.filter_syntax import Literal


def literal_of(token: Token) -> Literal:
    """The literal a literal token denotes.

    Raises:
        WebApiError: 400 ``0x0`` when ``token`` is not a literal, when its value is out of range
            (``2024-13-01``, an integer of thousands of digits), or for a typed literal other than an
            enum member (``duration'P1D'``).
    """
    parse = LITERAL_PARSERS.get(token.kind)
    if parse is None:
        raise syntax_error(token, "expected a property or a literal")
    try:
        return parse(token.text)
    except (ValueError, ArithmeticError):
        raise syntax_error(token, f"invalid {token.kind.value} literal") from None


def unquote(text: str) -> str:
    """The content of a quoted token, with the doubled quote character undoubled (``'O''Neil'``)."""
    quote = text[0]
    return text[1:-1].replace(quote * 2, quote)


def _string(text: str) -> Literal:
    return Literal(unquote(text))


def _number(text: str) -> Literal:
    if any(c in text for c in ".eE"):
        return Literal(Decimal(text))
    return Literal(int(text))


def _guid(text: str) -> Literal:
    return Literal(uuid.UUID(text))


def _datetime(text: str) -> Literal:
    parsed = datetime.fromisoformat(text)
    return Literal(parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed)


def _date(text: str) -> Literal:
    return Literal(date.fromisoformat(text))


def _typed(text: str) -> Literal:
    type_name, _, quoted = text.partition("'")
    if "." not in type_name:
        raise bad_request(f"The $filter typed literal '{type_name}' is not supported.")
    return Literal(unquote("'" + quoted), enum_type=type_name)


#: The token kinds that are literals (``true``/``false``/``null`` are names, handled by the parser).
LITERAL_PARSERS: dict[TokenKind, Callable[[str], Literal]] = {
    TokenKind.STRING: _string,
    TokenKind.NUMBER: _number,
    TokenKind.GUID: _guid,
    TokenKind.DATETIME: _datetime,
    TokenKind.DATE: _date,
    TokenKind.TYPED: _typed,
}
