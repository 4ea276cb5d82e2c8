"""Assembling a table from column groups: numbering, option-set names, relationship owners.

:func:`table` derives what a definition would otherwise repeat: the primary id and name attributes
(from the columns flagged as such), column numbers (1, 2, ... in declaration order), local option-set
names (``<table>_<attribute>``, as Dataverse names them), the referencing side of every relationship a
lookup brought, and the primary image (an ``ImageType`` column called ``entityimage``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict, Unpack

from dataverse_emulator.catalog.columns import Columns, group, labels
from dataverse_emulator.catalog.model import AttributeDef, OneToManyDef, TableDef


@dataclass(frozen=True)
class TablePart:
    """A table and the 1:N relationships its lookups reference."""

    table: TableDef
    relationships: tuple[OneToManyDef, ...]


class TableOptions(TypedDict, total=False):
    """Keyword options of :func:`table`; defaults are those of an ordinary tracked user-owned table."""

    de: str
    de_plural: str
    description: str
    change_tracking: bool
    can_change_tracking_be_enabled: bool
    is_intersect: bool
    is_activity: bool
    is_private: bool
    ownership: str
    is_valid_for_advanced_find: bool
    is_optimistic_concurrency_enabled: bool


def table(
    schema: str,
    entity_set: str,
    object_type_code: int,
    display: tuple[str, str],
    *parts: AttributeDef | Columns,
    **options: Unpack[TableOptions],
) -> TablePart:
    """Build one table; ``display`` is (singular, plural) in 1033."""
    logical = schema.lower()
    columns = group(*parts)
    attributes = tuple(
        _place(attribute, logical, number) for number, attribute in enumerate(columns.attributes, start=1)
    )
    relationships = tuple(r.model_copy(update={"referencing_entity": logical}) for r in columns.relationships)
    definition = TableDef(
        logical_name=logical,
        schema_name=schema,
        entity_set_name=entity_set,
        primary_id=_only(a.logical_name for a in attributes if a.is_primary_id),
        primary_name=next((a.logical_name for a in attributes if a.is_primary_name), None),
        object_type_code=object_type_code,
        display_name=labels(display[0], options.get("de")),
        display_collection_name=labels(display[1], options.get("de_plural")),
        description=labels(options.get("description", "")),
        change_tracking=options.get("change_tracking", True),
        can_change_tracking_be_enabled=options.get("can_change_tracking_be_enabled", True),
        is_intersect=options.get("is_intersect", False),
        is_custom=logical.startswith("new_"),
        is_activity=options.get("is_activity", False),
        is_private=options.get("is_private", False),
        ownership=options.get("ownership", "UserOwned"),
        primary_image="entityimage" if any(a.type_name == "ImageType" for a in attributes) else None,
        is_valid_for_advanced_find=options.get("is_valid_for_advanced_find", True),
        is_optimistic_concurrency_enabled=options.get("is_optimistic_concurrency_enabled", True),
        attributes=attributes,
    )
    return TablePart(definition, relationships)


def _place(attribute: AttributeDef, table: str, number: int) -> AttributeDef:
    update: dict[str, object] = {"column_number": number}
    if attribute.option_set is not None and not attribute.option_set.name:
        update["option_set"] = attribute.option_set.model_copy(update={"name": f"{table}_{attribute.logical_name}"})
    return attribute.model_copy(update=update)


def _only(names: Iterable[str]) -> str:
    found = list(names)
    if len(found) != 1:
        raise ValueError(f"a table needs exactly one primary id attribute, found {found}")
    return found[0]
