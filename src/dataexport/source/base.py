"""The ``Source`` Protocol the engine reads Dataverse through, with its contract, and the values it returns.

Guarantees shared by every method:

- Values are frozen; no raw HTTP or OData object crosses this boundary (raw rows are kept read-only on a
  :class:`Page` only so that the engine can map them again after a metadata refresh).
- Throttling (429 + ``Retry-After``), token refresh on 401 and backoff on 5xx, timeouts, resets and invalid
  bodies happen *inside* a call (webapi §8 R8, DES §7.7); what escapes is an error of
  :mod:`dataexport.errors` / :mod:`dataexport.source.errors`:

  - :class:`~dataexport.errors.SourceUnavailable` (transient): nothing was read; call again later.
  - :class:`~dataexport.source.errors.DeltaTokenExpired`: re-baseline (R6).
  - :class:`~dataexport.source.errors.LinkRejected`: restart from the last deltaLink, or the start (R4).
  - :class:`~dataexport.errors.TerminalError` subclasses: stop the entity, say why.

- Reads never write anything and are safe to repeat: reading the same link twice returns the same rows
  (or newer ones), so a page replayed after a crash is harmless.
- Methods are thread-safe; one request at a time per entity is the engine's rule, not the source's.

Two implementations: :class:`dataexport.source.dataverse.DataverseSource` (the Web API) and
:class:`dataexport.source.scripted.ScriptedSource` (pages and errors given as data, for engine tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from dataexport.domain.changes import ChangeBatch, Delete, Upsert, row_to_values
from dataexport.domain.schema import EntitySchema, ManyToManyRelationship
from dataexport.errors import ValueConversionError

#: One Web API row as received (numbers already ``Decimal``/``int``), read-only.
RawRow = Mapping[str, object]

#: The largest page Dataverse serves (``odata.maxpagesize``), and the floor of page-size backoff (DES §7.7).
MAX_PAGE_SIZE = 5000
MIN_PAGE_SIZE = 100


class LinkKind(StrEnum):
    """Which Web API link a resume point is."""

    NEXT = "next"  # an @odata.nextLink: the next page of a baseline or of a delta sequence
    DELTA = "delta"  # an @odata.deltaLink: the change-tracking token of the table


@dataclass(frozen=True, slots=True)
class Link:
    """A link exactly as Dataverse sent it (R3: never edited, never rebuilt) and what kind it is."""

    url: str
    kind: LinkKind

    @classmethod
    def next(cls, url: str) -> Link:
        """An ``@odata.nextLink``."""
        return cls(url, LinkKind.NEXT)

    @classmethod
    def delta(cls, url: str) -> Link:
        """An ``@odata.deltaLink``."""
        return cls(url, LinkKind.DELTA)


#: One entry of a page as received: a raw upsert row, or a delete (``$deletedEntity``).
Entry = RawRow | Delete


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a baseline or a delta, validated (R13) and mapped.

    Attributes:
        entity: the entity's logical name.
        changes: upserts and deletes in response order (R5); ``reason: "changed"`` tombstones are deletes.
        following: the link that follows this page: its nextLink, or the final deltaLink; None only for
            the last page of an untracked read.
        page_size: the ``odata.maxpagesize`` this page was read with.
        rejected: rows that were read but whose values do not fit their attributes (record failures:
            the retry queue, then the ledger). Their ids were read, so a re-baseline counts them as seen.
        entries: the raw rows and deletes in response order, kept for :meth:`remap`.
    """

    entity: str
    changes: ChangeBatch
    following: Link | None
    page_size: int
    rejected: tuple[ValueConversionError, ...] = ()
    entries: tuple[Entry, ...] = field(default=(), repr=False)

    @property
    def is_last(self) -> bool:
        """No nextLink follows: the baseline or delta sequence is complete."""
        return self.following is None or self.following.kind is LinkKind.DELTA

    @property
    def upserts(self) -> tuple[Upsert, ...]:
        """The mapped upserts, in response order."""
        return self.changes.upserts

    @property
    def deletes(self) -> tuple[Delete, ...]:
        """The deletes, in response order."""
        return self.changes.deletes

    @property
    def record_ids(self) -> tuple[str, ...]:
        """Every id this page read, upserted, rejected or deleted (a re-baseline's seen-set, DES §7.6)."""
        mapped = tuple(change.record_id for change in self.changes.changes)
        return mapped + tuple(error.record_id for error in self.rejected if error.record_id)

    @property
    def unknown_attributes(self) -> frozenset[str]:
        """Attributes some row carried that the schema does not know (refresh metadata first, R7)."""
        return self.changes.unknown_attributes

    def remap(self, schema: EntitySchema) -> Page:
        """The same page mapped again with ``schema`` (after a metadata refresh)."""
        return map_page(schema, self.entries, self.following, self.page_size)


def map_page(schema: EntitySchema, entries: tuple[Entry, ...], following: Link | None, page_size: int) -> Page:
    """Build a :class:`Page` from ``entries`` in response order, mapping each row with the domain's rules.

    A row whose values do not fit goes to :attr:`Page.rejected`; the others keep their order.

    Raises:
        SourceUnavailable: a row has no primary id or version (an invalid page, R13).
    """
    changes: list[Upsert | Delete] = []
    rejected: list[ValueConversionError] = []
    for entry in entries:
        if isinstance(entry, Delete):
            changes.append(entry)
            continue
        try:
            changes.append(row_to_values(schema, entry))
        except ValueConversionError as error:
            rejected.append(error)
    batch = ChangeBatch(schema.logical_name, tuple(changes))
    return Page(schema.logical_name, batch, following, page_size, tuple(rejected), entries)


