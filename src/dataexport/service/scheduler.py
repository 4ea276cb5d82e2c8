"""The scheduler inside ``dataexport serve``: one worker thread per Active profile, running the engine.

Each worker builds its profile's connections and runs :meth:`ProfileRunner.run` (its own bounded pool) until
stopped. A transient error while connecting (secret store, Dataverse or destination unreachable) sets the
profile's ``LastError`` and is retried with backoff; a terminal one (secret missing, credentials refused,
destination login refused, another organization at the URL) moves the profile to ``Failed`` (DES §4.1). A
restart resumes every subject from its saved link, because all state is in the control database.

A housekeeping thread runs the retention purge (DES §8.5) once a day.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from dataexport.domain.profile import ExportProfile, ProfileState
from dataexport.domain.sync import TRANSIENT_BACKOFF, Backoff
from dataexport.errors import DataExportError, TerminalError
from dataexport.service.runs import ProfileRun

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 5.0


class ProfileRecords(Protocol):
    """What the scheduler reads and writes about profiles."""

    def active_profiles(self) -> list[ExportProfile]:
        """Every Active profile."""
        ...

    def load(self, profile_id: str) -> ExportProfile | None:
        """The stored profile, if any."""
        ...

    def record_error(self, profile_id: str, message: str | None, *, failed: bool) -> None:
        """Set the profile-wide ``LastError``; ``failed`` also moves an Active profile to ``Failed``."""
        ...


@dataclass
class _Worker:
    profile: ExportProfile
    stop: threading.Event
    thread: threading.Thread = field(init=False)  # set by Scheduler._spawn, which starts it
    run: ProfileRun | None = None

    def interrupt(self) -> None:
        """End the run's waits on Dataverse (backoff, retries): the steps then stop as transient."""
        run = self.run
        if run is not None:
            run.interrupt()


class Scheduler:
    """Runs every Active profile; :meth:`refresh` after each lifecycle change keeps it in step with the store.

    Args:
        records: profile reads and error recording.
        build: connects one profile (:class:`~dataexport.service.runs.RunFactory`).
        housekeeping: the retention purge, run at start and then every ``housekeeping_interval``.
        backoff: delays between connection attempts after transient errors.
    """

    def __init__(
        self,
        records: ProfileRecords,
        build: Callable[[ExportProfile], ProfileRun],
        *,
        housekeeping: Callable[[], object] | None = None,
        housekeeping_interval: timedelta = timedelta(days=1),
        backoff: Backoff = TRANSIENT_BACKOFF,
    ) -> None:
        self._records = records
        self._build = build
        self._housekeeping = housekeeping
        self._housekeeping_interval = housekeeping_interval
        self._backoff = backoff
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._started = False

    @property
    def running(self) -> bool:
        """Started and not shut down (``/readyz``)."""
        return self._started and not self._closing.is_set()

    def start(self) -> None:
        """Start a worker for every Active profile, and the housekeeping thread."""
        self._started = True
        for profile in self._records.active_profiles():
            self.refresh(profile.id)
        if self._housekeeping is not None:
            self._housekeeper = threading.Thread(target=self._housekeep, name="housekeeping", daemon=True)
            self._housekeeper.start()

    def refresh(self, profile_id: str) -> None:
        """Match the profile's worker to its stored state: start, restart (profile changed) or stop it."""
        with self._lock:
            if self._closing.is_set():
                return
            profile = self._records.load(profile_id)
            worker = self._workers.get(profile_id)
            wanted = profile is not None and profile.state is ProfileState.ACTIVE
            if worker is not None and worker.thread.is_alive() and wanted and _same_run(worker.profile, profile):
                return
            self.stop(profile_id)
            if wanted and profile is not None:
                self._workers[profile_id] = self._spawn(profile)

    def stop(self, profile_id: str) -> None:
        """Stop the profile's worker; in-flight batches commit or roll back first (waits up to 60 s).

        After a short grace the run's Dataverse source is closed, so a step waiting on an unreachable Dataverse
        (backoff between retries) ends at once instead of holding the stop.
        """
        with self._lock:
            worker = self._workers.pop(profile_id, None)
        if worker is None:
            return
        worker.stop.set()
        if worker.thread is threading.current_thread():
            return
        worker.thread.join(STOP_GRACE_SECONDS)
        if worker.thread.is_alive():
            worker.interrupt()
            worker.thread.join(STOP_TIMEOUT_SECONDS - STOP_GRACE_SECONDS)
        if worker.thread.is_alive():
            log.warning("profile %s: its runner did not stop within %s s", profile_id, STOP_TIMEOUT_SECONDS)

    def is_running(self, profile_id: str) -> bool:
        """Whether the profile has a live worker."""
        with self._lock:
            worker = self._workers.get(profile_id)
        return worker is not None and worker.thread.is_alive()

    def shutdown(self) -> None:
        """Stop every worker and the housekeeping thread."""
        self._closing.set()
        with self._lock:
            ids = list(self._workers)
        for profile_id in ids:
            self.stop(profile_id)
        if self._housekeeper is not None:
            self._housekeeper.join(5)

    def _spawn(self, profile: ExportProfile) -> _Worker:
        worker = _Worker(profile, threading.Event())
        worker.thread = threading.Thread(
            target=self._run, args=(worker,), name=f"profile-{profile.id[:8]}", daemon=True
        )
        worker.thread.start()
        return worker

    def _run(self, worker: _Worker) -> None:
        profile, stop = worker.profile, worker.stop
        attempt = 0
        while not stop.is_set():
            try:
                run = self._build(profile)
            except TerminalError as error:
                log.error("profile %s (%s) failed and stops: %s", profile.id, profile.name, error)
                self._records.record_error(profile.id, str(error), failed=True)
                return
            except DataExportError as error:
                delay = self._backoff.delay(attempt, random.random())
                log.warning(
                    "profile %s (%s) cannot connect now, next try in %.0f s: %s", profile.id, profile.name, delay, error
                )
                self._records.record_error(profile.id, str(error), failed=False)
                stop.wait(delay)
                attempt += 1
                continue
            attempt = 0
            log.info("profile %s (%s): syncing %d subject(s)", profile.id, profile.name, len(run.runner.subjects))
            worker.run = run
            try:
                self._records.record_error(profile.id, None, failed=False)
                summary = run.runner.run(stop)
            finally:
                worker.run = None
                run.close()
            wide = next((outcome for outcome in summary.outcomes if outcome.profile_wide), None)
            if wide is not None:
                log.error("profile %s (%s) failed and stops: %s", profile.id, profile.name, wide.error)
                self._records.record_error(profile.id, wide.error, failed=True)
                return
        log.info("profile %s (%s): stopped", profile.id, profile.name)

    def _housekeep(self) -> None:
        assert self._housekeeping is not None
        while not self._closing.is_set():
            try:
                self._housekeeping()
            except DataExportError as error:
                log.warning("retention purge failed, next attempt in an hour: %s", error)
                self._closing.wait(3600)
                continue
            self._closing.wait(self._housekeeping_interval.total_seconds())


_NOT_RUN_FIELDS = frozenset({"name", "created_on", "modified_on", "first_activated_on", "last_error"})


def _same_run(running: ExportProfile, stored: ExportProfile | None) -> bool:
    """Whether the stored profile runs exactly like the running one (a new name or LastError does not restart it)."""
    if stored is None:
        return False
    return running.model_dump(exclude=set(_NOT_RUN_FIELDS)) == stored.model_dump(exclude=set(_NOT_RUN_FIELDS))
