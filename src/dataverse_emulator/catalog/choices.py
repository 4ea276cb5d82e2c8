"""Builders for option-set columns: Boolean, Picklist, MultiSelectPicklist, State and Status.

Local option sets are created nameless; :func:`dataverse_emulator.catalog.tables.table` names them
``<table>_<attribute>`` as Dataverse does. Every option-set column is usually followed by its Virtual
``<x>name`` label helper (:func:`named`), which is metadata only and never a row property.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Unpack

from dataverse_emulator.catalog.columns import Columns, Common, attribute, labels
from dataverse_emulator.catalog.model import AttributeDef, AttributeType, OptionDef, OptionSetDef, OptionSetType


def option(value: int, en: str, de: str | None = None, **extra: int | str) -> OptionDef:
    """One option; ``extra`` carries ``state``, ``default_status`` or ``invariant_name``."""
    return OptionDef.model_validate({"value": value, "labels": labels(en, de), **extra})


def boolean(
    schema: str, display: str, true: str, false: str, *, default: bool = False, **common: Unpack[Common]
) -> AttributeDef:
    """A Boolean column with its local two-option set (name filled in by the table)."""
    option_set = OptionSetDef(
        name="",
        type=OptionSetType.BOOLEAN,
        true_option=option(1, true),
        false_option=option(0, false),
    )
    return attribute(
        schema,
        AttributeType.BOOLEAN,
        "BooleanType",
        display,
        common,
        option_set=option_set,
        default_value=default,
    )


def picklist(
    schema: str,
    display: str,
    options: Iterable[OptionDef] = (),
    *,
    global_set: str | None = None,
    default: int = -1,
    **common: Unpack[Common],
) -> AttributeDef:
    """A Picklist on a local set (``options``) or on the global set named ``global_set``."""
    local = None if global_set else OptionSetDef(name="", is_custom=schema.startswith("new_"), options=tuple(options))
    return attribute(
        schema,
        AttributeType.PICKLIST,
        "PicklistType",
        display,
        common,
        option_set=local,
        global_option_set=global_set,
        default_value=default,
    )


def multiselect(
    schema: str,
    display: str,
    options: Iterable[OptionDef] = (),
    *,
    global_set: str | None = None,
    **common: Unpack[Common],
) -> AttributeDef:
    """A MultiSelectPicklist: AttributeType ``Virtual``, AttributeTypeName ``MultiSelectPicklistType``."""
    local = None if global_set else OptionSetDef(name="", is_custom=schema.startswith("new_"), options=tuple(options))
    return attribute(
        schema,
        AttributeType.VIRTUAL,
        "MultiSelectPicklistType",
        display,
        common,
        option_set=local,
        global_option_set=global_set,
    )


def state_status(states: Iterable[OptionDef], statuses: Iterable[OptionDef]) -> Columns:
    """``statecode``/``statuscode`` with their label helpers ``statecodename``/``statuscodename``."""
    state_column = attribute(
        "StateCode",
        AttributeType.STATE,
        "StateType",
        "Status",
        {"de": "Status", "create": False},
        option_set=OptionSetDef(name="", type=OptionSetType.STATE, options=tuple(states)),
    )
    status_column = attribute(
        "StatusCode",
        AttributeType.STATUS,
        "StatusType",
        "Status Reason",
        {"de": "Statusgrund"},
        option_set=OptionSetDef(name="", type=OptionSetType.STATUS, options=tuple(statuses)),
    )
    helpers = (label_helper(state_column), label_helper(status_column))
    return Columns((state_column, status_column, *helpers))


def label_helper(of: AttributeDef) -> AttributeDef:
    """The Virtual ``<x>name`` column Dataverse adds for option-set attributes (never a row property)."""
    return attribute(
        f"{of.schema_name}Name",
        AttributeType.VIRTUAL,
        "VirtualType",
        "",
        {"attribute_of": of.logical_name, "create": False, "update": False},
    )


def named(column: AttributeDef) -> Columns:
    """An option-set attribute followed by its Virtual ``<x>name`` label helper."""
    return Columns((column, label_helper(column)))


def state(value: int, label: str, default_status: int, de: str | None = None) -> OptionDef:
    """A ``statecode`` option; its invariant name is the English label without spaces."""
    return option(value, label, de, default_status=default_status, invariant_name=label.replace(" ", ""))


def status(value: int, label: str, of_state: int, de: str | None = None) -> OptionDef:
    """A ``statuscode`` option belonging to state ``of_state``."""
    return option(value, label, de, state=of_state)


def active_inactive() -> Columns:
    """The usual two-state pair: Active (status 1) and Inactive (status 2)."""
    return state_status(
        [state(0, "Active", 1, "Aktiv"), state(1, "Inactive", 2, "Inaktiv")],
        [status(1, "Active", 0, "Aktiv"), status(2, "Inactive", 1, "Inaktiv")],
    )
