"""Compiles a ``$filter`` AST into a row predicate built from closures.

The AST is walked once, at compile time; each row then runs a small tree of closures with no type
dispatch on the expression. Evaluation uses SQL's three-valued logic: every closure answers
``True``, ``False`` or ``None`` (UNKNOWN). A comparison with a null or incomparable row value is
UNKNOWN, ``not`` keeps UNKNOWN, and only ``True`` selects a row, so ``x ne 'a'`` and
``not (x eq 'a')`` both skip rows where ``x`` is null.

How a row value meets a literal is decided by the literal's type (see :func:`comparison_key`):

* strings and enum members: case-insensitive (Dataverse's default collation);
* numbers: exact decimal comparison, also against floats and numeric strings;
* GUIDs: case-insensitive; booleans: only against booleans;
* dates and datetimes: as UTC instants; row values may be ISO strings, a date being midnight UTC.
"""

from __future__ import annotations

import math
import operator
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

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

Row = Mapping[str, object]
#: A compiled node: ``True``, ``False`` or ``None`` for UNKNOWN.
Tri = Callable[[Row], bool | None]
Getter = Callable[[Row], object]
Key = Callable[[object], object]
#: Compares two keys made by the same key function (so of mutually orderable types).
Comparator = Callable[[Any, Any], bool]


class _Incomparable:
    """Marker returned by a key function for a value of another type."""


INCOMPARABLE = _Incomparable()

_OPERATORS: dict[CompareOp, Comparator] = {
    CompareOp.EQ: operator.eq,
    CompareOp.NE: operator.ne,
    CompareOp.GT: operator.gt,
    CompareOp.GE: operator.ge,
    CompareOp.LT: operator.lt,
    CompareOp.LE: operator.le,
}


def compile_expr(expr: Expr) -> Tri:
    """A three-valued closure for ``expr`` (properties are assumed to exist)."""
    match expr:
        case And(operands=operands):
            return _all([compile_expr(e) for e in operands])
        case Or(operands=operands):
            return _any([compile_expr(e) for e in operands])
        case Not(operand=operand):
            return _negate(compile_expr(operand))
        case Compare():
            return _compare(expr)
        case StringMatch():
            return _string_match(expr)
        case Membership():
            return _membership(expr)
        case Property():
            get = getter(expr)
            return lambda row: _as_bool(get(row))
        case Literal(value=value):
            constant = _as_bool(value)
            return lambda row: constant


def getter(prop: Property) -> Getter:
    """Reads a property path from a row; a missing key or a non-mapping step reads as null."""
    if len(prop.path) == 1:
        name = prop.path[0]
        return lambda row: row.get(name)
    path = prop.path

    def walk(row: Row) -> object:
        current: object = row
        for segment in path:
            if not isinstance(current, Mapping):
                return None
            current = current.get(segment)
        return current

    return walk


# -- logic ------------------------------------------------------------------------------------------


def _all(parts: list[Tri]) -> Tri:
    def conjunction(row: Row) -> bool | None:
        result: bool | None = True
        for part in parts:
            value = part(row)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return conjunction


def _any(parts: list[Tri]) -> Tri:
    def disjunction(row: Row) -> bool | None:
        result: bool | None = False
        for part in parts:
            value = part(row)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return disjunction


def _negate(part: Tri) -> Tri:
    def negation(row: Row) -> bool | None:
        value = part(row)
        return None if value is None else not value

    return negation


def _as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


# -- comparisons ------------------------------------------------------------------------------------


def _compare(expr: Compare) -> Tri:
    op, left, right = expr.op, expr.left, expr.right
    if isinstance(left, Literal) and isinstance(right, Property):
        op, left, right = op.flipped(), right, left
    if isinstance(right, Literal) and right.value is None:
        return _null_test(op, left)
    if isinstance(left, Literal) and left.value is None:
        return _null_test(op.flipped(), right)
    if isinstance(left, Property) and isinstance(right, Literal):
        return _against_literal(_OPERATORS[op], getter(left), right.value)
    return _dynamic(_OPERATORS[op], _operand_getter(left), _operand_getter(right))


