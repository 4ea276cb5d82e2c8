"""The sync engine: steps per (profile, subject), the profile runner, failure processing, re-baselines.

It sees only Protocols (``Source``, ``Destination``, ``Store``, ``FailureStore``), a clock and a sleep;
composition happens in the CLI or the service.

- :mod:`.step`: one idempotent, resumable step (lease, phase, read sequence, retries, error outcome).
- :mod:`.sequence`: reading pages and checkpointing each one, the one module that advances links.
- :mod:`.pages`, :mod:`.writes`: writing a page in batches under the version and tombstone guards.
- :mod:`.failures`, :mod:`.failure_log`, :mod:`.failure_store`: the record retry rules and the failure log.
- :mod:`.rebaseline`: re-baseline causes and the delete sweep.
- :mod:`.resync`: ``resyncfailed`` runs: start, status, outcome counts.
- :mod:`.schema_sync`: metadata, DDL and schema changes per subject.
- :mod:`.reader`: the prefetching page reader thread.
- :mod:`.runner`, :mod:`.polling`: the profile runner and its adaptive polling.
- :mod:`.settings`, :mod:`.observer`, :mod:`.context`, :mod:`.subjects`: tunables, progress callbacks, wiring.
"""

from dataexport.engine.failure_store import FailureStore, LocalFailureStore
from dataexport.engine.observer import NullObserver, SyncObserver
from dataexport.engine.rebaseline import RebaselineCause, request_rebaseline
from dataexport.engine.resync import ResyncNotActive, start_resync
from dataexport.engine.runner import ProfileRunner, RunSummary
from dataexport.engine.settings import EngineSettings
from dataexport.engine.step import StepOutcome, StepStatus, SyncStep

__all__ = [
    "EngineSettings",
    "FailureStore",
    "LocalFailureStore",
    "NullObserver",
    "ProfileRunner",
    "RebaselineCause",
    "ResyncNotActive",
    "RunSummary",
    "StepOutcome",
    "StepStatus",
    "SyncObserver",
    "SyncStep",
    "request_rebaseline",
    "start_resync",
]
