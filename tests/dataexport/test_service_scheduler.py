"""The scheduler inside ``serve``: a worker per Active profile running the real engine, in step with the store;
transient connection errors set ``LastError`` and are retried, terminal ones move the profile to ``Failed``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine
from test_destination_support import simple_schema
from test_engine_support import CONTACT, FAST, contact_row, guid, make_profile

from dataexport.destination.memory import MemoryDestination
from dataexport.domain.profile import ExportProfile, ProfileState, Selection
from dataexport.domain.sync import Backoff
from dataexport.engine import LocalFailureStore, ProfileRunner
from dataexport.errors import SecretNotFound, SecretUnavailable
from dataexport.service.profiles import record_profile_error
from dataexport.service.runs import ProfileRun
from dataexport.service.scheduler import STOP_GRACE_SECONDS, Scheduler
from dataexport.source.dataverse import DataverseSource, SourceConfig, StaticToken
from dataexport.source.scripted import ScriptedSource
from dataexport.store import ControlStore, open_store
from dataexport.store.values import Organization

QUICK = Backoff(initial=0.01, maximum=0.02)
ORGANIZATION = Organization(
    id="00000000-0000-4000-8000-000000000001",
    url="https://contoso.crm.dynamics.com",
    friendly_name="Contoso",
    unique_name="contoso",
    tenant_id="9a000000-0000-4000-8000-000000000000",
    region="NA",
)


class Records:
    """The scheduler's view of a real control store (as ``runtime`` wires it)."""

    def __init__(self, store: ControlStore) -> None:
        self.store = store
        self.recorded: list[tuple[str | None, bool]] = []

    def active_profiles(self) -> list[ExportProfile]:
        return [p for p in self.store.profiles.list() if p.state is ProfileState.ACTIVE]

    def load(self, profile_id: str) -> ExportProfile | None:
        return self.store.profiles.get(profile_id)

    def record_error(self, profile_id: str, message: str | None, *, failed: bool) -> None:
        self.recorded.append((message, failed))
        record_profile_error(self.store, profile_id, message, failed=failed)


@dataclass
class Factory:
    """Builds a real runner over one scripted source and memory destination; ``errors`` are raised first."""

    tmp_path: Path
    store: ControlStore
    source: ScriptedSource
    destination: MemoryDestination
    errors: list[Exception] = field(default_factory=list)
    built: list[ExportProfile] = field(default_factory=list)

    def __call__(self, profile: ExportProfile) -> ProfileRun:
        if self.errors:
            raise self.errors.pop(0)
        self.built.append(profile)
        runner = ProfileRunner(
            profile,
            source=self.source,
            destination=self.destination,
            store=self.store,
            failure_store=LocalFailureStore(self.tmp_path / "failures"),
            settings=FAST,
        )
        return ProfileRun(runner, self.source, create_engine("sqlite://"))  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ControlStore]:
    with open_store(f"sqlite:///{tmp_path / 'control.db'}") as opened:
        opened.organizations.save(ORGANIZATION)
        yield opened


@pytest.fixture
def factory(tmp_path: Path, store: ControlStore) -> Factory:
    source = ScriptedSource([simple_schema(CONTACT)])
    source.script_baseline(CONTACT, [contact_row(1, 11), contact_row(2, 12)])
    return Factory(tmp_path, store, source, MemoryDestination())


@pytest.fixture
def records(store: ControlStore) -> Records:
    return Records(store)


@pytest.fixture
def scheduler(records: Records, factory: Factory) -> Iterator[Scheduler]:
    running = Scheduler(records, factory, backoff=QUICK)
    yield running
    running.shutdown()


def active(store: ControlStore, **changes: object) -> ExportProfile:
    profile = make_profile().model_copy(update={"state": ProfileState.ACTIVE, **changes})
    return store.profiles.save(profile)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_active_profile_syncs_from_start_and_stops_with_the_scheduler(
    store: ControlStore, factory: Factory, scheduler: Scheduler
) -> None:
    profile = active(store)
    scheduler.start()
    wait_for(
        lambda: CONTACT in factory.destination.tables and set(factory.destination.rows(CONTACT)) == {guid(1), guid(2)}
    )
    assert scheduler.is_running(profile.id) and scheduler.running
    scheduler.shutdown()
    assert not scheduler.is_running(profile.id) and not scheduler.running


