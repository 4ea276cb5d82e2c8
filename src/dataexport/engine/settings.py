"""The engine's tunables as one frozen value, so tests can shorten every TTL and interval.

Defaults follow DES: write batches of 1,000 rows (§7.3), adaptive polling 0.5 s -> 15 s (§7.1), untracked
intersect tables re-read every 60 min (§6.6), metadata checked every 15 min (§7.8), backoff 1 s -> 60 s for
transient errors and 5 s -> 5 min when the destination is unavailable (§8.1).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from dataexport.domain.sync import TRANSIENT_BACKOFF, UNAVAILABLE_BACKOFF, Backoff


def default_owner() -> str:
    """A lease owner id unique to this process: ``<host>:<pid>:<random>``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Everything the engine's timing and sizing depends on.

    Attributes:
        batch_size: changes per write batch, one destination transaction each (DES §7.3).
        bulk_batch_size: the same for a destination with a bulk path (``Capabilities.bulk_copy``): a whole
            page (Dataverse's 5,000 rows) per transaction, so the bulk path's fixed cost per batch is paid once.
        lease_ttl: how long a step's lease lasts without renewal; a dead worker's subject is resumed by
            another one after it.
        owner: this worker's lease owner id.
        min_interval: seconds between delta polls while deltas bring changes (DES §7.1).
        max_interval: the ceiling the interval doubles up to on empty deltas.
        workers: subjects synced concurrently by one :class:`~dataexport.engine.runner.ProfileRunner`.
        prefetch_pages: pages the reader thread may hold ahead of the writer.
        untracked_reread_interval: full re-read period of untracked intersect tables (DES §6.6).
        metadata_refresh_interval: how often a subject's metadata is read again (DES §7.8).
        retries_per_step: due retries processed in one step at most (the rest wait for the next step).
        transient_backoff: delays after transient errors (deadlock, timeout, Dataverse 5xx).
        unavailable_backoff: delays while the destination is unavailable.
        once_attempts: steps :meth:`~dataexport.engine.runner.ProfileRunner.run_once` tries per subject
            before it reports the subject's transient error instead of waiting longer.
        max_pages_per_step: pages one step reads before it yields its worker (None: the whole read
            sequence), so a large initial sync never starves other subjects' deltas; the next step resumes
            from the saved link.
        write_record_data: write each given-up record as read under the failure store's ``data/`` folder
            (DES §8.4); off for privacy.
    """

    batch_size: int = 1000
    bulk_batch_size: int = 5000
    lease_ttl: timedelta = timedelta(seconds=120)
    owner: str = field(default_factory=default_owner)
    min_interval: float = 0.5
    max_interval: float = 15.0
    workers: int = 4
    prefetch_pages: int = 2
    untracked_reread_interval: timedelta = timedelta(minutes=60)
    metadata_refresh_interval: timedelta = timedelta(minutes=15)
    retries_per_step: int = 100
    transient_backoff: Backoff = TRANSIENT_BACKOFF
    unavailable_backoff: Backoff = UNAVAILABLE_BACKOFF
    once_attempts: int = 5
    max_pages_per_step: int | None = 50
    write_record_data: bool = True

    def __post_init__(self) -> None:
        sizes = (self.batch_size, self.bulk_batch_size, self.workers, self.prefetch_pages, self.once_attempts)
        if min(sizes) < 1:
            raise ValueError(
                "batch_size, bulk_batch_size, workers, prefetch_pages and once_attempts must be at least 1"
            )
        if not 0 < self.min_interval <= self.max_interval:
            raise ValueError("Polling needs 0 < min_interval <= max_interval")
        if self.lease_ttl <= timedelta(0):
            raise ValueError("lease_ttl must be positive")
