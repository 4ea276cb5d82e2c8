"""Reading one sequence of pages and checkpointing each one: the one module that advances links (DES §7.4).

A sequence is a baseline (from the start or a saved nextLink) or a delta poll (from the deltaLink or a saved
nextLink). Pages are prefetched by a reader thread; each page is written in full, then (in a re-baseline)
its ids are recorded in the seen-set, and only then is the link that follows it saved, under the step's
lease and the state's revision. The last page of a baseline completes the initial sync (after the sweep,
in a re-baseline); the last page of a delta poll saves the new deltaLink.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dataexport.domain.sync import EntityPhase
from dataexport.engine.context import SyncContext
from dataexport.engine.failures import RecordFailures
from dataexport.engine.pages import PageWrite, write_page
from dataexport.engine.reader import PrefetchingReader
from dataexport.engine.rebaseline import RebaselineCause, sweep
from dataexport.engine.schema_sync import SchemaSync, SubjectSchema
from dataexport.source.base import Link, LinkKind, Page
from dataexport.store.values import Counters, EntityState, Lease
from dataexport.store.values import LinkKind as StoredLinkKind

#: The "delta link" saved after a full read of an untracked table: there is no token; it is never read.
UNTRACKED_LINK = "untracked:reloaded"


class SequenceEnd(StrEnum):
    """How a sequence stopped."""

    COMPLETE = "complete"  # the last page was written and its link saved
    PAUSED = "paused"  # the page budget was reached or a stop was requested; resume from the saved link


@dataclass
class StepLease:
    """The step's lease, renewed when a third of its time is used up (the holder changes on renewal)."""

    context: SyncContext
    lease: Lease
    renewed_at: datetime

    def keep_alive(self) -> Lease:
        """The current lease, renewed first if due.

        Raises:
            LeaseLost: it expired or was taken over.
        """
        ttl = self.context.settings.lease_ttl
        now = self.context.clock()
        if now - self.renewed_at >= ttl / 3:
            self.lease = self.context.store.leases.renew(self.lease, ttl)
            self.renewed_at = now
        return self.lease


@dataclass
class SequenceRun:
    """One sequence of one subject inside a step; ``state`` follows every checkpoint."""

    context: SyncContext
    schemas: SchemaSync
    subject: SubjectSchema
    state: EntityState
    lease: StepLease
    failures: RecordFailures
    started_at: datetime
    stop: threading.Event | None = None
    received: int = 0
    pages: int = 0
    _page_size: int | None = field(default=None, init=False)

    def read(self, first: Link | None, cause: RebaselineCause | None) -> SequenceEnd:
        """Read, write and checkpoint pages from ``first`` (None: the baseline start) to the end or the budget.

        Raises:
            SourceRestartRequired: the link cannot be read (expired token, rejected nextLink); nothing of
                the page was written.
            TransientError, TerminalError: the step stops; committed pages stay checkpointed.
        """
        how = PageWrite(
            read_started_at=self.started_at,
            rewrite_equal=cause.rewrites_equal if cause else False,
            initial=self.state.phase is EntityPhase.INITIAL_SYNC,
        )
        budget = self.context.settings.max_pages_per_step
        with PrefetchingReader(self._next_page(first, budget), prefetch=self.context.settings.prefetch_pages) as pages:
            for page in pages:
                self._write(self._with_known_attributes(page), how, cause)
                if page.is_last:
                    return SequenceEnd.COMPLETE
                if (budget is not None and self.pages >= budget) or (self.stop is not None and self.stop.is_set()):
                    return SequenceEnd.PAUSED
        return SequenceEnd.PAUSED

    def _next_page(self, first: Link | None, budget: int | None) -> Callable[[Page | None], Page | None]:
        source = self.context.source
        requested = 0

        def next_page(previous: Page | None) -> Page | None:
            nonlocal requested
            if previous is not None and (previous.is_last or previous.following is None):
                return None
            if budget is not None and requested >= budget:
                return None
            requested += 1
            link = first if previous is None else previous.following
            return source.read_page(self.subject.schema, link)

        return next_page

    def _with_known_attributes(self, page: Page) -> Page:
        """The page mapped with a schema that knows its attributes (R7, DES §6.9), refreshed if needed."""
        unknown = page.unknown_attributes
        if not unknown:
            return page
        known = frozenset(self.subject.schema.attributes_by_name)
        if not unknown <= known:
            refreshed = self.schemas.refresh_for_unknown(self.state.key, unknown - known, self.state.metadata_stamp)
            if refreshed is not None:
                self.subject = refreshed
                known = frozenset(refreshed.schema.attributes_by_name)
        return page.remap(self.subject.schema) if unknown & known else page

    def _write(self, page: Page, how: PageWrite, cause: RebaselineCause | None) -> None:
        key = self.state.key
        counters = write_page(self.context, key, self.subject.schema, page, how, self.failures)
        if cause is not None:
            self.context.store.seen.record(key, page.record_ids)
        self._checkpoint(page, counters, cause)
        self.received += counters.received
        self.pages += 1
        self._persist_page_size()
        self.context.observer.on_page(key, self.state, counters.received)

    def _checkpoint(self, page: Page, counters: Counters, cause: RebaselineCause | None) -> None:
        following = page.following
        if following is None:
            self._complete(UNTRACKED_LINK, counters, cause)
        elif following.kind is LinkKind.DELTA and self.state.phase is EntityPhase.INITIAL_SYNC:
            self._complete(following.url, counters, cause)
        elif following.kind is LinkKind.DELTA:
            self._save(following.url, StoredLinkKind.DELTA, counters)
        else:
            self._save(following.url, StoredLinkKind.NEXT, counters)

    def _save(self, link: str, kind: StoredLinkKind, counters: Counters) -> None:
        lease = self.lease.keep_alive()
        started = self.started_at if kind is StoredLinkKind.DELTA else None
        self.state = self.context.store.states.save_page_checkpoint(
            lease,
            link=link,
            link_kind=kind,
            counters=counters,
            expected_revision=self.state.revision,
            poll_started_at=started,
        )

    def _complete(self, delta_link: str, counters: Counters, cause: RebaselineCause | None) -> None:
        if cause is not None:
            counters += sweep(self.context, self.state.key, self.subject.schema, self.failures, self.lease.keep_alive)
        began = self.state.initial_sync_started_at
        started = min(self.started_at, began) if began else self.started_at
        self.state = self.context.store.states.complete_initial_sync(
            self.lease.keep_alive(),
            delta_link=delta_link,
            counters=counters,
            expected_revision=self.state.revision,
            poll_started_at=started,
        )
        self.context.observer.on_phase(self.state.key, self.state.phase)

    def restore_page_size(self) -> None:
        """Give the source the page size persisted for this table (DES §7.7), before the first read."""
        entity = self.subject.schema.logical_name
        if self.state.page_size is not None:
            self.context.source.set_page_size(entity, self.state.page_size)
        self._page_size = self.context.source.page_size(entity)

    def _persist_page_size(self) -> None:
        size = self.context.source.page_size(self.subject.schema.logical_name)
        if size != self._page_size:
            self.context.store.states.set_page_size(self.state.key, size)
            self._page_size = size


def lag_seconds(state: EntityState, now: datetime) -> float | None:
    """Age of the newest data guaranteed in the destination (DES §4.4 ``LagSeconds``), None before a poll."""
    started = state.last_poll_started_at
    return None if started is None else max(timedelta(0), now - started).total_seconds()