@dataclass(frozen=True, slots=True)
class OrgIdentity:
    """What ``RetrieveCurrentOrganization`` says about the organization (DES §1.1)."""

    organization_id: str
    friendly_name: str | None = None
    unique_name: str | None = None
    geo: str | None = None
    tenant_id: str | None = None
    environment_id: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """``WhoAmI``: the system user the service reads as (the application user of its client id)."""

    user_id: str
    business_unit_id: str
    organization_id: str


@dataclass(frozen=True, slots=True)
class EntitySummary:
    """One table of the organization, as the entity list shows it."""

    logical_name: str
    entity_set_name: str
    primary_id: str
    change_tracking: bool
    is_intersect: bool
    schema_name: str | None = None
    display_name: str | None = None
    is_private: bool = False

    @property
    def is_exportable(self) -> bool:
        """Whether a profile may select it (DES §3.3): tracked, not private, not an intersect, not activitypointer."""
        return (
            self.change_tracking
            and not self.is_private
            and not self.is_intersect
            and self.logical_name != "activitypointer"
        )


@dataclass(frozen=True, slots=True)
class MetadataChanges:
    """What changed in the organization's metadata since a stamp (R7).

    Attributes:
        stamp: the ``ServerVersionStamp`` to pass next time (opaque).
        changed: logical names of entities whose definition or attributes changed.
        everything: no usable stamp was given (first call, or it expired): treat every entity as changed.
    """

    stamp: str
    changed: frozenset[str] = frozenset()
    everything: bool = False

    def affects(self, logical_name: str) -> bool:
        """Whether ``logical_name``'s metadata must be read again."""
        return self.everything or logical_name in self.changed


class Source(Protocol):
    """Dataverse as the engine sees it: organization identity, metadata, and pages of changes."""

    def check_connection(self) -> None:
        """Make one cheap authenticated request (the service document). Idempotent.

        Raises:
            SourceCredentialsRejected: the client id or secret is wrong.
            SourceUnavailable: Dataverse or the token endpoint could not be reached.
        """
        ...

    def organization(self) -> OrgIdentity:
        """The organization's identity (``RetrieveCurrentOrganization``), read at each call."""
        ...

    def who_am_i(self) -> Caller:
        """The system user the credentials map to (``WhoAmI``)."""
        ...

    def entities(self) -> tuple[EntitySummary, ...]:
        """Every table of the organization, ordered by logical name."""
        ...

    def entity_schema(self, logical_name: str) -> EntitySchema:
        """The entity's metadata: attributes with their kinds, lengths, precisions, behaviours, lookup
        targets and option sets (all localized labels); intersect keys for N:N tables. Read at each call.

        Raises:
            SourceRequestRefused: the entity does not exist (status 404) or may not be read.
        """
        ...

    def many_to_many(self, logical_name: str) -> tuple[ManyToManyRelationship, ...]:
        """The N:N relationships the entity takes part in, ordered by schema name."""
        ...

    def metadata_changes(self, since: str | None) -> MetadataChanges:
        """Which entities' metadata changed since ``since`` (a previous :attr:`MetadataChanges.stamp`).

        ``since=None`` or an expired stamp gives ``everything=True`` with a fresh stamp.
        """
        ...

    def read_page(self, schema: EntitySchema, link: Link | None = None) -> Page:
        """Read one page: the first page of a baseline (``link=None``), or the page at a saved link.

        A baseline sends no ``$select`` and asks for change tracking when ``schema.change_tracking``; the
        link is followed verbatim (R2). The page is validated before it is returned (R13); a page that
        fails validation is retried like a 5xx and, in the end, raised as transient: no row of it is
        returned. When a page keeps failing (or exceeds the byte cap), the entity's page size is halved
        and the *same* link is read again (R12); :meth:`page_size` then reports the smaller size.

        Raises:
            DeltaTokenExpired: the delta token expired: re-baseline.
            LinkRejected: Dataverse refused a nextLink: restart from the last deltaLink.
            ChangeTrackingDisabled: the table is not change-tracked (terminal for the entity).
            SourceUnavailable: the page could not be read now (nothing was returned).
            SourceRequestRefused: another 4xx (privilege missing, entity removed ...).
        """
        ...

    def read_record(self, schema: EntitySchema, record_id: str) -> Upsert | None:
        """The record's current state (retries re-read instead of replaying a payload, DES §7.5), or None
        when it no longer exists (the delete path).

        Raises:
            ValueConversionError: the record's values still do not fit their attributes.
        """
        ...

    def page_size(self, entity: str) -> int:
        """The ``odata.maxpagesize`` the next page of ``entity`` will use (persist it with the state)."""
        ...

    def set_page_size(self, entity: str, size: int) -> None:
        """Restore a persisted page size (clamped to the configured floor and ceiling)."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent; the source cannot be used afterwards."""
        ...
