"""Collection reads: untracked queries, change-tracking baselines and deltas (spec §2, §3).

Which of the three a request is follows from its options: a ``$deltatoken`` (or a delta skiptoken) is
a delta; ``Prefer: odata.track-changes`` (or a tracking skiptoken) a baseline; anything else a query.
Every sequence pages through self-contained skiptokens (:mod:`.paging`) and obeys the snapshot rule of
§3.7: the counter ``S`` captured on the first page bounds the sequence, and the last page's deltaLink
carries ``S!T``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from dataverse_emulator.catalog.model import AttributeType, TableDef
from dataverse_emulator.errors import WebApiError, bad_request
from dataverse_emulator.odata.filter import compile_filter, parse_filter
from dataverse_emulator.odata.options import parse_orderby
from dataverse_emulator.odata.querystring import encode_query
from dataverse_emulator.storage import StoredRow
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse
from dataverse_emulator.webapi.expand import ExpandPlan
from dataverse_emulator.webapi.paging import (
    PageState,
    decode_skiptoken,
    encode_skiptoken,
    format_deltatoken,
    format_token_time,
    parse_deltatoken,
    quote_deltatoken,
    quote_skiptoken,
)
from dataverse_emulator.webapi.rows import RowRenderer, resolve_select, selectable_properties, type_name

MAX_PAGE = 5000
EXPIRED_CODE = "0x80044352"
EXPIRED_MESSAGE = "Version stamp associated with the client has expired. Please perform a full sync."
_TRACKING_REJECTED = ("$filter", "$orderby", "$expand", "$top", "$apply")


def untracked_error(table: TableDef) -> WebApiError:
    return WebApiError(400, "0x80040203", f"Change tracking is not enabled for the entity '{table.logical_name}'.")


def page_size(request: ApiRequest) -> int:
    return min(request.prefs.maxpagesize or MAX_PAGE, MAX_PAGE)


def context_url(request: ApiRequest, table: TableDef, suffix: str = "") -> str:
    select = request.query.select
    columns = f"({','.join(select)})" if select else ""
    return f"{request.root_url}$metadata#{table.entity_set_name}{columns}{suffix}"


def read_collection(request: ApiRequest, table: TableDef) -> ApiResponse:
    """Serve ``GET ROOT <set>``: a query, a baseline or a delta page."""
    state = decode_skiptoken(request.query.skiptoken) if request.query.skiptoken else None
    tracking = (
        request.query.deltatoken is not None or request.prefs.track_changes or (state is not None and state.is_tracking)
    )
    if tracking:
        check_tracked_request(request, table)
    if request.query.deltatoken is not None or (state is not None and state.mode == "delta"):
        return read_delta(request, table, state)
    if tracking:
        return read_baseline(request, table, state)
    return read_query(request, table, state)


def check_tracked_request(request: ApiRequest, table: TableDef) -> None:
    """The §3.5 rejections: options not allowed under tracking, untracked tables."""
    for option in _TRACKING_REJECTED:
        if request.query.has(option):
            raise bad_request(f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.')
    if not table.change_tracking:
        raise untracked_error(table)


def _next_link(request: ApiRequest, table: TableDef, state: PageState) -> str:
    options = [(name, value) for name, value in request.query.system if name != "$skiptoken"]
    query = encode_query(options)
    skiptoken = f"$skiptoken={quote_skiptoken(encode_skiptoken(state))}"
    return f"{request.root_url}{table.entity_set_name}?{query + '&' if query else ''}{skiptoken}"


def delta_link(request: ApiRequest, table: TableDef, version: int, stamp: str) -> str:
    """The deltaLink: the defining request's ``$select`` plus ``$deltatoken`` and nothing else."""
    options = [(name, value) for name, value in request.query.system if name == "$select"]
    query = encode_query(options)
    token = quote_deltatoken(f"{version}!{stamp}")
    return f"{request.root_url}{table.entity_set_name}?{query + '&' if query else ''}$deltatoken={token}"


def _renderer(request: ApiRequest, table: TableDef) -> RowRenderer:
    attributes = resolve_select(table, request.query.select)
    return RowRenderer(request.store, table, attributes, request.prefs.wants_annotation)


def _applied(request: ApiRequest, *, tracking: bool) -> dict[str, str]:
    prefs = request.prefs
    value = prefs.applied(
        maxpagesize=page_size(request) if prefs.maxpagesize else None,
        track_changes=tracking and prefs.track_changes,
        annotations=bool(prefs.include_annotations),
    )
    return {"Preference-Applied": value} if value else {}


# ----- baseline ---------------------------------------------------------------------------------


