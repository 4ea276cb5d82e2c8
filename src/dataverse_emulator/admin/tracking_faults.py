"""The two change-tracking faults of spec §6.4: an expired delta token and lost tracking.

``expire_token`` answers with exactly the error the Web API gives for an expired token in the
configured ``expired_style`` (built by :func:`dataverse_emulator.webapi.reads.expired_error`, so both
stay identical). ``disable_tracking`` switches tracking off for the matched table, as an environment
restore would, and lets the request through to fail with the untracked-table error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Scope

from dataverse_emulator.admin.facts import RequestFacts
from dataverse_emulator.admin.replies import Reply, error_reply
from dataverse_emulator.admin.schema_ops import with_table
from dataverse_emulator.catalog.model import TableDef
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.identity.urls import base_url_of
from dataverse_emulator.odata.prefer import parse_prefer
from dataverse_emulator.odata.querystring import QueryOptions, parse_query
from dataverse_emulator.webapi.context import ApiRequest, Caller
from dataverse_emulator.webapi.reads import EXPIRED_CODE, EXPIRED_MESSAGE, expired_error

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator


def table_of(emulator: Emulator, facts: RequestFacts) -> TableDef | None:
    """The table of the request's entity set in the org its path names, if both exist."""
    store = emulator.org(facts.org) if facts.is_web_api else None
    if store is None or not facts.entity_set:
        return None
    return store.catalog.table_by_set(facts.entity_set)


def expired_reply(emulator: Emulator, scope: Scope, facts: RequestFacts) -> Reply:
    """The §3.6 expired-token error for the request's table (bare 400 form when it has none)."""
    store = emulator.org(facts.org) if facts.is_web_api else None
    table = table_of(emulator, facts)
    if store is None or table is None:
        return error_reply(400, EXPIRED_CODE, EXPIRED_MESSAGE)
    prefix = f"/{facts.org}" if facts.org else ""
    raw_query = bytes(scope.get("query_string") or b"").decode("latin-1")
    request = ApiRequest(
        method=facts.method,
        segments=(),
        query=_query(raw_query),
        prefs=parse_prefer([facts.headers["prefer"]] if "prefer" in facts.headers else []),
        headers=dict(facts.headers),
        body=b"",
        root_url=f"{base_url_of(Request(scope), emulator.public_url)}{prefix}/api/data/{facts.api_version}/",
        store=store,
        caller=Caller("", None, is_application=False),
        tracking=emulator.tracking,
    )
    error = expired_error(request, table)
    return error_reply(error.status, error.code, error.message, error.headers)


def _query(raw_query: str) -> QueryOptions:
    try:
        return parse_query(raw_query)
    except WebApiError:
        return parse_query("")


def disable_tracking(emulator: Emulator, facts: RequestFacts) -> bool:
    """Switch change tracking off for the request's table; ``False`` when there is nothing to switch."""
    store = emulator.org(facts.org) if facts.is_web_api else None
    table = table_of(emulator, facts)
    if store is None or table is None or not table.change_tracking:
        return False
    catalog = with_table(store.catalog, table.model_copy(update={"change_tracking": False}))
    store.replace_catalog(catalog, [(table.logical_name, None, False)])
    return True
