"""Unbound functions: ``WhoAmI``, ``RetrieveCurrentOrganization``, ``RetrieveMetadataChanges`` (§4.6, §7.6, §7.9)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from dataverse_emulator.catalog.model import TableDef
from dataverse_emulator.errors import WebApiError, bad_request
from dataverse_emulator.webapi import metadata
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.values import parse_guid
from dataverse_emulator.webapi.writes import delete_with_links, parse_body

_ARGS = re.compile(r"^[A-Za-z]+\((?P<args>.*)\)$", re.DOTALL)
_ACCESS_TYPES = ("Default", "Internet", "Intranet")

Function = Callable[[ApiRequest], ApiResponse]


def function_args(request: ApiRequest) -> dict[str, str]:
    """``Name(A=@p1,B='x')`` → ``{"A": <alias-substituted value>, "B": "'x'"}``."""
    match = _ARGS.match(request.segments[0])
    if match is None or not match["args"].strip():
        return {}
    args: dict[str, str] = {}
    for part in _split_args(match["args"]):
        name, separator, value = part.partition("=")
        if not separator:
            raise bad_request(f"The function parameter '{part}' is not valid.")
        value = value.strip()
        if value.startswith("@"):
            if value not in request.query.aliases:
                raise bad_request(f"The parameter alias '{value}' is not defined.")
            value = request.query.aliases[value]
        args[name.strip()] = value
    return args


def _split_args(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _require_get(request: ApiRequest) -> None:
    if request.method != "GET":
        raise WebApiError(405, "0x0", f"The HTTP method '{request.method}' is not allowed for this resource.")


def who_am_i(request: ApiRequest) -> ApiResponse:
    _require_get(request)
    info = request.store.info
    return ApiResponse(
        200,
        {
            "@odata.context": f"{request.root_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": request.caller.business_unit_id or info.business_unit_id,
            "UserId": request.caller.systemuserid,
            "OrganizationId": info.organization_id,
        },
    )


def retrieve_current_organization(request: ApiRequest) -> ApiResponse:
    _require_get(request)
    access = function_args(request).get("AccessType", "")
    literal = re.fullmatch(r"(?:Microsoft\.Dynamics\.CRM\.EndpointAccessType)?'(?P<v>[A-Za-z]+)'", access.strip())
    if literal is None or literal["v"] not in _ACCESS_TYPES:
        raise bad_request(f"The value '{access}' is not a valid EndpointAccessType.")
    info = request.store.info
    return ApiResponse(
        200,
        {
            "@odata.context": f"{request.root_url}$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse",
            "Detail": {
                "OrganizationId": info.organization_id,
                "FriendlyName": info.friendly_name,
                "UniqueName": info.unique_name,
                "UrlName": info.url_name,
                "Geo": info.geo,
                "TenantId": info.tenant_id,
                "EnvironmentId": info.environment_id,
                "OrganizationVersion": info.version,
                "State": "Enabled",
                "Endpoints": {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []},
            },
        },
    )


def retrieve_metadata_changes(request: ApiRequest) -> ApiResponse:
    _require_get(request)
    args = function_args(request)
    query_json = args.get("Query")
    if query_json is None:
        raise bad_request("The parameter 'Query' is required.")
    store = request.store
    client_stamp = args.get("ClientVersionStamp")
    if client_stamp is not None:
        client_stamp = client_stamp.strip().strip("'")
    deleted_filter = args.get("DeletedMetadataFilters")
    changes = [metadata.MetadataChange(c.version, c.table, c.attribute, c.deleted) for c in store.metadata_changes()]
    body = metadata.retrieve_metadata_changes(
        store.catalog,
        query_json,
        client_stamp=client_stamp,
        server_stamp=metadata.format_stamp(store.metadata_version, store.clock.now()),
        changes=changes,
        deleted_filter=deleted_filter,
    )
    body = {
        "@odata.context": f"{request.root_url}$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse",
        **body,
    }
    return ApiResponse(200, body)


def bulk_delete(request: ApiRequest) -> ApiResponse:
    """``POST BulkDelete`` (spec §5.5): the job runs at once and its id is returned.

    Each ``QuerySet`` entry is a QueryExpression; the emulator evaluates conditions on the table's
    primary id (``Equal`` / ``In``), which is what clients send to delete a list of records. Other
    criteria are refused with a 400 rather than silently deleting the wrong rows.
    """
    if request.method != "POST":
        raise WebApiError(405, "0x0", "BulkDelete is an action: use POST.")
    targets = [_bulk_delete_targets(request, query) for query in _query_set(request)]
    with request.store.write() as tx:
        for table, ids in targets:
            for record_id in ids:
                if tx.get(table.logical_name, record_id) is not None:
                    delete_with_links(request.store.catalog, tx, table, record_id)
    context = f"{request.root_url}$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse"
    return ApiResponse(200, {"@odata.context": context, "JobId": str(uuid.uuid4())})


def _query_set(request: ApiRequest) -> list[dict[str, object]]:
    query_set = parse_body(request).get("QuerySet")
    if not isinstance(query_set, list) or not query_set or not all(isinstance(q, dict) for q in query_set):
        raise bad_request("QuerySet must be a non-empty array of QueryExpression objects.")
    return query_set


def _bulk_delete_targets(request: ApiRequest, query: dict[str, object]) -> tuple[TableDef, list[str]]:
    table = request.store.catalog.table(str(query.get("EntityName")))
    if table is None:
        raise bad_request(f"QueryExpression.EntityName '{query.get('EntityName')}' is not a table.")
    criteria = query.get("Criteria")
    conditions = criteria.get("Conditions") if isinstance(criteria, dict) else None
    if not isinstance(conditions, list) or not conditions:
        raise bad_request("BulkDelete needs Criteria.Conditions on the primary id; deleting a whole table is refused.")
    ids: list[str] = []
    for condition in conditions:
        if not isinstance(condition, dict) or condition.get("AttributeName") != table.primary_id:
            raise bad_request(f"The emulator's BulkDelete supports conditions on '{table.primary_id}' only.")
        if condition.get("Operator") not in ("In", "Equal"):
            raise bad_request("The emulator's BulkDelete supports the 'In' and 'Equal' operators only.")
        values = condition.get("Values")
        for value in values if isinstance(values, list) else []:
            raw = value.get("Value") if isinstance(value, dict) else value
            guid = parse_guid(raw)
            if guid is None:
                raise bad_request(f"'{raw}' is not a valid GUID for '{table.primary_id}'.")
            ids.append(guid)
    return table, ids


_FUNCTIONS: dict[str, Function] = {
    "WhoAmI": who_am_i,
    "RetrieveCurrentOrganization": retrieve_current_organization,
    "RetrieveMetadataChanges": retrieve_metadata_changes,
    "BulkDelete": bulk_delete,
}


def find(name: str) -> Function | None:
    return _FUNCTIONS.get(name)
