"""Row writes: create, upsert/update, delete, single-column writes (spec §5.1-5.3).

Each handler runs in one :meth:`OrgStore.write` transaction, so every written row takes one version
and a failed request changes nothing. Server-managed columns (``createdon``, ``modifiedon``,
``versionnumber``, ``_base`` money twins, ``fullname``) are computed here; values sent for read-only
columns are ignored, as Dataverse does.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

import orjson

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, TableDef
from dataverse_emulator.errors import WebApiError, bad_request, record_not_found
from dataverse_emulator.storage import RowExists, RowMissing, StoredRow, StoredValue, WriteTransaction
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.rows import RowRenderer, resolve_select
from dataverse_emulator.webapi.values import parse_guid, to_storage

_BIND = "@odata.bind"
_REF = re.compile(r"(?:^|/)(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<id>[0-9A-Fa-f-]{36})\)$")
_SERVER_COLUMNS = frozenset({"createdon", "modifiedon", "versionnumber", "createdby", "modifiedby"})
DUPLICATE = WebApiError(412, "0x80040237", "A record with matching key values already exists.")


def parse_body(request: ApiRequest) -> dict[str, object]:
    """The JSON object of a write request; anything else is a 400."""
    try:
        body = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError as error:
        raise bad_request(f"Error parsing the request body: {error}") from error
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def resolve_reference(request: ApiRequest, reference: object) -> tuple[TableDef, str]:
    """``/contacts(<id>)``, ``contacts(<id>)`` or an absolute URL → (table, id)."""
    match = _REF.search(str(reference).split("?")[0]) if isinstance(reference, str) else None
    if match is None:
        raise bad_request(f"The entity reference '{reference}' is not valid.")
    table = request.store.catalog.table_by_set(match["set"])
    if table is None:
        raise WebApiError(404, "0x0", f"Resource not found for the segment '{match['set']}'.")
    return table, match["id"].lower()


def _lookup_for_navigation(catalog: Catalog, table: TableDef, navigation: str) -> AttributeDef | None:
    for rel in catalog.one_to_many:
        if rel.referencing_entity == table.logical_name and rel.referencing_navigation == navigation:
            return table.attribute(rel.referencing_attribute)
    attribute = table.attribute(navigation)
    return attribute if attribute is not None and attribute.is_lookup else None


def _lookup_value(
    request: ApiRequest, tx: WriteTransaction, table: TableDef, attribute: AttributeDef, reference: object
) -> list[str] | None:
    if reference is None:
        return None
    target, record_id = resolve_reference(request, reference)
    if attribute.targets and target.logical_name not in attribute.targets:
        raise bad_request(
            f"'{target.logical_name}' is not a valid target of '{attribute.logical_name}' on '{table.logical_name}'."
        )
    if tx.get(target.logical_name, record_id) is None:
        raise record_not_found(target.logical_name, record_id)
    return [target.logical_name, record_id]


def _lookup_by_id(tx: WriteTransaction, table: TableDef, attribute: AttributeDef, value: object) -> list[str] | None:
    if value is None:
        return None
    record_id = parse_guid(value)
    if record_id is None:
        raise bad_request(f"'{value}' is not a valid GUID for '_{attribute.logical_name}_value'.")
    for target in attribute.targets:
        if tx.get(target, record_id) is not None:
            return [target, record_id]
    raise record_not_found(attribute.targets[0] if attribute.targets else table.logical_name, record_id)


def changes_from_body(
    request: ApiRequest, tx: WriteTransaction, table: TableDef, body: dict[str, object], *, creating: bool
) -> dict[str, StoredValue]:
    """Validated storage-form changes for a write body."""
    catalog = request.store.catalog
    changes: dict[str, StoredValue] = {}
    for key, value in body.items():
        if key.startswith("@odata.") or ("@" in key and not key.endswith(_BIND)):
            continue
        if key.endswith(_BIND):
            attribute = _lookup_for_navigation(catalog, table, key[: -len(_BIND)])
            if attribute is None:
                raise bad_request(
                    f"An undeclared property '{key[: -len(_BIND)]}' which only has property "
                    "annotations in the payload but no property value was found in the payload."
                )
            changes[attribute.logical_name] = _lookup_value(request, tx, table, attribute, value)
            continue
        if key.startswith("_") and key.endswith("_value"):
            attribute = table.attribute(key[1:-6])
            if attribute is None or not attribute.is_lookup:
                raise _undeclared(table, key)
            changes[attribute.logical_name] = _lookup_by_id(tx, table, attribute, value)
            continue
        attribute = table.attribute(key)
        if attribute is None or attribute.is_lookup or attribute.attribute_of is not None:
            raise _undeclared(table, key)
        if (
            key in _SERVER_COLUMNS
            or (creating and not attribute.is_valid_for_create)
            or (not creating and not attribute.is_valid_for_update and not attribute.is_primary_id)
        ):
            continue
        changes[key] = to_storage(catalog, table, attribute, value)
    return changes


def _undeclared(table: TableDef, key: str) -> WebApiError:
    return bad_request(
        f"The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical_name}'. "
        "Make sure to only use property names that are defined by the type or mark the type as open type."
    )


def _computed(
    request: ApiRequest, table: TableDef, data: dict[str, StoredValue], changes: dict[str, StoredValue]
) -> None:
    """Derive ``_base`` money twins and ``fullname`` the way Dataverse does, into ``changes``."""
    merged = {**data, **changes}
    rate = Decimal(str(merged.get("exchangerate") or "1"))
    for attribute in table.attributes:
        if attribute.type is AttributeType.MONEY and attribute.logical_name.endswith("_base"):
            source = attribute.logical_name[: -len("_base")]
            if source in changes:
                changes[attribute.logical_name] = _base_amount(changes[source], rate, attribute.precision)
    if table.attribute("fullname") and ("firstname" in changes or "lastname" in changes):
        parts = [str(merged[p]) for p in ("firstname", "lastname") if merged.get(p)]
        changes["fullname"] = " ".join(parts) or None


def _base_amount(value: StoredValue, rate: Decimal, precision: int | None) -> str | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) / (rate or Decimal(1))
    except InvalidOperation:
        return None
    return str(amount.quantize(Decimal(1).scaleb(-(precision if precision is not None else 4))))


def _defaults(request: ApiRequest, table: TableDef) -> dict[str, StoredValue]:
    """Values Dataverse sets on create: state, status, owner, creator."""
    caller = ["systemuser", request.caller.systemuserid]
    defaults: dict[str, StoredValue] = {}
    if table.attribute("statecode"):
        defaults["statecode"] = 0
    status = table.attribute("statuscode")
    option_set = request.store.catalog.option_set_of(status) if status else None
    if option_set and option_set.options:
        defaults["statuscode"] = next(
            (o.value for o in option_set.options if o.state == 0), option_set.options[0].value
        )
    for lookup in ("ownerid", "createdby", "modifiedby", "owninguser"):
        if table.attribute(lookup):
            defaults[lookup] = caller
    business_unit = request.caller.business_unit_id
    if table.attribute("owningbusinessunit") and business_unit:
        defaults["owningbusinessunit"] = ["businessunit", business_unit]
    return defaults


def create_row(request: ApiRequest, tx: WriteTransaction, table: TableDef, body: dict[str, object]) -> StoredRow:
    """Create from a body (the primary key may be supplied; a duplicate is 412)."""
    supplied = body.get(table.primary_id)
    record_id = parse_guid(supplied) if supplied is not None else str(uuid.uuid4())
    if record_id is None:
        raise bad_request(f"'{supplied}' is not a valid value for '{table.primary_id}'.")
    changes = changes_from_body(request, tx, table, body, creating=True)
    data = {**_defaults(request, table), **changes, table.primary_id: record_id}
    _computed(request, table, {}, data)
    try:
        return tx.create(table.logical_name, record_id, data)
    except RowExists as error:
        raise DUPLICATE from error


def update_row(
    request: ApiRequest, tx: WriteTransaction, table: TableDef, current: StoredRow, body: dict[str, object]
) -> StoredRow:
    changes = changes_from_body(request, tx, table, body, creating=False)
    changes.pop(table.primary_id, None)
    if table.attribute("modifiedby"):
        changes["modifiedby"] = ["systemuser", request.caller.systemuserid]
    _computed(request, table, current.data, changes)
    return tx.update(table.logical_name, current.id, changes)


def entity_url(request: ApiRequest, table: TableDef, record_id: str) -> str:
    return f"{request.root_url}{table.entity_set_name}({record_id})"


def written_response(request: ApiRequest, table: TableDef, row: StoredRow, *, created: bool) -> ApiResponse:
    """204 with ``OData-EntityId``/``Location``, or the row with ``return=representation``."""
    url = entity_url(request, table, row.id)
    headers = {"OData-EntityId": url, "Location": url}
    if not request.prefs.return_representation:
        return ApiResponse(204, None, headers)
    renderer = RowRenderer(
        request.store, table, resolve_select(table, request.query.select), request.prefs.wants_annotation
    )
    body = {
        "@odata.context": f"{request.root_url}$metadata#{table.entity_set_name}/$entity",
        **renderer.render([row])[0],
    }
    headers["Preference-Applied"] = "return=representation"
    return ApiResponse(201 if created else 200, body, headers)


def post_collection(request: ApiRequest, table: TableDef) -> ApiResponse:
    body = parse_body(request)
    with request.store.write() as tx:
        row = create_row(request, tx, table, body)
    return written_response(request, table, row, created=True)


def check_condition(request: ApiRequest, table: TableDef, record_id: str, current: StoredRow | None) -> None:
    """``If-Match`` / ``If-None-Match`` of §5.2."""
    if_match = request.header("if-match")
    if_none_match = request.header("if-none-match")
    if if_none_match == "*" and current is not None:
        raise DUPLICATE
    if if_match is None:
        return
    if current is None:
        raise record_not_found(table.logical_name, record_id)
    if if_match != "*" and if_match.strip() != f'W/"{current.version}"':
        raise WebApiError(
            412,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        )


def patch_row(request: ApiRequest, table: TableDef, record_id: str) -> ApiResponse:
    body = parse_body(request)
    with request.store.write() as tx:
        current = tx.get(table.logical_name, record_id)
        check_condition(request, table, record_id, current)
        if current is None:
            row = create_row(request, tx, table, {**body, table.primary_id: record_id})
            created = True
        else:
            row = update_row(request, tx, table, current, body)
            created = False
    return written_response(request, table, row, created=created)


def delete_row(request: ApiRequest, table: TableDef, record_id: str) -> ApiResponse:
    with request.store.write() as tx:
        current = tx.get(table.logical_name, record_id)
        if current is None:
            raise record_not_found(table.logical_name, record_id)
        check_condition(request, table, record_id, current)
        delete_with_links(request.store.catalog, tx, table, record_id)
    return ApiResponse(204)


def delete_with_links(catalog: Catalog, tx: WriteTransaction, table: TableDef, record_id: str) -> None:
    """Delete a row and its intersect-table rows, each with its own tombstone."""
    for m2m in catalog.many_to_many:
        for entity, attribute in ((m2m.entity1, m2m.entity1_attribute), (m2m.entity2, m2m.entity2_attribute)):
            if entity == table.logical_name:
                for link_id in tx.find_by_value(m2m.intersect_entity, attribute, record_id):
                    tx.delete(m2m.intersect_entity, link_id)
    try:
        tx.delete(table.logical_name, record_id)
    except RowMissing as error:
        raise record_not_found(table.logical_name, record_id) from error


def write_column(request: ApiRequest, table: TableDef, record_id: str, column: str, clear: bool) -> ApiResponse:
    """``PUT ROOT <set>(<id>)/<column>`` with ``{"value": …}``, or ``DELETE`` to null it."""
    attribute = table.attribute(column)
    if attribute is None or attribute.is_lookup:
        raise _undeclared(table, column)
    value = None if clear else parse_body(request).get("value")
    with request.store.write() as tx:
        current = tx.get(table.logical_name, record_id)
        if current is None:
            raise record_not_found(table.logical_name, record_id)
        update_row(request, tx, table, current, {column: value})
    return ApiResponse(204)


def bulk_message(request: ApiRequest, table: TableDef, message: str) -> ApiResponse:
    """``CreateMultiple`` / ``UpdateMultiple`` / ``UpsertMultiple`` (§5.5), atomically."""
    targets = parse_body(request).get("Targets")
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise bad_request("Targets must be an array of entity objects.")
    ids: list[str] = []
    with request.store.write() as tx:
        for target in targets:
            body = {k: v for k, v in target.items() if k != "@odata.type"}
            record_id = parse_guid(body.get(table.primary_id)) if body.get(table.primary_id) else None
            current = tx.get(table.logical_name, record_id) if record_id else None
            if message == "CreateMultiple" or (message == "UpsertMultiple" and current is None):
                ids.append(create_row(request, tx, table, body).id)
            elif current is None:
                raise record_not_found(table.logical_name, str(record_id))
            else:
                ids.append(update_row(request, tx, table, current, body).id)
    if message == "UpdateMultiple":
        return ApiResponse(204)
    return ApiResponse(
        200,
        {
            "@odata.context": f"{request.root_url}$metadata#Microsoft.Dynamics.CRM.{message}Response",
            "Ids": ids,
        },
    )
