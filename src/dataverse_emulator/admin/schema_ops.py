"""Admin schema changes (spec §9.3 ``POST /_emulator/orgs/<name>/schema``).

Each op computes a new catalog (:func:`plan_change`, pure) and :func:`apply_change` stores it through
``OrgStore.replace_catalog``, which bumps the metadata version and records the touched
``(table, attribute, deleted)`` for ``RetrieveMetadataChanges``. Stored values follow the schema:
a removed column's values are cleared and a retyped column's values are converted (or cleared when
they do not convert), both without new row versions; a removed table loses its rows and tombstones.
Enabling tracking on a tracked table changes nothing and bumps nothing. Disabling tracking is not an
op: only the ``disable_tracking`` fault does it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from dataverse_emulator.admin.conversions import converter_for
from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, TableDef
from dataverse_emulator.storage import OrgStore, StoredValue

OPS = ("add_attribute", "remove_attribute", "add_table", "remove_table", "widen", "retype", "enable_tracking")
_FIELDS = ("op", "table", "attribute", "definition", "max_length", "type", "type_name", "expire_tokens")
_STRINGS = (AttributeType.STRING, AttributeType.MEMO)

Change = tuple[str, str | None, bool]
_Model = TypeVar("_Model", AttributeDef, TableDef)


@dataclass(frozen=True)
class SchemaChange:
    """A planned change: the new catalog, what it touches, and what stored data must follow."""

    catalog: Catalog
    changes: list[Change]
    rewrites: list[tuple[str, str, Callable[[StoredValue], StoredValue]]] = field(default_factory=list)
    dropped_table: str | None = None


def with_table(catalog: Catalog, table: TableDef) -> Catalog:
    """``catalog`` with the table of the same logical name replaced by ``table``."""
    tables = tuple(table if t.logical_name == table.logical_name else t for t in catalog.tables)
    return catalog.model_copy(update={"tables": tables})


def apply_change(store: OrgStore, fields: Fields) -> dict[str, object]:
    """Apply one op to ``store``; returns ``{"op", "table", "attribute", "changed", "metadata_version",
    "rows_rewritten", "expired_tokens"}``.

    Raises:
        AdminRequestError: unknown op, table or attribute, or an invalid definition.
    """
    fields.reject_unknown(_FIELDS)
    op = fields.choice("op", OPS, "")
    table_name = fields.required_text("table")
    plan = plan_change(store.catalog, op, table_name, fields)
    rewritten = 0
    if plan is not None:
        store.replace_catalog(plan.catalog, plan.changes)
        for table, attribute, convert in plan.rewrites:
            rewritten += store.rewrite_column(table, attribute, convert)
        if plan.dropped_table:
            store.drop_table_rows(plan.dropped_table)
    expire = fields.boolean("expire_tokens", False)
    if expire:
        store.expire_tokens(table_name)
    return {
        "op": op,
        "table": table_name,
        "attribute": fields.text("attribute"),
        "changed": plan is not None,
        "metadata_version": store.metadata_version,
        "rows_rewritten": rewritten,
        "expired_tokens": expire,
    }


def plan_change(catalog: Catalog, op: str, table_name: str, fields: Fields) -> SchemaChange | None:
    """The change ``op`` makes to ``catalog`` (``None``: nothing to change)."""
    if op == "add_table":
        return _add_table(catalog, table_name, fields)
    table = catalog.table(table_name)
    if table is None:
        raise AdminRequestError(f"'table': no table {table_name!r} in this organization (use logical names)")
    if op == "remove_table":
        return _remove_table(catalog, table)
    if op == "enable_tracking":
        return _enable_tracking(catalog, table)
    if op == "add_attribute":
        return _add_attribute(catalog, table, fields)
    attribute = table.attribute(fields.required_text("attribute"))
    if attribute is None:
        raise AdminRequestError(f"'attribute': {table_name!r} has no attribute {fields.text('attribute')!r}")
    if op == "remove_attribute":
        return _remove_attribute(catalog, table, attribute)
    if op == "widen":
        return _widen(catalog, table, attribute, fields)
    return _retype(catalog, table, attribute, fields)


def _definition(fields: Fields, model: type[_Model]) -> _Model:
    raw = fields.values.get("definition")
    if not isinstance(raw, dict):
        raise AdminRequestError(f"'definition' is required: a {model.__name__} JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise AdminRequestError(f"'definition' is not a valid {model.__name__}: {where}: {problem['msg']}") from error


def _add_table(catalog: Catalog, table_name: str, fields: Fields) -> SchemaChange:
    table = _definition(fields, TableDef)
    if table.logical_name != table_name:
        raise AdminRequestError(f"'table' ({table_name!r}) must equal definition.logical_name")
    if catalog.table(table.logical_name) or catalog.table_by_set(table.entity_set_name):
        raise AdminRequestError(f"a table named {table.logical_name!r} or set {table.entity_set_name!r} exists")
    if table.attribute(table.primary_id) is None:
        raise AdminRequestError(f"'definition' has no attribute for its primary_id {table.primary_id!r}")
    return SchemaChange(
        catalog.model_copy(update={"tables": (*catalog.tables, table)}), [(table.logical_name, None, False)]
    )


def _remove_table(catalog: Catalog, table: TableDef) -> SchemaChange:
    name = table.logical_name
    updated = catalog.model_copy(
        update={
            "tables": tuple(t for t in catalog.tables if t.logical_name != name),
            "one_to_many": tuple(
                r for r in catalog.one_to_many if name not in (r.referenced_entity, r.referencing_entity)
            ),
            "many_to_many": tuple(
                r for r in catalog.many_to_many if name not in (r.entity1, r.entity2, r.intersect_entity)
            ),
        }
    )
    return SchemaChange(updated, [(name, None, True)], dropped_table=name)


def _enable_tracking(catalog: Catalog, table: TableDef) -> SchemaChange | None:
    if table.change_tracking:
        return None
    if not table.can_change_tracking_be_enabled:
        raise AdminRequestError(f"change tracking cannot be enabled for {table.logical_name!r}")
    updated = with_table(catalog, table.model_copy(update={"change_tracking": True}))
    return SchemaChange(updated, [(table.logical_name, None, False)])


def _add_attribute(catalog: Catalog, table: TableDef, fields: Fields) -> SchemaChange:
    attribute = _definition(fields, AttributeDef)
    if table.attribute(attribute.logical_name) is not None:
        raise AdminRequestError(f"{table.logical_name!r} already has an attribute {attribute.logical_name!r}")
    updated = with_table(catalog, table.model_copy(update={"attributes": (*table.attributes, attribute)}))
    return SchemaChange(updated, [(table.logical_name, attribute.logical_name, False)])


def _remove_attribute(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> SchemaChange:
    if attribute.is_primary_id:
        raise AdminRequestError(f"'attribute': the primary key {attribute.logical_name!r} cannot be removed")
    name = attribute.logical_name
    removed = {name} | {a.logical_name for a in table.attributes if a.attribute_of == name}
    kept = tuple(a for a in table.attributes if a.logical_name not in removed)
    updated = with_table(catalog, table.model_copy(update={"attributes": kept})).model_copy(
        update={
            "one_to_many": tuple(
                r
                for r in catalog.one_to_many
                if not (r.referencing_entity == table.logical_name and r.referencing_attribute in removed)
            )
        }
    )
    return SchemaChange(
        updated,
        [(table.logical_name, gone, True) for gone in sorted(removed)],
        [(table.logical_name, gone, _cleared) for gone in sorted(removed)],
    )


def _cleared(value: StoredValue) -> StoredValue:
    return None


def _widen(catalog: Catalog, table: TableDef, attribute: AttributeDef, fields: Fields) -> SchemaChange:
    if attribute.type not in _STRINGS:
        raise AdminRequestError(f"'attribute': widen applies to String and Memo, not {attribute.type}")
    size = fields.integer("max_length", 0, minimum=1)
    if size <= (attribute.max_length or 0):
        raise AdminRequestError(f"'max_length' must exceed the current {attribute.max_length}")
    return _replace_attribute(catalog, table, attribute.model_copy(update={"max_length": size}))


def _retype(catalog: Catalog, table: TableDef, attribute: AttributeDef, fields: Fields) -> SchemaChange:
    if attribute.is_primary_id:
        raise AdminRequestError("'attribute': the primary key cannot be retyped")
    kind = fields.choice("type", [t.value for t in AttributeType], "")
    new_type = AttributeType(kind)
    changes: dict[str, object] = {"type": new_type, "type_name": fields.text("type_name") or f"{kind}Type"}
    if new_type in _STRINGS:
        changes["max_length"] = fields.optional_integer("max_length", minimum=1) or attribute.max_length or 4000
    else:
        changes["max_length"] = None
    if new_type in (AttributeType.DECIMAL, AttributeType.MONEY, AttributeType.DOUBLE):
        changes["precision"] = attribute.precision if attribute.precision is not None else 2
    retyped = attribute.model_copy(update=changes)
    plan = _replace_attribute(catalog, table, retyped)
    plan.rewrites.append((table.logical_name, attribute.logical_name, converter_for(retyped)))
    return plan


def _replace_attribute(catalog: Catalog, table: TableDef, attribute: AttributeDef) -> SchemaChange:
    attributes = tuple(attribute if a.logical_name == attribute.logical_name else a for a in table.attributes)
    updated = with_table(catalog, table.model_copy(update={"attributes": attributes}))
    return SchemaChange(updated, [(table.logical_name, attribute.logical_name, False)])
