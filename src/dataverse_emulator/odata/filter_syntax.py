"""The abstract syntax of the emulator's ``$filter`` subset (spec §2.2).

Every node is a frozen dataclass, so an expression can be compared, hashed and reused across
requests. ``and``/``or`` chains are flattened into n-ary nodes: a generated filter with a thousand
``or`` clauses stays one level deep, and compiling it never recurses a thousand times.

Literal values carry their OData type in their Python type:

==========================  =======================================================
``'text'``                  ``str`` (``''`` already unescaped)
``42``                      ``int``
``1.5``, ``1e3``            ``Decimal``
``true``/``false``          ``bool``
``null``                    ``None``
``9d2b4f6e-…``              ``uuid.UUID``
``2024-01-01T00:00:00Z``    ``datetime`` (timezone-aware; no offset means UTC)
``2024-01-01``              ``date``
``Ns.Type'Member'``         ``str`` with :attr:`Literal.enum_type` set to ``Ns.Type``
==========================  =======================================================
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

LiteralValue = str | int | Decimal | bool | uuid.UUID | datetime | date | None


class CompareOp(StrEnum):
    """The six comparison operators, named as they are written in ``$filter``."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"

    def flipped(self) -> CompareOp:
        """The operator that gives the same answer with its operands swapped (``gt`` → ``lt``)."""
        return _FLIPPED.get(self, self)


_FLIPPED = {
    CompareOp.GT: CompareOp.LT,
    CompareOp.LT: CompareOp.GT,
    CompareOp.GE: CompareOp.LE,
    CompareOp.LE: CompareOp.GE,
}


class StringFunction(StrEnum):
    """The supported canonical string functions; all are case-insensitive in Dataverse."""

    CONTAINS = "contains"
    STARTSWITH = "startswith"
    ENDSWITH = "endswith"


@dataclass(frozen=True)
class Property:
    """A property path such as ``name`` or ``CanChangeTrackingBeEnabled/Value`` (one segment each)."""

    path: tuple[str, ...]

    @property
    def text(self) -> str:
        """The path as written in the filter (``a/b``)."""
        return "/".join(self.path)


@dataclass(frozen=True)
class Literal:
    """A constant; see the module docstring for how each OData literal maps to ``value``."""

    value: LiteralValue
    enum_type: str | None = None


Operand = Property | Literal


@dataclass(frozen=True)
class Compare:
    """``left op right``; at least one side is usually a property."""

    op: CompareOp
    left: Operand
    right: Operand


@dataclass(frozen=True)
class StringMatch:
    """``contains(prop,'text')``, ``startswith(…)`` or ``endswith(…)``."""

    function: StringFunction
    property: Property
    text: str


@dataclass(frozen=True)
class Membership:
    """``Microsoft.Dynamics.CRM.In(…)`` (``negated=False``) or ``…NotIn(…)`` (``negated=True``)."""

    property: Property
    values: tuple[str, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """``a and b and …``: two or more operands, in source order."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """``a or b or …``: two or more operands, in source order."""

    operands: tuple[Expr, ...]


#: A boolean expression. A bare :class:`Property` is a boolean property used as a condition
#: (``IsCustomEntity``); a bare :class:`Literal` is ``true`` or ``false``.
Expr = And | Or | Not | Compare | StringMatch | Membership | Property | Literal


def property_paths(expr: Expr) -> tuple[Property, ...]:
    """Every property the expression reads, in source order (duplicates kept)."""
    match expr:
        case And(operands=operands) | Or(operands=operands):
            return tuple(p for operand in operands for p in property_paths(operand))
        case Not(operand=operand):
            return property_paths(operand)
        case Compare(left=left, right=right):
            return tuple(side for side in (left, right) if isinstance(side, Property))
        case StringMatch(property=prop) | Membership(property=prop):
            return (prop,)
        case Property():
            return (expr,)
        case Literal():
            return ()
