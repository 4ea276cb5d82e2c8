"""Associate and disassociate through ``$ref`` (spec §5.4).

N:N associate inserts an intersect row (own key, the two ids, a new version); disassociate deletes it
with a tombstone; N:1 set and clear update the referencing row.
"""

from __future__ import annotations

import uuid

from dataverse_emulator.catalog.model import TableDef
from dataverse_emulator.errors import bad_request, record_not_found
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.expand import Navigation, find_navigation
from dataverse_emulator.webapi.writes import parse_body, resolve_reference


def _navigation(request: ApiRequest, table: TableDef, name: str) -> Navigation:
    navigation = find_navigation(request.store.catalog, table, name)
    if navigation is None:
        raise bad_request(
            f"Could not find a navigation property named '{name}' on type "
            f"'Microsoft.Dynamics.CRM.{table.logical_name}'."
        )
    return navigation


def associate(request: ApiRequest, table: TableDef, record_id: str, name: str) -> ApiResponse:
    """``POST`` (N:N) or ``PUT`` (N:1) ``<set>(<id>)/<nav>/$ref`` with ``{"@odata.id": …}``."""
    navigation = _navigation(request, table, name)
    target, target_id = resolve_reference(request, parse_body(request).get("@odata.id"))
    if target.logical_name != navigation.target:
        raise bad_request(f"'{target.logical_name}' is not the target of '{name}'.")
    with request.store.write() as tx:
        if tx.get(table.logical_name, record_id) is None:
            raise record_not_found(table.logical_name, record_id)
        if tx.get(target.logical_name, target_id) is None:
            raise record_not_found(target.logical_name, target_id)
        if navigation.kind == "single":
            tx.update(table.logical_name, record_id, {navigation.attribute: [target.logical_name, target_id]})
        elif navigation.kind == "one_to_many":
            tx.update(target.logical_name, target_id, {navigation.attribute: [table.logical_name, record_id]})
        else:
            linked = set(tx.find_by_value(navigation.intersect, navigation.attribute, record_id))
            if linked & set(tx.find_by_value(navigation.intersect, navigation.other_attribute, target_id)):
                return ApiResponse(204)
            intersect = request.store.catalog.table(navigation.intersect)
            key = intersect.primary_id if intersect else f"{navigation.intersect}id"
            link_id = str(uuid.uuid4())
            tx.create(
                navigation.intersect,
                link_id,
                {key: link_id, navigation.attribute: record_id, navigation.other_attribute: target_id},
            )
    return ApiResponse(204)


def disassociate(request: ApiRequest, table: TableDef, record_id: str, name: str, target_id: str | None) -> ApiResponse:
    """``DELETE <set>(<id>)/<nav>(<rid>)/$ref``, ``…/<nav>/$ref?$id=…`` or (N:1) ``…/<nav>/$ref``."""
    navigation = _navigation(request, table, name)
    if target_id is None and request.query.id:
        _, target_id = resolve_reference(request, request.query.id)
    with request.store.write() as tx:
        if tx.get(table.logical_name, record_id) is None:
            raise record_not_found(table.logical_name, record_id)
        if navigation.kind == "single":
            tx.update(table.logical_name, record_id, {navigation.attribute: None})
            return ApiResponse(204)
        if target_id is None:
            raise bad_request("The related record to disassociate must be given with its id or $id.")
        if navigation.kind == "one_to_many":
            tx.update(navigation.target, target_id, {navigation.attribute: None})
            return ApiResponse(204)
        mine = set(tx.find_by_value(navigation.intersect, navigation.attribute, record_id))
        theirs = set(tx.find_by_value(navigation.intersect, navigation.other_attribute, target_id))
        for link_id in sorted(mine & theirs):
            tx.delete(navigation.intersect, link_id)
    return ApiResponse(204)
