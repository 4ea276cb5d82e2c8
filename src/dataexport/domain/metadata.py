"""Content of the DES metadata tables for one entity (DES §6.5), as frozen rows.

The destination decides how the rows are stored (replace per entity, AttributeMetadata in place); this
module decides what they are: label rows per language plus one for the user-localized label, one
TargetMetadata row per lookup target, one AttributeMetadata row per exported attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dataexport.domain.columns import effective_precision, exported_attributes, is_intersect_key
from dataexport.domain.schema import Attribute, AttributeKind, EntitySchema, Labels, OptionSet

_PRECISION_KINDS = frozenset({AttributeKind.DECIMAL, AttributeKind.DOUBLE, AttributeKind.MONEY})
_OPTION_SET_TABLE_KINDS = frozenset({AttributeKind.PICKLIST, AttributeKind.MULTI_SELECT_PICKLIST})


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One label of one option: ``option_set`` is the attribute (or global set) name, ``state`` the parent
    state of a status option (StatusMetadata)."""

    option_set: str
    option: int
    is_user_localized: bool
    language_code: int
    label: str | None
    state: int | None = None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One target of one lookup; ``referenced_attribute`` is the target's primary id when known."""

    attribute: str
    referenced_entity: str
    referenced_attribute: str | None


@dataclass(frozen=True, slots=True)
class AttributeRow:
    """One exported attribute; ``attribute_type`` is ``AttributeTypeName`` without ``Type``."""

    attribute: str
    attribute_type: str
    attribute_type_code: int
    metadata_id: str | None
    precision: int | None


@dataclass(frozen=True, slots=True)
class EntityMetadataRows:
    """Every metadata row of one entity; global option sets are listed by name with their rows."""

    entity: str
    option_sets: tuple[LabelRow, ...]
    global_option_sets: Mapping[str, tuple[LabelRow, ...]]
    states: tuple[LabelRow, ...]
    statuses: tuple[LabelRow, ...]
    targets: tuple[TargetRow, ...]
    attributes: tuple[AttributeRow, ...]


def label_rows(option_set: str, option: int, labels: Labels, state: int | None = None) -> tuple[LabelRow, ...]:
    """A row per localized label (first one per language wins) plus one for the user-localized label."""
    rows: dict[tuple[bool, int], LabelRow] = {}
    for label in labels.localized:
        key = (False, label.language_code)
        rows.setdefault(key, LabelRow(option_set, option, False, label.language_code, label.text, state))
    user = labels.user_localized
    if user is not None:
        rows[(True, user.language_code)] = LabelRow(option_set, option, True, user.language_code, user.text, state)
    return tuple(rows.values())


def option_set_rows(name: str, option_set: OptionSet | None) -> tuple[LabelRow, ...]:
    """The label rows of every option of ``option_set``, under ``name``."""
    if option_set is None:
        return ()
    options = option_set.options
    return tuple(row for option in options for row in label_rows(name, option.value, option.labels))


def entity_metadata_rows(
    schema: EntitySchema,
    global_option_sets: Mapping[str, OptionSet] = MappingProxyType({}),
    target_primary_ids: Mapping[str, str] = MappingProxyType({}),
) -> EntityMetadataRows:
    """The metadata rows of ``schema``'s exported attributes.

    Args:
        schema: the entity.
        global_option_sets: global option sets by name; an attribute's own ``option_set`` is used for a
            global set missing here.
        target_primary_ids: primary id attribute of lookup target entities (``contact`` -> ``contactid``).
    """
    attributes = exported_attributes(schema)
    return EntityMetadataRows(
        entity=schema.logical_name,
        option_sets=_option_set_table(attributes),
        global_option_sets=_global_option_sets(attributes, global_option_sets),
        states=_status_like(attributes, AttributeKind.STATE),
        statuses=_status_like(attributes, AttributeKind.STATUS),
        targets=_targets(schema, attributes, target_primary_ids),
        attributes=tuple(attribute_row(attribute) for attribute in attributes),
    )


def attribute_row(attribute: Attribute) -> AttributeRow:
    """The AttributeMetadata content of one attribute."""
    precision = effective_precision(attribute) if attribute.kind in _PRECISION_KINDS else None
    return AttributeRow(
        attribute.logical_name, attribute.kind.value, attribute.type_code, attribute.metadata_id, precision
    )


def _option_set_table(attributes: tuple[Attribute, ...]) -> tuple[LabelRow, ...]:
    chosen = (a for a in attributes if a.kind in _OPTION_SET_TABLE_KINDS)
    return tuple(row for a in chosen for row in option_set_rows(a.logical_name, a.option_set))


def _global_option_sets(
    attributes: tuple[Attribute, ...], known: Mapping[str, OptionSet]
) -> Mapping[str, tuple[LabelRow, ...]]:
    sets: dict[str, tuple[LabelRow, ...]] = {}
    for attribute in attributes:
        name = attribute.global_option_set
        if name and name not in sets:
            sets[name] = option_set_rows(name, known.get(name, attribute.option_set))
    return MappingProxyType(sets)


def _status_like(attributes: tuple[Attribute, ...], kind: AttributeKind) -> tuple[LabelRow, ...]:
    rows: list[LabelRow] = []
    for attribute in (a for a in attributes if a.kind is kind):
        options = attribute.option_set.options if attribute.option_set else ()
        for option in options:
            rows.extend(label_rows(attribute.logical_name, option.value, option.labels, option.state))
    return tuple(rows)


def _targets(
    schema: EntitySchema, attributes: tuple[Attribute, ...], primary_ids: Mapping[str, str]
) -> tuple[TargetRow, ...]:
    lookups = (a for a in attributes if a.kind.is_lookup and not is_intersect_key(schema, a))
    return tuple(
        TargetRow(lookup.logical_name, target, primary_ids.get(target))
        for lookup in lookups
        for target in dict.fromkeys(lookup.targets)
    )