def read_baseline(request: ApiRequest, table: TableDef, state: PageState | None) -> ApiResponse:
    renderer = _renderer(request, table)
    if state is None:
        store = request.store
        state = PageState(mode="baseline", page=1, snapshot=store.counter, stamp=format_token_time(store.clock.now()))
    size = page_size(request)
    rows = request.store.page_by_id(table.logical_name, state.after_id, size + 1)
    body: dict[str, object] = {"@odata.context": context_url(request, table)}
    body["value"] = renderer.render(rows[:size])
    if len(rows) > size:
        following = PageState(
            mode="baseline",
            page=state.page + 1,
            snapshot=state.snapshot,
            stamp=state.stamp,
            after_id=rows[size - 1].id,
        )
        body["@odata.nextLink"] = _next_link(request, table, following)
    else:
        body["@odata.deltaLink"] = delta_link(request, table, state.snapshot, state.stamp)
    return ApiResponse(200, body, _applied(request, tracking=True))


# ----- delta ------------------------------------------------------------------------------------


def _check_expiry(request: ApiRequest, table: TableDef, version: int, issued: datetime) -> None:
    """Expired: older than the expiry window, below the purge horizon, or issued before an admin expiry."""
    store = request.store
    too_old = store.clock.now() - issued > timedelta(days=request.tracking.expire_days)
    if too_old or version < store.purge_horizon or version < store.token_floor(table.logical_name):
        raise expired_error(request, table)


def expired_error(request: ApiRequest, table: TableDef) -> WebApiError:
    """The §3.6 expired-token error in the configured style."""
    if request.tracking.expired_style == "410":
        options = [(n, v) for n, v in request.query.system if n == "$select"]
        query = encode_query(options)
        location = f"{request.root_url}{table.entity_set_name}{'?' + query if query else ''}"
        return WebApiError(410, EXPIRED_CODE, EXPIRED_MESSAGE, {"Location": location})
    return WebApiError(400, EXPIRED_CODE, EXPIRED_MESSAGE)


def read_delta(request: ApiRequest, table: TableDef, state: PageState | None) -> ApiResponse:
    store = request.store
    if state is None:
        token = request.query.deltatoken or ""
        version, moment = parse_deltatoken(token)
        _check_expiry(request, table, version, moment)
        state = PageState(
            mode="delta",
            page=1,
            snapshot=store.counter,
            stamp=format_token_time(store.clock.now()),
            from_version=version,
            after_version=version,
        )
    elif state.from_version < max(store.purge_horizon, store.token_floor(table.logical_name)):
        raise expired_error(request, table)
    size = page_size(request)
    renderer = _renderer(request, table)
    items: list[dict[str, object]] = []
    phase, after = state.phase, state.after_version
    if phase == "rows":
        rows = store.changed_rows(table.logical_name, after, state.snapshot, size + 1)
        items.extend(renderer.render(rows[:size]))
        if len(rows) > size:
            return _delta_page(request, table, state, items, ("rows", rows[size - 1].version))
        phase, after = "tombstones", state.from_version
    room = size - len(items)
    tombstones = store.tombstones(table.logical_name, after, state.snapshot, room + 1)
    deleted_context = f"{request.root_url}$metadata#{table.entity_set_name}/$deletedEntity"
    for tombstone in tombstones[:room]:
        items.append({"@odata.context": deleted_context, "id": tombstone.id, "reason": "deleted"})
    if len(tombstones) > room:
        last = tombstones[room - 1].version if room > 0 else after
        return _delta_page(request, table, state, items, ("tombstones", last))
    return _delta_page(request, table, state, items, None)


def _delta_page(
    request: ApiRequest,
    table: TableDef,
    state: PageState,
    items: list[dict[str, object]],
    position: tuple[str, int] | None,
) -> ApiResponse:
    body: dict[str, object] = {"@odata.context": context_url(request, table, "/$delta"), "value": items}
    if position is None:
        body["@odata.deltaLink"] = delta_link(request, table, state.snapshot, state.stamp)
    else:
        following = PageState(
            mode="delta",
            page=state.page + 1,
            snapshot=state.snapshot,
            stamp=state.stamp,
            from_version=state.from_version,
            phase=position[0],
            after_version=position[1],
        )
        body["@odata.nextLink"] = _next_link(request, table, following)
    return ApiResponse(200, body, _applied(request, tracking=True))


def count_delta(request: ApiRequest, table: TableDef) -> int:
    """``$count?$deltatoken=``: how many entries the delta would return."""
    check_tracked_request(request, table)
    version, moment = parse_deltatoken(request.query.deltatoken or "")
    _check_expiry(request, table, version, moment)
    store = request.store
    return store.count_changes(table.logical_name, version, store.counter)


# ----- untracked queries ------------------------------------------------------------------------


