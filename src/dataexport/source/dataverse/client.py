"""``DataverseSource``: the :class:`~dataexport.source.base.Source` Protocol over the Dataverse Web API.

A facade: it builds URLs (:mod:`.paging`, :mod:`.metadata`, :mod:`.organization`), runs them through the
retry loop (:mod:`.retry`, which uses :mod:`.auth`, :mod:`.throttle` and :mod:`.transport`), parses the
answers, and keeps each table's page size (R12).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from dataexport.domain.changes import Upsert, row_to_values
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.domain.values import to_guid
from dataexport.errors import InvalidIdentifier
from dataexport.source.base import Caller, EntitySummary, Link, LinkKind, MetadataChanges, OrgIdentity, Page, Source
from dataexport.source.dataverse import metadata
from dataexport.source.dataverse.auth import token_provider
from dataexport.source.dataverse.config import SourceConfig
from dataexport.source.dataverse.organization import (
    entities_url,
    metadata_changes_url,
    organization_url,
    parse_caller,
    parse_entities,
    parse_metadata_changes,
    parse_organization,
    who_am_i_url,
)
from dataexport.source.dataverse.pages import parse_page
from dataexport.source.dataverse.paging import (
    PageSizes,
    annotation_headers,
    first_page_url,
    prefer_headers,
    record_url,
)
from dataexport.source.dataverse.responses import BodyError, parse_json
from dataexport.source.dataverse.retry import Request, RequestRunner
from dataexport.source.dataverse.throttle import BudgetLedger, ThrottleGate
from dataexport.source.dataverse.transport import Reply, Transport, build_http_client
from dataexport.source.dataverse.users import SystemUserAccess, read_system_user_access
from dataexport.source.errors import (
    DeltaTokenExpired,
    LinkRejected,
    PageTooLarge,
    RetriesExhausted,
    SourceRequestRefused,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DataverseSource:
    """Reads one organization through the Web API. Thread-safe; share one per organization identity.

    Args:
        config: the organization's connection settings.
        http: an ``httpx.Client`` to use (e.g. Starlette's ``TestClient`` around an in-process emulator);
            by default one is built from ``config`` and closed by :meth:`close`.
        gate: the identity's throttle gate, when several sources share one identity.
        clock, sleep, wall_clock, jitter: injected time and randomness (tests). By default waits (backoff,
            throttling) end early when the source is closed, and the request then fails as transient.
        ledger: a budget shared with other processes (the control database's).
    """

    def __init__(
        self,
        config: SourceConfig,
        *,
        http: httpx.Client | None = None,
        gate: ThrottleGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        ledger: BudgetLedger | None = None,
    ) -> None:
        self._closed = threading.Event()
        wait: Callable[[float], object] = sleep or self._closed.wait
        self._config = config
        self._owns_http = http is None
        self._http = http if http is not None else build_http_client(config)
        self._transport = Transport(self._http, clock=clock)
        self._gate = gate or ThrottleGate(
            config.identity, config.throttle, clock=clock, sleep=wait, wall_clock=wall_clock, ledger=ledger
        )
        tokens = token_provider(config.auth, config.scope, self._http, clock=clock)
        self._runner = RequestRunner(
            self._transport,
            tokens,
            self._gate,
            config,
            sleep=wait,
            wall_clock=wall_clock,
            jitter=jitter,
            closed=self._closed.is_set,
        )
        self._sizes = PageSizes(config.pages)
        self._root = config.web_api_root
        self._origin = _origin(config.org_url)

    @property
    def gate(self) -> ThrottleGate:
        """The identity's throttle gate (its concurrency and pause are observable)."""
        return self._gate

    def __repr__(self) -> str:
        return f"DataverseSource(org_url={self._config.org_url!r})"

    # ----- organization ----------------------------------------------------------------------------

    def check_connection(self) -> None:
        """See :meth:`dataexport.source.base.Source.check_connection`."""
        self._get(self._root, lambda document: None)

    def organization(self) -> OrgIdentity:
        """See :meth:`dataexport.source.base.Source.organization`."""
        return self._get(organization_url(self._root), parse_organization)

    def who_am_i(self) -> Caller:
        """See :meth:`dataexport.source.base.Source.who_am_i`."""
        return self._get(who_am_i_url(self._root), parse_caller)

    def system_user_roles(
        self, *, object_id: str | None = None, application_id: str | None = None
    ) -> SystemUserAccess | None:
        """The ``systemuser`` with Entra ``object_id`` (a person) or ``applicationid`` ``application_id`` (an
        application user) and the role templates it holds directly or through teams; ``None`` when the
        organization has no such user. Give exactly one id (``ValueError`` otherwise).

        Raises:
            SourceUnavailable: Dataverse could not answer now.
            SourceRequestRefused: the service's own identity may not read users, roles or teams.
        """
        return read_system_user_access(self._get, self._root, object_id=object_id, application_id=application_id)

    def entities(self) -> tuple[EntitySummary, ...]:
        """See :meth:`dataexport.source.base.Source.entities`."""
        return self._get(entities_url(self._root), parse_entities)

    def metadata_changes(self, since: str | None) -> MetadataChanges:
        """See :meth:`dataexport.source.base.Source.metadata_changes`."""
        if since is not None:
            try:
                url = metadata_changes_url(self._root, since)
                return self._get(url, lambda document: parse_metadata_changes(document, incremental=True))
            except DeltaTokenExpired:
                log.info("the metadata stamp expired; every entity's metadata will be read again")
        url = metadata_changes_url(self._root, None)
        return self._get(url, lambda document: parse_metadata_changes(document, incremental=False))

    # ----- metadata --------------------------------------------------------------------------------

    def entity_schema(self, logical_name: str) -> EntitySchema:
        """See :meth:`dataexport.source.base.Source.entity_schema`."""
        definition, attributes = self._get(
            metadata.entity_url(self._root, logical_name), metadata.parse_definition, entity=logical_name
        )
        kinds = (metadata.parse_attribute(item, {}).kind for item in attributes)
        extras: dict[str, metadata.Document] = {}
        for cast in metadata.casts_for(kinds):
            items = self._get(metadata.cast_url(self._root, logical_name, cast), metadata.parse_collection)
            extras.update((str(item.get("LogicalName")), item) for item in items)
        intersect = self._intersect_keys(logical_name) if definition.get("IsIntersect") is True else None
        return metadata.build_schema(definition, attributes, extras, intersect)

    def many_to_many(self, logical_name: str) -> tuple[ManyToManyRelationship, ...]:
        """See :meth:`dataexport.source.base.Source.many_to_many`."""
        items = self._get(metadata.many_to_many_url(self._root, logical_name), metadata.parse_collection)
        relationships = (metadata.parse_relationship(item) for item in items)
        return tuple(sorted(relationships, key=lambda relationship: relationship.schema_name))

    def find_many_to_many(self, schema_name: str) -> ManyToManyRelationship | None:
        """The N:N relationship named ``schema_name`` (compared as Dataverse does, case-insensitively), or None
        when the organization has none by that name (or the name cannot be one)."""
        if not _SCHEMA_NAME.match(schema_name):
            return None
        condition = quote(f"SchemaName eq '{schema_name}'", safe="'")
        url = (
            f"{self._root}RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
            f"?$select={','.join(metadata.RELATIONSHIP_PROPERTIES)}&$filter={condition}"
        )
        items = self._get(url, metadata.parse_collection)
        return metadata.parse_relationship(items[0]) if items else None

    def probe(self, entity: EntitySummary) -> None:
        """Read at most one row of ``entity``, primary key only (``$top=1``): proves the app user may read it.

        Raises:
            SourceRequestRefused: the read was refused (403 privilege missing, 404 entity gone).
            SourceUnavailable: Dataverse could not answer now.
        """
        if not _SCHEMA_NAME.match(entity.entity_set_name) or not _SCHEMA_NAME.match(entity.primary_id):
            raise InvalidIdentifier(f"Entity '{entity.logical_name}' has an invalid entity set or primary key name")
        url = f"{self._root}{entity.entity_set_name}?$select={entity.primary_id}&$top=1"
        self._get(url, metadata.parse_collection, entity=entity.logical_name)

    def _intersect_keys(self, logical_name: str) -> tuple[str, str] | None:
        items = self._get(metadata.intersect_url(self._root, logical_name), metadata.parse_collection)
        if not items:
            return None
        relationship = metadata.parse_relationship(items[0])
        return (relationship.entity1_attribute, relationship.entity2_attribute)

    # ----- rows ------------------------------------------------------------------------------------

    def read_page(self, schema: EntitySchema, link: Link | None = None) -> Page:
        """See :meth:`dataexport.source.base.Source.read_page`."""
        entity = schema.logical_name
        if link is not None:
            self._check_origin(link, entity)
        url = link.url if link is not None else first_page_url(self._root, schema)
        while True:
            size = self._sizes.current(entity)
            request = Request(
                url,
                prefer_headers(size, track_changes=schema.change_tracking),
                entity=entity,
                continuation=link is not None and link.kind is LinkKind.NEXT,
                max_bytes=None if self._sizes.is_at_floor(entity) else self._config.pages.max_bytes,
            )
            try:
                page = self._runner.run(request, _page_reader(schema, url, size))
            except (RetriesExhausted, PageTooLarge) as exc:
                if not self._sizes.shrink(entity):
                    raise
                log.warning(
                    "page of %s failed at size %d (%s); reading it again at size %d",
                    entity,
                    size,
                    exc.message,
                    self._sizes.current(entity),
                )
                continue
            self._sizes.record_good_page(entity)
            return page

    def read_record(self, schema: EntitySchema, record_id: str) -> Upsert | None:
        """See :meth:`dataexport.source.base.Source.read_record`."""
        try:
            guid = to_guid(record_id)
        except ValueError as exc:
            raise InvalidIdentifier(f"Record id '{record_id}' is not a GUID", entity=schema.logical_name) from exc
        request = Request(record_url(self._root, schema, str(guid)), annotation_headers(), entity=schema.logical_name)
        try:
            row = self._runner.run(request, _object_reader)
        except SourceRequestRefused as exc:
            if exc.status == 404:
                return None
            raise
        return row_to_values(schema, row)

    def page_size(self, entity: str) -> int:
        """See :meth:`dataexport.source.base.Source.page_size`."""
        return self._sizes.current(entity)

    def set_page_size(self, entity: str, size: int) -> None:
        """See :meth:`dataexport.source.base.Source.set_page_size`."""
        self._sizes.restore(entity, size)

    def close(self) -> None:
        """See :meth:`dataexport.source.base.Source.close`; a read waiting or retrying in another thread then
        fails at once as transient (``SourceUnavailable``), so a stopping sync is not held by Dataverse."""
        self._closed.set()
        if self._owns_http:
            self._transport.close()

    # ----- plumbing --------------------------------------------------------------------------------

    def _get(self, url: str, parse: Callable[[object], T], *, entity: str | None = None) -> T:
        return self._runner.run(Request(url, entity=entity), lambda reply: parse(parse_json(reply.body)))

    def _check_origin(self, link: Link, entity: str) -> None:
        """A link must point at the organization's scheme, host and port: the token goes nowhere else."""
        if _origin(link.url) == self._origin:
            return
        message = f"The saved link is not on the organization's host {self._origin}"
        if link.kind is LinkKind.NEXT:
            raise LinkRejected(message, entity=entity)
        raise DeltaTokenExpired(message, entity=entity)


def _page_reader(schema: EntitySchema, url: str, size: int) -> Callable[[Reply], Page]:
    def read(reply: Reply) -> Page:
        return parse_page(parse_json(reply.body), schema=schema, url=url, page_size=size)

    return read


def _object_reader(reply: Reply) -> dict[str, object]:
    document = parse_json(reply.body)
    if not isinstance(document, dict):
        raise BodyError("invalid_page", "the record is not a JSON object")
    return document


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


if TYPE_CHECKING:
    _IMPLEMENTS: type[Source] = DataverseSource
