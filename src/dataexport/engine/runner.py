"""``ProfileRunner``: every subject of one profile, initial sync then delta, on a bounded thread pool.

Each subject runs in at most one worker at a time (the runner never submits it twice, and the lease keeps
other runners and processes out). ``run_once`` takes every subject through its initial sync (or one delta
poll when it is already in ``Delta``) and returns; ``run`` keeps polling, adaptively, until stopped.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from dataexport.destination.base import Destination
from dataexport.domain.profile import ExportProfile
from dataexport.domain.sync import EntityPhase
from dataexport.engine.context import Clock, SyncContext
from dataexport.engine.failure_store import FailureStore
from dataexport.engine.observer import NullObserver, SyncObserver
from dataexport.engine.polling import PollState, initial_poll, next_poll
from dataexport.engine.settings import EngineSettings
from dataexport.engine.step import StepOutcome, StepStatus, SyncStep
from dataexport.engine.subjects import subjects_of
from dataexport.source.base import Source
from dataexport.store.base import Store
from dataexport.store.values import SyncKey, system_clock

Sleep = Callable[[float], None]
_TICK_SECONDS = 0.2
_SETTLED = frozenset({StepStatus.DONE, StepStatus.IDLE, StepStatus.PARKED, StepStatus.FAILED})


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The last outcome of every subject (for ``run_once``: with its changes and pages summed over the run)."""

    outcomes: tuple[StepOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Every subject finished its work without an error."""
        return all(outcome.status in (StepStatus.DONE, StepStatus.IDLE) for outcome in self.outcomes)

    @property
    def received(self) -> int:
        """Changes read over all subjects."""
        return sum(outcome.received for outcome in self.outcomes)

    def outcome(self, key: SyncKey) -> StepOutcome | None:
        """The outcome of ``key``, if it ran."""
        return next((outcome for outcome in self.outcomes if outcome.key == key), None)


@dataclass
class _Schedule:
    """The continuous loop's memory per subject."""

    due: dict[SyncKey, float]
    polls: dict[SyncKey, PollState]
    last: dict[SyncKey, StepOutcome] = field(default_factory=dict)
    flying: dict[Future[StepOutcome], tuple[SyncKey, float]] = field(default_factory=dict)


class ProfileRunner:
    """Runs one profile's entities and relationships.

    Args:
        profile: the export profile.
        source, destination, store, failure_store: the adapters, already built.
        settings: the engine's tunables.
        clock: aware-UTC now (store timestamps, retry times).
        sleep: waits of ``run_once`` (backoff, a busy lease); tests pass a fake one.
        observer: progress callbacks.
        jitter: uniform random numbers in [0, 1] for the backoff.
        slots: shared by every runner of a process (``serve``), it bounds the steps running at once across
            all profiles; a step waits for a slot (pausing when stopped meanwhile). None: only ``workers``.
    """

    def __init__(
        self,
        profile: ExportProfile,
        *,
        source: Source,
        destination: Destination,
        store: Store,
        failure_store: FailureStore,
        settings: EngineSettings | None = None,
        clock: Clock = system_clock,
        sleep: Sleep = time.sleep,
        observer: SyncObserver | None = None,
        jitter: Callable[[], float] = random.random,
        slots: threading.Semaphore | None = None,
    ) -> None:
        self.context = SyncContext(
            profile,
            source,
            destination,
            store,
            failure_store,
            settings or EngineSettings(),
            clock,
            observer or NullObserver(),
        )
        self._steps = SyncStep(self.context)
        self._sleep = sleep
        self._jitter = jitter
        self._slots = slots

    @property
    def subjects(self) -> tuple[SyncKey, ...]:
        """The profile's entities, then its relationships."""
        return subjects_of(self.context.profile)

    @property
    def settings(self) -> EngineSettings:
        """The engine's tunables."""
        return self.context.settings

    def step(self, key: SyncKey, stop: threading.Event | None = None) -> StepOutcome:
        """One step of one subject (what a task queue worker calls); never raises."""
        if not self._take_slot(stop):
            return StepOutcome(key, StepStatus.PAUSED)
        try:
            return self._steps.run(key, stop)
        except Exception as error:  # a bug must not kill the pool: report it, the scheduler backs off
            message = f"Unexpected error: {error!r}"
            self.context.observer.on_error(key, message)
            return StepOutcome(key, StepStatus.RETRY, error=message)
        finally:
            if self._slots is not None:
                self._slots.release()

    def _take_slot(self, stop: threading.Event | None) -> bool:
        """Wait for a shared slot (if any); False when ``stop`` is set first (nothing taken)."""
        if stop is not None and stop.is_set():
            return False
        if self._slots is None:
            return True
        while not self._slots.acquire(timeout=_TICK_SECONDS):
            if stop is not None and stop.is_set():
                return False
        if stop is not None and stop.is_set():
            self._slots.release()
            return False
        return True

    def run_once(self) -> RunSummary:
        """Take every subject through its initial sync, or one delta poll if it is in ``Delta``; then return.

        A transient error is retried with backoff up to ``settings.once_attempts`` steps, then reported in
        the summary; a subject whose lease another worker holds is waited for up to twice the lease TTL.
        """
        self._announce(self.subjects)
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="sync") as pool:
            outcomes = list(pool.map(self._once, self.subjects))
        return RunSummary(tuple(outcomes))

    def run(self, stop: threading.Event) -> RunSummary:
        """Keep every subject in sync until ``stop`` is set (or a profile-wide error); then return.

        Steps in flight stop between pages and are waited for.
        """
        subjects = self.subjects
        self._announce(subjects)
        now = time.monotonic()
        schedule = _Schedule(dict.fromkeys(subjects, now), {key: initial_poll(self.settings) for key in subjects})
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="sync") as pool:
            while not stop.is_set():
                self._submit_due(pool, schedule, stop)
                self._collect(schedule, stop, timeout=self._wait_time(schedule))
                if any(outcome.profile_wide for outcome in schedule.last.values()):
                    break
            self._collect(schedule, stop, timeout=None)
        return RunSummary(tuple(schedule.last[key] for key in subjects if key in schedule.last))

    def _once(self, key: SyncKey) -> StepOutcome:
        settings, received, pages, errors = self.settings, 0, 0, 0
        waited, patience = 0.0, 2 * settings.lease_ttl.total_seconds()
        while True:
            outcome = self.step(key)
            received, pages = received + outcome.received, pages + outcome.pages
            outcome = replace(outcome, received=received, pages=pages)
            if outcome.status in _SETTLED:
                return outcome
            if outcome.status is StepStatus.BUSY:
                if waited >= patience:
                    return outcome
                self._sleep(settings.min_interval)
                waited += settings.min_interval
            elif outcome.status is StepStatus.RETRY:
                errors += 1
                if errors >= settings.once_attempts:
                    return outcome
                backoff = settings.unavailable_backoff if outcome.unavailable else settings.transient_backoff
                self._sleep(backoff.delay(errors - 1, self._jitter()))

    def _submit_due(self, pool: ThreadPoolExecutor, schedule: _Schedule, stop: threading.Event) -> None:
        now = time.monotonic()
        flying = {key for key, _started in schedule.flying.values()}
        for key, due in schedule.due.items():
            if due <= now and key not in flying:
                schedule.flying[pool.submit(self.step, key, stop)] = (key, now)

    def _wait_time(self, schedule: _Schedule) -> float:
        flying = {key for key, _started in schedule.flying.values()}
        waiting = [due for key, due in schedule.due.items() if key not in flying]
        earliest = min(waiting, default=time.monotonic() + _TICK_SECONDS)
        return max(0.0, min(_TICK_SECONDS, earliest - time.monotonic()))

    def _collect(self, schedule: _Schedule, stop: threading.Event, *, timeout: float | None) -> None:
        """Wait up to ``timeout`` for a step to finish (None: for all of them) and schedule what finished."""
        if not schedule.flying:
            if timeout:
                stop.wait(timeout)
            return
        if timeout is None:
            done = wait(schedule.flying).done
        else:
            done = wait(schedule.flying, timeout=timeout, return_when=FIRST_COMPLETED).done
        for future in done:
            key, started = schedule.flying.pop(future)
            outcome = future.result()
            delay, schedule.polls[key] = next_poll(
                outcome, schedule.polls[key], self.settings, now=self.context.clock(), jitter=self._jitter()
            )
            schedule.due[key] = started + delay
            schedule.last[key] = outcome

    def _announce(self, subjects: Iterable[SyncKey]) -> None:
        for key in subjects:
            state = self.context.store.states.load(key)
            self.context.observer.on_phase(key, state.phase if state else EntityPhase.NOT_STARTED)
