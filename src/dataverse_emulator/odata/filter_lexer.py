"""Splits a ``$filter`` expression into tokens.

The lexer knows literal shapes (strings, numbers, GUIDs, dates, enum members) so that the parser
never has to re-scan text; it knows nothing about which operators or functions are supported.
Everything it cannot read becomes a 400 ``0x0`` that points at the offending position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from dataverse_emulator.errors import WebApiError, bad_request


class TokenKind(Enum):
    """What a token is. ``NAME`` covers identifiers, keywords and ``a/b`` paths alike."""

    NAME = "name"
    ALIAS = "alias"
    STRING = "string"
    DQSTRING = "double-quoted string"
    TYPED = "typed literal"
    GUID = "guid"
    DATETIME = "datetime"
    DATE = "date"
    NUMBER = "number"
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    COLON = ":"
    EQUALS = "="
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its exact source text and its 0-based offset."""

    kind: TokenKind
    text: str
    position: int


_SEGMENT = r"\$?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"

# Order matters: the dated and GUID shapes start with digits or hex letters, so they are tried before
# numbers and names; the look-aheads stop ``2024-01-01x`` from lexing as a date followed by a name.
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
    |(?P<datetime>\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:\d{{2}})?)
        (?![\w:.+-])
    |(?P<guid>[0-9A-Fa-f]{{8}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{12}})(?![\w-])
    |(?P<date>\d{{4}}-\d{{2}}-\d{{2}})(?![\w-])
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.-])
    |(?P<string>'(?:[^']|'')*')
    |(?P<dqstring>"(?:[^"]|"")*")
    |(?P<typed>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*'(?:[^']|'')*')
    |(?P<alias>@[A-Za-z_]\w*)
    |(?P<name>{_SEGMENT}(?:/{_SEGMENT})*)
    |(?P<punct>[()\[\],:=])
    """,
    re.VERBOSE | re.ASCII,
)

_KINDS = {
    "datetime": TokenKind.DATETIME,
    "guid": TokenKind.GUID,
    "date": TokenKind.DATE,
    "number": TokenKind.NUMBER,
    "string": TokenKind.STRING,
    "dqstring": TokenKind.DQSTRING,
    "typed": TokenKind.TYPED,
    "alias": TokenKind.ALIAS,
    "name": TokenKind.NAME,
}

_PUNCTUATION = {kind.value: kind for kind in TokenKind if len(kind.value) == 1}


def tokenize(text: str) -> tuple[Token, ...]:
    """The tokens of ``text``, whitespace dropped, always ending with one ``END`` token.

    Raises:
        WebApiError: 400 ``0x0`` for an unterminated string or a character no token starts with.
    """
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _unreadable(text, position)
        group = match.lastgroup
        if group == "punct":
            tokens.append(Token(_PUNCTUATION[match.group()], match.group(), position))
        elif group != "ws" and group is not None:
            tokens.append(Token(_KINDS[group], match.group(), position))
        position = match.end()
    tokens.append(Token(TokenKind.END, "", len(text)))
    return tuple(tokens)


def _unreadable(text: str, position: int) -> WebApiError:
    char = text[position]
    if char in "'\"":
        return bad_request(f"Syntax error in $filter: unterminated string literal at position {position}.")
    if char == "-":
        return bad_request(f"Syntax error in $filter at position {position}: arithmetic negation '-' is not supported.")
    fragment = text[position : position + 20]
    return bad_request(f"Syntax error in $filter at position {position}: unexpected '{fragment}'.")


def syntax_error(token: Token, problem: str) -> WebApiError:
    """400 ``0x0`` pointing at ``token``: ``Syntax error in $filter at position 7 (')'): <problem>.``"""
    found = f"'{token.text}'" if token.kind is not TokenKind.END else "the end of the expression"
    return bad_request(f"Syntax error in $filter at position {token.position} ({found}): {problem}.")
