"""``$filter``: parse the spec §2.2 subset into an AST and compile it into a row predicate.

Typical use by a handler::

    expr = parse_filter(options.filter, options.aliases)
    keep = compile_filter(expr, has_property=table.has_column, type_name=table.odata_type)
    rows = [row for row in rows if keep(row)]

The pieces live in sibling modules: :mod:`~dataverse_emulator.odata.filter_lexer` (tokens),
:mod:`~dataverse_emulator.odata.filter_parser` (grammar and the list of what is refused),
:mod:`~dataverse_emulator.odata.filter_syntax` (the AST) and
:mod:`~dataverse_emulator.odata.filter_predicate` (evaluation semantics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dataverse_emulator.errors import unknown_property
from dataverse_emulator.odata.filter_parser import parse_expression
from dataverse_emulator.odata.filter_predicate import compile_expr
from dataverse_emulator.odata.filter_syntax import (
    And,
    Compare,
    CompareOp,
    Expr,
    Literal,
    LiteralValue,
    Membership,
    Not,
    Operand,
    Or,
    Property,
    StringFunction,
    StringMatch,
    property_paths,
)

__all__ = [
    "And",
    "Compare",
    "CompareOp",
    "Expr",
    "Literal",
    "LiteralValue",
    "Membership",
    "Not",
    "Operand",
    "Or",
    "Property",
    "StringFunction",
    "StringMatch",
    "compile_filter",
    "parse_filter",
    "properties",
]


def parse_filter(text: str, aliases: Mapping[str, str] | None = None) -> Expr:
    """Parse a decoded ``$filter`` value.

    Args:
        text: the expression, already percent-decoded.
        aliases: parameter aliases keyed with their ``@`` (``{"@p1": "'abc'"}``); each value used in
            the filter must itself be one literal (``'abc'``, ``5``, ``null``) or, for ``PropertyValues``,
            a bracketed list.

    Returns:
        The expression tree (frozen dataclasses; ``and``/``or`` chains flattened).

    Raises:
        WebApiError: 400 ``0x0`` for a syntax error, an undefined alias, or any construct outside the
            subset (the message names it: ``The $filter function 'tolower' is not supported.``). No
            other exception escapes, whatever the input.
    """
    return parse_expression(text, aliases or {})


def properties(expr: Expr) -> frozenset[str]:
    """The property paths ``expr`` reads, as written (``name``, ``CanChangeTrackingBeEnabled/Value``)."""
    return frozenset(prop.text for prop in property_paths(expr))


def compile_filter(
    expr: Expr, *, has_property: Callable[[str], bool], type_name: str
) -> Callable[[Mapping[str, object]], bool]:
    """Check the properties of ``expr`` and compile it into a row predicate.

    Args:
        expr: a parsed expression.
        has_property: whether the target type has a property of this name (the first path segment).
        type_name: the type named in the error, e.g. ``Microsoft.Dynamics.CRM.account``.

    Returns:
        A pure function of a row mapping (nested mappings for ``a/b`` paths) that is ``True`` only when
        the filter holds; nulls and incomparable values follow SQL (see
        :mod:`~dataverse_emulator.odata.filter_predicate`). It never raises.

    Raises:
        WebApiError: ``unknown_property`` (400 ``0x0``) for the first unknown property in source order.
    """
    for prop in property_paths(expr):
        if not has_property(prop.path[0]):
            raise unknown_property(prop.path[0], type_name)
    predicate = compile_expr(expr)
    return lambda row: predicate(row) is True
