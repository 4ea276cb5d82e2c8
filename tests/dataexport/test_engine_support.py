"""Shared builders for the engine suites: a scripted organization, a memory destination, a real SQLite
control store in ``tmp_path``, a local failure store and a movable clock, wired into a ``ProfileRunner``.

(Named ``test_*`` so that it is one of this suite's own files; its few tests check the builders.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_destination_support import ACCOUNT_LEADS, Clock, account_leads_schema, simple_schema

from dataexport.destination.base import Destination
from dataexport.destination.memory import MemoryDestination
from dataexport.domain.changes import Delete
from dataexport.domain.profile import ExportProfile, Selection
from dataexport.domain.schema import EntitySchema
from dataexport.engine import EngineSettings, LocalFailureStore, ProfileRunner
from dataexport.source.base import Link
from dataexport.source.scripted import ScriptedSource, scripted_row
from dataexport.store import ControlStore, SyncKey, open_store
from dataexport.store.values import SyncKind

PROFILE_ID = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
CONTACT = "contact"
LEAD = "lead"
FAST = EngineSettings(lease_ttl=timedelta(seconds=30), min_interval=0.01, max_interval=0.05, workers=2, once_attempts=1)


def guid(n: int) -> str:
    """A deterministic lowercase GUID."""
    return str(uuid.UUID(int=n))


def contact_row(n: int, version: int, name: str | None = None, **values: object) -> dict[str, object]:
    """A raw Web API row of ``contact`` ``n`` at ``version``."""
    return scripted_row("contactid", guid(n), version, fullname=name or f"Contact {n}", **values)


def lead_schema() -> EntitySchema:
    """A small ``lead`` entity (the other end of ``accountleads_association``)."""
    return simple_schema(LEAD)


def account_schema() -> EntitySchema:
    """A small ``account`` entity."""
    return simple_schema("account")


def make_profile(*, retry_count: int = 2, retry_interval: int = 60, relationships: bool = False) -> ExportProfile:
    """The test profile: contact (and account + lead + ``accountleads_association`` when asked)."""
    entities = ["contact", "account", "lead"] if relationships else ["contact"]
    return ExportProfile(
        id=PROFILE_ID,
        name="engine test",
        organization_id="00000000-0000-4000-8000-000000000001",
        key_vault_uri="env:ENGINE_TEST",
        retry_count=retry_count,
        retry_interval=retry_interval,
        write_delete_log=True,
        entities=tuple(Selection(name=name) for name in entities),
        relationships=(Selection(name=ACCOUNT_LEADS.schema_name),) if relationships else (),
    )


@dataclass
class Harness:
    """One profile wired to a scripted source, a memory destination and a SQLite control store."""

    tmp_path: Path
    clock: Clock
    store: ControlStore
    source: ScriptedSource
    destination: Destination
    profile: ExportProfile
    settings: EngineSettings = FAST
    sleeps: list[float] = field(default_factory=list)

    @property
    def memory(self) -> MemoryDestination:
        assert isinstance(self.destination, MemoryDestination)
        return self.destination

    def runner(self, **overrides: object) -> ProfileRunner:
        settings = overrides.pop("settings", self.settings)
        assert isinstance(settings, EngineSettings)
        overrides.setdefault("sleep", self.sleeps.append)
        return ProfileRunner(
            self.profile,
            source=self.source,
            destination=self.destination,
            store=self.store,
            failure_store=LocalFailureStore(self.tmp_path / "failures"),
            settings=settings,
            clock=self.clock,
            **overrides,  # type: ignore[arg-type]
        )

    def key(self, name: str = CONTACT, kind: SyncKind = SyncKind.ENTITY) -> SyncKey:
        return SyncKey(PROFILE_ID, name, kind)

    def state(self, name: str = CONTACT, kind: SyncKind = SyncKind.ENTITY):  # type: ignore[no-untyped-def]
        state = self.store.states.load(self.key(name, kind))
        assert state is not None
        return state

    def names(self, entity: str = CONTACT) -> dict[str, object]:
        """``fullname`` by id of the destination's rows of ``entity``."""
        return {record_id: row["fullname"] for record_id, row in self.memory.rows(entity).items()}

    def failure_lines(self) -> list[str]:
        """Every line of the profile's failure log, in file order."""
        root = self.tmp_path / "failures" / PROFILE_ID / "failurelog"
        files = sorted(root.rglob("*.log")) if root.exists() else []
        return [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]


def start_time() -> datetime:
    return datetime(2025, 3, 7, 14, 5, 9, tzinfo=UTC)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A contact-only profile on a memory destination."""
    clock = Clock(start_time())
    store = open_store(f"sqlite:///{tmp_path / 'control.db'}", clock=clock)
    source = ScriptedSource([simple_schema(CONTACT)])
    try:
        yield Harness(tmp_path, clock, store, source, MemoryDestination(clock=clock), make_profile())
    finally:
        store.close()


def deleted(n: int) -> Delete:
    """The ``$deletedEntity`` of record ``n``."""
    return Delete(guid(n))


def test_harness_runs_an_empty_organization(harness: Harness) -> None:
    summary = harness.runner().run_once()
    assert summary.ok
    assert harness.memory.rows(CONTACT) == {}
    assert harness.state().link is not None


def test_builders_agree_with_the_scripted_source() -> None:
    source = ScriptedSource([simple_schema(CONTACT), account_leads_schema()], relationships=[ACCOUNT_LEADS])
    final = source.script_baseline(CONTACT, [contact_row(1, 10)])
    assert isinstance(final, Link)
    page = source.read_page(simple_schema(CONTACT))
    assert [upsert.record_id for upsert in page.upserts] == [guid(1)]