def _null_test(op: CompareOp, operand: Operand) -> Tri:
    """``x eq null`` / ``x ne null``; ordering against null is always UNKNOWN."""
    if op not in (CompareOp.EQ, CompareOp.NE):
        return lambda row: None
    want_null = op is CompareOp.EQ
    get = _operand_getter(operand)
    return lambda row: (get(row) is None) is want_null


def _against_literal(compare: Comparator, get: Getter, literal: object) -> Tri:
    key = comparison_key(literal)
    expected = key(literal)

    def comparison(row: Row) -> bool | None:
        value = get(row)
        if value is None:
            return None
        actual = key(value)
        if actual is INCOMPARABLE:
            return None
        return compare(actual, expected)

    return comparison


def _dynamic(compare: Comparator, left: Getter, right: Getter) -> Tri:
    """Two properties (or two literals): the right-hand value's type picks the comparison."""

    def comparison(row: Row) -> bool | None:
        a, b = left(row), right(row)
        if a is None or b is None:
            return None
        key = comparison_key(b)
        ka, kb = key(a), key(b)
        if ka is INCOMPARABLE or kb is INCOMPARABLE:
            return None
        return compare(ka, kb)

    return comparison


def _operand_getter(operand: Operand) -> Getter:
    if isinstance(operand, Property):
        return getter(operand)
    value = operand.value
    return lambda row: value


def comparison_key(value: object) -> Key:
    """The key function that makes row values comparable with ``value`` (by ``value``'s type)."""
    if isinstance(value, bool):
        return _bool_key
    if isinstance(value, int | Decimal | float):
        return number_key
    if isinstance(value, uuid.UUID):
        return _guid_key
    if isinstance(value, date):
        return datetime_key
    if isinstance(value, str):
        return _string_key
    return lambda _: INCOMPARABLE


def _bool_key(value: object) -> object:
    return value if isinstance(value, bool) else INCOMPARABLE


def number_key(value: object) -> object:
    """An exact number (``int`` or finite ``Decimal``) for numbers and numeric strings."""
    if isinstance(value, bool):
        return INCOMPARABLE
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else INCOMPARABLE
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return INCOMPARABLE
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return INCOMPARABLE


def _guid_key(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, uuid.UUID):
        return str(value)
    return INCOMPARABLE


def _string_key(value: object) -> object:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, uuid.UUID):
        return str(value)
    return INCOMPARABLE


def datetime_key(value: object) -> object:
    """A UTC ``datetime`` for datetimes, dates and ISO strings; naive values are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return INCOMPARABLE
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return INCOMPARABLE


# -- functions --------------------------------------------------------------------------------------

_STRING_TESTS: dict[StringFunction, Callable[[str, str], bool]] = {
    StringFunction.CONTAINS: lambda haystack, needle: needle in haystack,
    StringFunction.STARTSWITH: str.startswith,
    StringFunction.ENDSWITH: str.endswith,
}


def _string_match(expr: StringMatch) -> Tri:
    get, test, needle = getter(expr.property), _STRING_TESTS[expr.function], expr.text.casefold()

    def matches(row: Row) -> bool | None:
        value = get(row)
        return test(value.casefold(), needle) if isinstance(value, str) else None

    return matches


def _membership(expr: Membership) -> Tri:
    get, negated = getter(expr.property), expr.negated
    texts = frozenset(v.casefold() for v in expr.values)
    numbers = frozenset(n for n in map(number_key, expr.values) if n is not INCOMPARABLE)

    def member(row: Row) -> bool | None:
        value = get(row)
        if isinstance(value, bool):
            found = ("true" if value else "false") in texts
        elif isinstance(value, int | float | Decimal):
            found = number_key(value) in numbers
        elif isinstance(value, str | uuid.UUID):
            found = str(value).casefold() in texts
        else:
            return None
        return found is not negated

    return member
