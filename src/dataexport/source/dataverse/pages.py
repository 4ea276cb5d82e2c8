"""A baseline or delta page body → a validated :class:`~dataexport.source.base.Page` (webapi §2.4, §3.4, R5, R13).

Pure: takes the decoded JSON document and the URL it was read from. Validation failures raise
:class:`~.responses.BodyError` so the retry loop treats them like a 5xx (R13: write none of the rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dataexport.domain.changes import Delete
from dataexport.domain.schema import EntitySchema
from dataexport.domain.values import to_guid
from dataexport.errors import SourceUnavailable
from dataexport.source.base import Entry, Link, Page, map_page
from dataexport.source.dataverse.responses import BodyError

DELETED_ENTITY_SUFFIX = "/$deletedEntity"
_CONTEXT = "@odata.context"
_NEXT_LINK = "@odata.nextLink"
_DELTA_LINK = "@odata.deltaLink"


def parse_page(document: object, *, schema: EntitySchema, url: str, page_size: int) -> Page:
    """Validate and map one page read from ``url``.

    Raises:
        BodyError: ``invalid_page`` (not an object, no ``value`` array, a row without its primary key or
            version, a malformed tombstone or link) or ``link_loop`` (the nextLink is ``url``).
    """
    if not isinstance(document, dict):
        raise BodyError("invalid_page", "the page is not a JSON object")
    value = document.get("value")
    if not isinstance(value, list):
        raise BodyError("invalid_page", "the page has no 'value' array")
    entries = tuple(_entry(item, index, schema.primary_id) for index, item in enumerate(value))
    following = _following(document, url)
    try:
        return map_page(schema, entries, following, page_size)
    except SourceUnavailable as exc:  # a row without a usable id or version
        raise BodyError("invalid_page", exc.message) from exc


def is_tombstone(item: Mapping[str, object], primary_id: str) -> bool:
    """A ``$deletedEntity`` item: its context says so, or it has ``reason`` and ``id`` but no primary key."""
    context = item.get(_CONTEXT)
    if isinstance(context, str) and context.endswith(DELETED_ENTITY_SUFFIX):
        return True
    return "reason" in item and "id" in item and primary_id not in item


def _entry(item: object, index: int, primary_id: str) -> Entry:
    if not isinstance(item, dict):
        raise BodyError("invalid_page", f"item {index} of 'value' is not an object")
    if is_tombstone(item, primary_id):
        # reason "deleted", and also "changed" (OData: left the result set): both delete the row (R5).
        return Delete(_guid(item.get("id"), f"tombstone {index} has no valid 'id'"))
    if not isinstance(item.get(primary_id), str):
        raise BodyError("invalid_page", f"row {index} has no primary key '{primary_id}'")
    return MappingProxyType(item)


def _guid(value: object, problem: str) -> str:
    try:
        guid = to_guid(value)
    except ValueError:
        guid = None
    if guid is None:
        raise BodyError("invalid_page", problem)
    return guid


def _following(document: Mapping[str, object], url: str) -> Link | None:
    next_link = _link(document, _NEXT_LINK)
    if next_link is not None:
        if next_link == url:
            raise BodyError("link_loop", "the nextLink is the URL just read")
        return Link.next(next_link)
    delta_link = _link(document, _DELTA_LINK)
    return Link.delta(delta_link) if delta_link is not None else None


def _link(document: Mapping[str, object], key: str) -> str | None:
    link = document.get(key)
    if link is None:
        return None
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        raise BodyError("invalid_page", f"'{key}' is not an absolute URL")
    return link