def filter_view(table: TableDef) -> Callable[[StoredRow], Mapping[str, object]]:
    """Turns a stored row into the property mapping ``$filter`` and ``$orderby`` evaluate."""
    plan = []
    for name, attribute in selectable_properties(table).items():
        kind = attribute.type
        plan.append(
            (
                name,
                attribute.logical_name,
                attribute.is_lookup,
                kind in (AttributeType.DECIMAL, AttributeType.MONEY),
            )
        )

    def view(row: StoredRow) -> Mapping[str, object]:
        out: dict[str, object] = {}
        data = row.data
        for name, logical, is_lookup, is_decimal in plan:
            value = row.version if logical == "versionnumber" else data.get(logical)
            if value is not None:
                if is_lookup:
                    value = value[1]  # type: ignore[index]
                elif is_decimal:
                    value = Decimal(str(value))
            out[name] = value
        return out

    return view


def _sort_key(value: object) -> tuple[int, object]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float, Decimal)):
        return (1, Decimal(str(value)))
    return (2, str(value).lower())


Predicate = Callable[[StoredRow], bool]


def row_filter(request: ApiRequest, table: TableDef) -> Predicate:
    """The compiled ``$filter`` over stored rows (always true without one)."""
    if not request.query.filter:
        return lambda _row: True
    properties = selectable_properties(table)
    expr = parse_filter(request.query.filter, request.query.aliases)
    predicate = compile_filter(expr, has_property=lambda n: n in properties, type_name=type_name(table))
    view = filter_view(table)
    return lambda row: predicate(view(row))


def matching_rows(request: ApiRequest, table: TableDef) -> Iterator[StoredRow]:
    """Rows matching ``$filter`` in primary-key order, streamed (memory does not grow with the table)."""
    keep = row_filter(request, table)
    return (row for row in request.store.scan(table.logical_name) if keep(row))


def ordered_ids(request: ApiRequest, table: TableDef) -> list[str]:
    """Ids of the rows matching ``$filter`` in ``$orderby`` order, primary key as the final tie-breaker.

    Only ids and sort keys are held, not rows.
    """
    properties = selectable_properties(table)
    order = parse_orderby(request.query.orderby or "")
    for item in order:
        if item.name not in properties:
            raise bad_request(f"Could not find a property named '{item.name}' on type '{type_name(table)}'.")
    view = filter_view(table)
    keyed: list[tuple[str, tuple[tuple[int, object], ...]]] = []
    for row in matching_rows(request, table):
        values = view(row)
        keyed.append((row.id, tuple(_sort_key(values.get(item.name)) for item in order)))
    for position in reversed(range(len(order))):
        keyed.sort(key=lambda entry, p=position: entry[1][p], reverse=order[position].descending)  # type: ignore[misc]
    return [record_id for record_id, _ in keyed]


def count_matching(request: ApiRequest, table: TableDef) -> int:
    return sum(1 for _ in matching_rows(request, table))


def _query_page(request: ApiRequest, table: TableDef, state: PageState | None, limit: int) -> list[StoredRow]:
    """Up to ``limit`` rows of the query after the state's position."""
    if request.query.orderby:
        ids = ordered_ids(request, table)
        offset = state.offset if state else 0
        chosen = ids[offset : offset + limit]
        found = request.store.get_many(table.logical_name, chosen)
        return [found[i] for i in chosen if i in found]
    keep = row_filter(request, table)
    page: list[StoredRow] = []
    after = state.after_id if state else None
    while len(page) < limit:
        batch = request.store.page_by_id(table.logical_name, after, 2000)
        page.extend(row for row in batch if keep(row))
        if len(batch) < 2000:
            break
        after = batch[-1].id
    return page[:limit]


def read_query(request: ApiRequest, table: TableDef, state: PageState | None) -> ApiResponse:
    expand = ExpandPlan.parse(request, table)
    renderer = _renderer(request, table)
    served = state.offset if state else 0
    top = None if request.prefs.maxpagesize else request.query.top
    size = page_size(request) if top is None else min(page_size(request), max(top - served, 0))
    rows = _query_page(request, table, state, size + 1) if size else []
    page = rows[:size]
    body: dict[str, object] = {"@odata.context": context_url(request, table)}
    if request.query.count and state is None:
        body["@odata.count"] = min(count_matching(request, table), MAX_PAGE)
    values = renderer.render(page)
    expand.apply(page, values)
    body["value"] = values
    more = len(rows) > size and (top is None or served + size < top)
    if more:
        following = PageState(
            mode="query", page=(state.page if state else 1) + 1, after_id=page[-1].id, offset=served + size
        )
        body["@odata.nextLink"] = _next_link(request, table, following)
    return ApiResponse(200, body, _applied(request, tracking=False))


def deltatoken_for_now(request: ApiRequest) -> str:
    store = request.store
    return format_deltatoken(store.counter, store.clock.now())
