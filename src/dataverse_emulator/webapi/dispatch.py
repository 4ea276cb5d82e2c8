"""Routing of a Web API request by its path segments to the handler that owns it.

Top-level requests and ``$batch`` parts both arrive here as an :class:`ApiRequest`; a handler returns
an :class:`ApiResponse` or raises :class:`WebApiError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dataverse_emulator.catalog.model import TableDef
from dataverse_emulator.errors import WebApiError, bad_request, not_found_segment, record_not_found
from dataverse_emulator.odata.options import parse_key_segment
from dataverse_emulator.storage import StoredRow
from dataverse_emulator.webapi import functions, metadata, reads, references, writes
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.expand import ExpandPlan, find_navigation
from dataverse_emulator.webapi.rows import FORMATTED, RowRenderer, resolve_select

_KEYED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\((?P<key>.*)\)$", re.DOTALL)
_METADATA_ROOTS = ("EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions")
_BULK = (
    "Microsoft.Dynamics.CRM.CreateMultiple",
    "Microsoft.Dynamics.CRM.UpdateMultiple",
    "Microsoft.Dynamics.CRM.UpsertMultiple",
)

BatchHandler = Callable[[ApiRequest], ApiResponse]


def split_segments(path: str) -> tuple[str, ...]:
    """Split a path on ``/`` outside single quotes and parentheses."""
    segments: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in path:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "/" and depth == 0 and not quoted:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return tuple(s for s in segments if s)


def _method_not_allowed(request: ApiRequest) -> WebApiError:
    return WebApiError(405, "0x0", f"The HTTP method '{request.method}' is not allowed for this resource.")


def dispatch(request: ApiRequest, batch: BatchHandler | None = None) -> ApiResponse:
    """Answer one Web API request."""
    segments = request.segments
    if not segments:
        return _only_get(request, lambda: metadata.render_service_document(request.store.catalog, request.root_url))
    head = segments[0]
    keyed = _KEYED.match(head)
    name = keyed["name"] if keyed else head
    if head == "$batch":
        if request.method != "POST" or batch is None or len(segments) > 1:
            raise (
                _method_not_allowed(request)
                if request.method != "POST"
                else bad_request("Nested $batch is not allowed.")
            )
        return batch(request)
    if name in _METADATA_ROOTS:
        return _only_get(
            request,
            lambda: metadata.render_metadata(
                request.store.catalog,
                list(segments),
                request.query,
                request.root_url,
                request.store.metadata_version,
            ),
        )
    function = functions.find(name)
    if function is not None:
        return function(request)
    table = request.store.catalog.table_by_set(name)
    if table is None:
        raise not_found_segment(head)
    if head == name:
        return _collection(request, table)
    return _entity(request, table, head)


def _only_get(request: ApiRequest, render: Callable[[], object]) -> ApiResponse:
    if request.method != "GET":
        raise _method_not_allowed(request)
    return ApiResponse(200, render())


def _collection(request: ApiRequest, table: TableDef) -> ApiResponse:
    rest = request.segments[1:]
    if not rest:
        if request.method == "GET":
            return reads.read_collection(request, table)
        if request.method == "POST":
            return writes.post_collection(request, table)
        raise _method_not_allowed(request)
    if rest == ("$count",) and request.method == "GET":
        return _count(request, table)
    if len(rest) == 1 and rest[0] in _BULK and request.method == "POST":
        return writes.bulk_message(request, table, rest[0].rsplit(".", 1)[1])
    raise not_found_segment(rest[0])


def _count(request: ApiRequest, table: TableDef) -> ApiResponse:
    if request.query.deltatoken is not None:
        total = reads.count_delta(request, table)
    elif request.query.filter:
        total = reads.count_matching(request, table)
    else:
        total = request.store.count(table.logical_name)
    return ApiResponse(200, str(total), content_type="text/plain")


def record_id_of(request: ApiRequest, table: TableDef, head: str) -> str:
    """The id addressed by ``<set>(<guid>)`` or an alternate key ``<set>(k='v')``."""
    match = _KEYED.match(head)
    key = parse_key_segment(match["key"] if match else "")
    if key.guid is not None:
        return key.guid
    rows: list[StoredRow] | None = None
    for attribute, value in key.values.items():
        if table.attribute(attribute) is None:
            raise bad_request(f"The key '{attribute}' is not defined on '{table.logical_name}'.")
        found = (
            request.store.find_by_value(table.logical_name, attribute, str(value))
            if isinstance(value, str)
            else [r for r in request.store.scan(table.logical_name) if r.data.get(attribute) == value]
        )
        rows = found if rows is None else [r for r in rows if r in found]
    if not rows:
        raise WebApiError(
            404,
            "0x80040217",
            f"{table.logical_name} With Ids = {match['key'] if match else ''} Does Not Exist",
        )
    return rows[0].id


def _entity(request: ApiRequest, table: TableDef, head: str) -> ApiResponse:
    record_id = record_id_of(request, table, head)
    rest = request.segments[1:]
    method = request.method
    if not rest:
        handlers = {"GET": _get_row, "PATCH": writes.patch_row, "DELETE": writes.delete_row}
        handler = handlers.get(method)
        if handler is None:
            raise _method_not_allowed(request)
        return handler(request, table, record_id)
    if rest[-1] == "$ref":
        return _reference(request, table, record_id, rest[:-1])
    if len(rest) == 1 and table.attribute(rest[0]) is not None and method in ("PUT", "DELETE"):
        return writes.write_column(request, table, record_id, rest[0], clear=method == "DELETE")
    if len(rest) == 1 and method == "GET":
        return _get_related(request, table, record_id, rest[0])
    raise not_found_segment(rest[0])


def _reference(request: ApiRequest, table: TableDef, record_id: str, rest: tuple[str, ...]) -> ApiResponse:
    if len(rest) != 1:
        raise not_found_segment("$ref")
    keyed = _KEYED.match(rest[0])
    name = keyed["name"] if keyed else rest[0]
    if request.method in ("POST", "PUT"):
        return references.associate(request, table, record_id, name)
    if request.method == "DELETE":
        target_id = parse_key_segment(keyed["key"]).guid if keyed else None
        return references.disassociate(request, table, record_id, name, target_id)
    raise _method_not_allowed(request)


def _get_row(request: ApiRequest, table: TableDef, record_id: str) -> ApiResponse:
    row = request.store.get(table.logical_name, record_id)
    if row is None:
        raise record_not_found(table.logical_name, record_id)
    if_none_match = request.header("if-none-match")
    plain = not request.query.expand and not request.prefs.include_annotations
    if plain and if_none_match and if_none_match != "null" and if_none_match.strip() == f'W/"{row.version}"':
        return ApiResponse(304)
    renderer = RowRenderer(
        request.store, table, resolve_select(table, request.query.select), request.prefs.wants_annotation
    )
    rendered = renderer.render([row])
    ExpandPlan.parse(request, table).apply([row], rendered)
    select = request.query.select
    columns = f"({','.join(select)})" if select else ""
    body = {
        "@odata.context": f"{request.root_url}$metadata#{table.entity_set_name}{columns}/$entity",
        **rendered[0],
    }
    headers = (
        {"Preference-Applied": f'odata.include-annotations="{",".join(request.prefs.include_annotations)}"'}
        if (request.prefs.include_annotations)
        else {}
    )
    return ApiResponse(200, body, headers)


def _get_related(request: ApiRequest, table: TableDef, record_id: str, name: str) -> ApiResponse:
    """``GET <set>(<id>)/<collection navigation>`` (used by the System Administrator check)."""
    navigation = find_navigation(request.store.catalog, table, name)
    if navigation is None:
        raise not_found_segment(name)
    row = request.store.get(table.logical_name, record_id)
    if row is None:
        raise record_not_found(table.logical_name, record_id)
    target = request.store.catalog.table(navigation.target)
    assert target is not None
    plan = ExpandPlan(request, table, ())
    renderer = RowRenderer(
        request.store, target, resolve_select(target, request.query.select), request.prefs.wants_annotation
    )
    related = plan.related(navigation, renderer, row)
    body = {"@odata.context": f"{request.root_url}$metadata#{target.entity_set_name}", "value": related}
    return ApiResponse(200, body)


__all__ = ["FORMATTED", "dispatch", "split_segments"]
