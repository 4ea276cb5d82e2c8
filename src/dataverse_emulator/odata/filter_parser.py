"""Recursive-descent parser for the ``$filter`` subset (spec §2.2).

Grammar, loosest binding first (OData precedence: ``not`` > comparison > ``and`` > ``or``)::

    or         := and ("or" and)*
    and        := comparison ("and" comparison)*
    comparison := unary [("eq"|"ne"|"gt"|"ge"|"lt"|"le") unary]
    unary      := "not" unary | primary
    primary    := "(" or ")" | call | property | literal | @alias

Because ``not`` binds tighter than ``eq``, ``not x eq 'a'`` means ``(not x) eq 'a'``; Dataverse rejects
that, and so does this parser, with a hint to write ``not (x eq 'a')``. Every construct outside the
subset raises 400 ``0x0`` naming it; nothing is silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from dataverse_emulator.errors import WebApiError, bad_request
from dataverse_emulator.odata.filter_lexer import Token, TokenKind, syntax_error, tokenize
from dataverse_emulator.odata.filter_literals import LITERAL_PARSERS, literal_of, unquote
from dataverse_emulator.odata.filter_syntax import (
    And,
    Compare,
    CompareOp,
    Expr,
    Literal,
    Membership,
    Not,
    Operand,
    Or,
    Property,
    StringFunction,
    StringMatch,
)

#: Deepest nesting of parentheses and ``not`` accepted; deeper input is refused, never a crash.
MAX_DEPTH = 100

_COMPARE_OPS = {op.value: op for op in CompareOp}
_STRING_FUNCTIONS = {fn.value: fn for fn in StringFunction}
_MEMBERSHIP = {"microsoft.dynamics.crm.in": False, "microsoft.dynamics.crm.notin": True}
_ARITHMETIC = frozenset({"add", "sub", "mul", "div", "divby", "mod"})
_OTHER_BINARY = frozenset({"has", "in"})
_LAMBDAS = frozenset({"any", "all"})
_KEYWORDS = frozenset({"and", "or", "not", *_COMPARE_OPS, *_ARITHMETIC, *_OTHER_BINARY})
_CONSTANTS: dict[str, Literal] = {"true": Literal(True), "false": Literal(False), "null": Literal(None)}


class FilterParser:
    """Parses one token stream; use :func:`parse_expression` rather than this class directly."""

    def __init__(self, tokens: tuple[Token, ...], aliases: Mapping[str, str]) -> None:
        self._tokens = tokens
        self._aliases = aliases
        self._index = 0
        self._depth = 0

    # -- token stream ---------------------------------------------------------------------------

    def _peek(self, offset: int = 0) -> Token:
        return self._tokens[min(self._index + offset, len(self._tokens) - 1)]

    def _advance(self) -> Token:
        token = self._peek()
        self._index += 1
        return token

    def _is_word(self, word: str) -> bool:
        token = self._peek()
        return token.kind is TokenKind.NAME and token.text == word

    def _expect(self, kind: TokenKind) -> Token:
        token = self._peek()
        if token.kind is not kind:
            raise syntax_error(token, f"expected '{kind.value}'")
        return self._advance()

    def _enter(self, token: Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise syntax_error(token, f"expression nested deeper than {MAX_DEPTH} levels")

    # -- grammar --------------------------------------------------------------------------------

    def parse(self) -> Expr:
        """The whole stream as one boolean expression; trailing tokens are an error."""
        if self._peek().kind is TokenKind.END:
            raise bad_request("The $filter expression is empty.")
        expr = self._or()
        if self._peek().kind is not TokenKind.END:
            raise syntax_error(self._peek(), "expected 'and', 'or' or the end of the expression")
        return expr

    def _or(self) -> Expr:
        operands = [self._and()]
        while self._is_word("or"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Expr:
        operands = [self._comparison()]
        while self._is_word("and"):
            self._advance()
            operands.append(self._comparison())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _comparison(self) -> Expr:
        start = self._peek()
        left = self._unary()
        token = self._peek()
        if token.kind is TokenKind.NAME and token.text in _COMPARE_OPS:
            self._advance()
            right_start = self._peek()
            right = self._unary()
            return Compare(_COMPARE_OPS[token.text], _as_operand(left, start), _as_operand(right, right_start))
        if token.kind is TokenKind.NAME and token.text in _ARITHMETIC:
            raise _unsupported(f"arithmetic operator '{token.text}'")
        if token.kind is TokenKind.NAME and token.text in _OTHER_BINARY:
            raise _unsupported(f"operator '{token.text}'")
        return _as_boolean(left, start)

    def _unary(self) -> Expr:
        token = self._peek()
        if not self._is_word("not"):
            return self._primary()
        self._advance()
        self._enter(token)
        operand_start = self._peek()
        operand = _as_boolean(self._unary(), operand_start)
        self._depth -= 1
        return Not(operand)

    def _primary(self) -> Expr:
        token = self._peek()
        if token.kind is TokenKind.LPAREN:
            self._advance()
            self._enter(token)
            inner = self._or()
            self._expect(TokenKind.RPAREN)
            self._depth -= 1
            return inner
        if token.kind is TokenKind.NAME and self._peek(1).kind is TokenKind.LPAREN:
            return self._call()
        return self._operand()

    def _operand(self) -> Operand:
        token = self._advance()
        if token.kind is TokenKind.NAME:
            return _name_operand(token)
        if token.kind is TokenKind.ALIAS:
            return self._alias_literal(token)
        if token.kind is TokenKind.DQSTRING:
            raise syntax_error(token, "strings are quoted with ' (double quotes only inside PropertyValues)")
        return literal_of(token)

    # -- functions ------------------------------------------------------------------------------

    def _call(self) -> Expr:
        name = self._advance()
        last_segment = name.text.rsplit("/", 1)[-1]
        if last_segment in _LAMBDAS and "/" in name.text:
            raise _unsupported(f"lambda operator '{last_segment}'")
        if name.text in _STRING_FUNCTIONS:
            return self._string_function(_STRING_FUNCTIONS[name.text])
        if name.text.lower() in _MEMBERSHIP:
            return self._membership(_MEMBERSHIP[name.text.lower()])
        raise _unsupported(f"function '{name.text}'")

    def _argument(self) -> Operand:
        token = self._peek()
        if token.kind is TokenKind.NAME and self._peek(1).kind is TokenKind.LPAREN:
            self._call()  # raises for every unsupported function
            raise syntax_error(token, f"'{token.text}' cannot be used as a function argument")
        return self._operand()

    def _string_function(self, function: StringFunction) -> StringMatch:
        self._expect(TokenKind.LPAREN)
        subject_token = self._peek()
        subject = self._argument()
        self._expect(TokenKind.COMMA)
        text_token = self._peek()
        text = self._argument()
        self._expect(TokenKind.RPAREN)
        if not isinstance(subject, Property):
            raise syntax_error(subject_token, f"the first argument of {function.value}() must be a property")
        if not isinstance(text, Literal) or not isinstance(text.value, str):
            raise syntax_error(text_token, f"the second argument of {function.value}() must be a string literal")
        return StringMatch(function, subject, text.value)

    def _membership(self, negated: bool) -> Membership:
        self._expect(TokenKind.LPAREN)
        prop: Property | None = None
        values: tuple[str, ...] | None = None
        while True:
            name = self._expect(TokenKind.NAME)
            key = name.text.lower()
            if key == "propertyname" and prop is None:
                self._expect(TokenKind.EQUALS)
                prop = self._property_name(self._advance())
            elif key == "propertyvalues" and values is None:
                self._expect(TokenKind.EQUALS)
                values = self._value_list()
            else:
                raise syntax_error(name, f"unexpected parameter '{name.text}'")
            if self._peek().kind is not TokenKind.COMMA:
                break
            self._advance()
        closing = self._expect(TokenKind.RPAREN)
        if prop is None or values is None:
            raise syntax_error(closing, "In/NotIn need both PropertyName and PropertyValues")
        return Membership(prop, values, negated)

    def _property_name(self, token: Token) -> Property:
        if token.kind is TokenKind.ALIAS:
            token = _single_token(token, self._aliases)
        if token.kind not in (TokenKind.STRING, TokenKind.DQSTRING) or len(token.text) < 3:
            raise syntax_error(token, "PropertyName must be a quoted, non-empty property name")
        return Property(tuple(unquote(token.text).split("/")))

    def _value_list(self) -> tuple[str, ...]:
        if self._peek().kind is TokenKind.ALIAS:
            parser = _sub_parser(self._advance(), self._aliases)
            values = parser._value_list()
            parser._expect(TokenKind.END)
            return values
        self._expect(TokenKind.LBRACKET)
        items = [self._list_item()]
        while self._peek().kind is TokenKind.COMMA:
            self._advance()
            items.append(self._list_item())
        self._expect(TokenKind.RBRACKET)
        return tuple(items)

    def _list_item(self) -> str:
        token = self._advance()
        if token.kind in (TokenKind.STRING, TokenKind.DQSTRING):
            return unquote(token.text)
        if token.kind in (TokenKind.NUMBER, TokenKind.GUID):
            return str(literal_of(token).value)
        raise syntax_error(token, "PropertyValues must be a list of quoted values")

    # -- aliases --------------------------------------------------------------------------------

    def _alias_literal(self, token: Token) -> Literal:
        inner = _single_token(token, self._aliases)
        if inner.kind is TokenKind.NAME and inner.text in _CONSTANTS:
            return _CONSTANTS[inner.text]
        if inner.kind not in LITERAL_PARSERS:
            raise bad_request(f"Parameter alias '{token.text}' must be a literal value in $filter.")
        return literal_of(inner)


def parse_expression(text: str, aliases: Mapping[str, str]) -> Expr:
    """Parse ``text`` as a boolean ``$filter`` expression; see the module docstring.

    Raises:
        WebApiError: 400 ``0x0`` for any syntax error or unsupported construct.
    """
    return FilterParser(tokenize(text), aliases).parse()


def _name_operand(token: Token) -> Operand:
    if token.text in _CONSTANTS:
        return _CONSTANTS[token.text]
    if "$" in token.text:
        construct = next(seg for seg in token.text.split("/") if seg.startswith("$"))
        raise _unsupported(f"construct '{construct}'")
    if token.text in _KEYWORDS:
        raise syntax_error(token, f"expected a property or a literal but found '{token.text}'")
    return Property(tuple(token.text.split("/")))


def _as_operand(expr: Expr, start: Token) -> Operand:
    if isinstance(expr, Property | Literal):
        return expr
    raise syntax_error(
        start,
        "only a property or a literal can be compared; to negate a comparison write not (x eq 'a')",
    )


def _as_boolean(expr: Expr, start: Token) -> Expr:
    if isinstance(expr, Literal) and not isinstance(expr.value, bool):
        raise syntax_error(start, f"'{start.text}' is not a boolean expression")
    return expr


def _single_token(alias: Token, aliases: Mapping[str, str]) -> Token:
    parser = _sub_parser(alias, aliases)
    token = parser._advance()
    if token.kind is TokenKind.END or parser._peek().kind is not TokenKind.END:
        raise bad_request(f"Parameter alias '{alias.text}' must be a single literal value.")
    return token


def _sub_parser(alias: Token, aliases: Mapping[str, str]) -> FilterParser:
    """A parser over an alias's value; aliases inside it are not expanded again."""
    if alias.text not in aliases:
        raise bad_request(f"The parameter alias '{alias.text}' used in $filter is not defined.")
    return FilterParser(tokenize(aliases[alias.text]), {})


def _unsupported(construct: str) -> WebApiError:
    return bad_request(f"The $filter {construct} is not supported.")
