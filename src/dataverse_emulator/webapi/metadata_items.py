"""Catalog objects as navigable metadata :class:`~.metadata_query.Item` values.

An item pairs an object's JSON with its navigation properties: a table leads to its attributes,
relationship collections and keys; an option-set attribute leads to ``OptionSet`` and ``GlobalOptionSet``.
Navigations are followed lazily, only when a request expands them.
"""

from __future__ import annotations

from collections.abc import Iterable

from dataverse_emulator.catalog.model import (
    AttributeDef,
    AttributeType,
    Catalog,
    ManyToManyDef,
    OneToManyDef,
    OptionSetDef,
    OptionSetType,
    TableDef,
)
from dataverse_emulator.webapi.metadata_json import (
    attribute_json,
    entity_json,
    many_to_many_json,
    one_to_many_json,
    option_set_json,
)
from dataverse_emulator.webapi.metadata_query import Item, Target
from dataverse_emulator.webapi.metadata_types import (
    ATTRIBUTE,
    BOOLEAN_OPTION_SET,
    ENTITY_KEY,
    MANY_TO_MANY,
    ONE_TO_MANY,
    OPTION_SET,
    Shape,
)

RELATIONSHIP_NAVIGATIONS = ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships")


def entities(catalog: Catalog) -> tuple[Item, ...]:
    return tuple(entity(catalog, table) for table in catalog.tables)


def entity(catalog: Catalog, table: TableDef) -> Item:
    """A table; navigations: ``Attributes``, the three relationship collections, ``Keys`` (empty)."""

    def navigate(name: str) -> Target:
        logical = table.logical_name
        if name == "Attributes":
            return Target(ATTRIBUTE, tuple(attribute(catalog, table, a) for a in table.attributes))
        if name == "OneToManyRelationships":
            return _one_to_many(r for r in catalog.one_to_many if r.referenced_entity == logical)
        if name == "ManyToOneRelationships":
            return _one_to_many(r for r in catalog.one_to_many if r.referencing_entity == logical)
        if name == "ManyToManyRelationships":
            found = (r for r in catalog.many_to_many if logical in (r.entity1, r.entity2))
            return Target(MANY_TO_MANY, tuple(_many_to_many(r) for r in found))
        return Target(ENTITY_KEY, ())

    return Item(entity_json(table), navigate)


def attribute(catalog: Catalog, table: TableDef, definition: AttributeDef) -> Item:
    """An attribute; ``OptionSet`` shows its set (global or local), ``GlobalOptionSet`` a global one."""
    chosen = catalog.option_set_of(definition)

    def navigate(name: str) -> Target:
        if chosen is None or (name == "GlobalOptionSet" and not chosen.is_global):
            shape = BOOLEAN_OPTION_SET if definition.type is AttributeType.BOOLEAN else OPTION_SET
            return Target(shape, (), single=True)
        typed = name == "GlobalOptionSet"
        return Target(option_set_shape(chosen), (option_set(chosen, typed=typed),), single=True)

    return Item(attribute_json(table, definition), navigate)


def option_set(definition: OptionSetDef, *, typed: bool) -> Item:
    """An option set; ``typed`` adds ``@odata.type`` (global sets and the ``GlobalOptionSet`` navigation)."""
    return Item(option_set_json(definition, typed=typed))


def option_set_shape(definition: OptionSetDef) -> Shape:
    return BOOLEAN_OPTION_SET if definition.type is OptionSetType.BOOLEAN else OPTION_SET


def relationships(catalog: Catalog, shape: Shape) -> tuple[Item, ...]:
    """Every relationship of the catalog that is of ``shape`` (both kinds for the base shape)."""
    found: list[Item] = []
    if shape is not MANY_TO_MANY:
        found += [Item(one_to_many_json(r)) for r in catalog.one_to_many]
    if shape is not ONE_TO_MANY:
        found += [_many_to_many(r) for r in catalog.many_to_many]
    return tuple(found)


def _one_to_many(found: Iterable[OneToManyDef]) -> Target:
    return Target(ONE_TO_MANY, tuple(Item(one_to_many_json(r)) for r in found))


def _many_to_many(relationship: ManyToManyDef) -> Item:
    return Item(many_to_many_json(relationship))