def test_refresh_restarts_only_when_what_runs_changed(
    store: ControlStore, factory: Factory, scheduler: Scheduler
) -> None:
    profile = active(store)
    scheduler.start()
    wait_for(lambda: scheduler.is_running(profile.id) and len(factory.built) == 1)
    store.profiles.save(profile.model_copy(update={"name": "renamed", "last_error": "old news"}))
    scheduler.refresh(profile.id)
    assert len(factory.built) == 1  # a new name or LastError does not restart the runner
    store.profiles.save(profile.model_copy(update={"retry_count": 5}))
    scheduler.refresh(profile.id)
    wait_for(lambda: len(factory.built) == 2)
    store.profiles.save(profile.model_copy(update={"state": ProfileState.INACTIVE}))
    scheduler.refresh(profile.id)
    assert not scheduler.is_running(profile.id)


def test_a_transient_connect_error_sets_last_error_and_is_retried(
    store: ControlStore, factory: Factory, records: Records, scheduler: Scheduler
) -> None:
    factory.errors.append(SecretUnavailable("Secret reference 'env:ENGINE_TEST' is not set now"))
    profile = active(store)
    scheduler.start()
    wait_for(lambda: len(factory.built) == 1 and len(records.recorded) >= 2)
    (first, first_failed), (second, second_failed) = records.recorded[:2]
    assert first is not None and "env:ENGINE_TEST" in first and not first_failed
    assert (second, second_failed) == (None, False)  # connected: LastError cleared
    stored = store.profiles.get(profile.id)
    assert stored is not None and stored.state is ProfileState.ACTIVE and stored.last_error is None


def test_a_terminal_connect_error_moves_the_profile_to_failed(
    store: ControlStore, factory: Factory, scheduler: Scheduler
) -> None:
    factory.errors.append(SecretNotFound("Key Vault secret 'reporting' does not exist"))
    profile = active(store, entities=(Selection(name=CONTACT),))
    scheduler.start()
    wait_for(lambda: store.profiles.get(profile.id).state is ProfileState.FAILED)  # type: ignore[union-attr]
    failed = store.profiles.get(profile.id)
    assert failed is not None and failed.activation_mode is None
    assert failed.last_error is not None and "does not exist" in failed.last_error
    wait_for(lambda: not scheduler.is_running(profile.id))
    assert factory.built == []


def test_housekeeping_runs_at_start(store: ControlStore, factory: Factory) -> None:
    ran = threading.Event()
    scheduler = Scheduler(Records(store), factory, housekeeping=ran.set, housekeeping_interval=timedelta(hours=1))
    try:
        scheduler.start()
        assert ran.wait(10)
    finally:
        scheduler.shutdown()


def test_stopping_a_profile_waiting_on_an_unreachable_dataverse_does_not_wait_out_the_retries(
    tmp_path: Path, store: ControlStore
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: every read fails and backs off (up to 60 s)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SourceConfig(org_url=f"http://127.0.0.1:{port}", auth=StaticToken(access_token=SecretStr("t")))

    def build(profile: ExportProfile) -> ProfileRun:
        source = DataverseSource(config)
        runner = ProfileRunner(
            profile,
            source=source,
            destination=MemoryDestination(),
            store=store,
            failure_store=LocalFailureStore(tmp_path / "failures"),
            settings=FAST,
        )
        return ProfileRun(runner, source, create_engine("sqlite://"))

    profile = active(store)
    scheduler = Scheduler(Records(store), build, backoff=QUICK)
    scheduler.start()
    time.sleep(1.5)  # the first reads failed; the steps are in their backoff
    started = time.monotonic()
    scheduler.shutdown()
    assert time.monotonic() - started < STOP_GRACE_SECONDS + 5
    assert not scheduler.is_running(profile.id)
