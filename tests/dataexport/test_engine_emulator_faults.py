"""End to end under faults: throttling storms, 5xx bursts and resets converge with no failure entry; a
record the SQL destination rejects (a test-installed trigger) follows the DES failure rules while the rest
of the entity keeps syncing, and syncs after its next change once the destination accepts it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from test_engine_emulator import assert_same_as_emulator, profile, web_api_rows
from test_source_support import EmulatorEnv, emulator_env

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.engine import EngineSettings, LocalFailureStore, ProfileRunner
from dataexport.source.dataverse import DataverseSource
from dataexport.store import SyncKey, open_store
from dataexport.store.control import ControlStore


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path / "emulator", scale=4, seed=3) as built:
        yield built


def runner_for(
    env: EmulatorEnv, tmp_path: Path, store: ControlStore, source: DataverseSource, **profile_changes: object
) -> ProfileRunner:
    destination = SqlDestination(
        create_destination_engine(f"sqlite:///{tmp_path / 'destination.db'}"), table_prefix="crm"
    )
    settings = EngineSettings(
        workers=2, batch_size=5, bulk_batch_size=5, lease_ttl=timedelta(seconds=60), once_attempts=5
    )
    return ProfileRunner(
        profile().model_copy(update=profile_changes),
        source=source,
        destination=destination,
        store=store,
        failure_store=LocalFailureStore(tmp_path / "failures"),
        settings=settings,
        sleep=lambda _seconds: None,
    )


def test_429_storms_503_bursts_and_resets_converge_without_failure_entries(env: EmulatorEnv, tmp_path: Path) -> None:
    env.faults(
        {
            "match": {"method": "GET", "entity_set": "contacts", "nth": [2, 3, 4, 5, 6, 7]},
            "action": {"status": 429, "code": "0x80072322", "retry_after": 1},
        },
        {
            "match": {"method": "GET", "entity_set": "accounts", "page": 2},
            "action": {"status": 429, "code": "0x80072321", "retry_after": 2},
            "times": 3,
        },
        {
            "match": {"path_regex": "^/api/data/v9\\.2/(accounts|leads|new_widgets)", "probability": 0.5},
            "action": {"status": 503},
            "times": 12,
        },
        {"match": {"entity_set": "new_widgets", "page": 2}, "action": {"reset": "mid_body"}, "times": 2},
        {"match": {"entity_set": "leads", "page": 1}, "action": {"malform": "truncate", "at_bytes": 300}, "times": 1},
        seed=11,
    )
    source = env.source(pages={"size": 2, "floor": 1})
    with open_store(f"sqlite:///{tmp_path / 'control.db'}") as store:
        runner = runner_for(env, tmp_path, store, source)
        summary = runner.run_once()
        assert summary.ok, summary
        fired = {index: rule["fired"] for index, rule in enumerate(env.admin("GET", "faults")["rules"])}
        assert all(count > 0 for count in fired.values()), fired
        env.admin("DELETE", "faults")
        workload = {"seed": 9, "creates": 6, "updates": 10, "deletes": 3, "tables": ["account", "contact"]}
        result = env.admin("POST", "orgs/contoso/workload", workload)
        env.faults(
            {
                "match": {"method": "GET", "has_query": "$deltatoken"},
                "action": {"status": 429, "code": "0x80072326", "retry_after": 1},
                "times": 4,
            },
            seed=3,
        )
        assert runner.run_once().ok
        deleted = frozenset(entry["id"] for entry in result["deleted"])
        assert_same_as_emulator(env, source, tmp_path / "destination.db", tmp_path / "compare", deleted)
        assert store.ledger.count(profile().id) == 0
    assert not (tmp_path / "failures").exists()


def install_rejecting_trigger(database: Path, table: str, record_id: str) -> None:
    with closing(sqlite3.connect(database)) as connection:
        connection.execute(
            f'CREATE TRIGGER reject_one BEFORE UPDATE ON "{table}" WHEN NEW."Id" = \'{record_id}\' '
            "BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END"
        )
        connection.commit()


def test_a_rejected_record_is_retried_then_logged_once_and_syncs_after_its_next_change(
    env: EmulatorEnv, tmp_path: Path
) -> None:
    database = tmp_path / "destination.db"
    with open_store(f"sqlite:///{tmp_path / 'control.db'}") as store:
        runner = runner_for(env, tmp_path, store, env.source(), retry_count=2, retry_interval=0)
        assert runner.run_once().ok
        accounts = web_api_rows(env, "accounts")
        victim, other = accounts[0]["accountid"], accounts[1]["accountid"]
        install_rejecting_trigger(database, "crm_account", victim)
        token = env.admin("POST", "tokens", {})["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for record_id, name in ((victim, "Rejected change"), (other, "Accepted change")):
            response = env.client.patch(f"/api/data/v9.2/accounts({record_id})", json={"name": name}, headers=headers)
            assert response.status_code == 204
        key = SyncKey(profile().id, "account")
        for _ in range(6):
            runner.run_once()
        with closing(sqlite3.connect(database)) as connection:
            names = dict(connection.execute('SELECT "Id", "name" FROM "crm_account"').fetchall())
        assert names[other] == "Accepted change"
        assert names[victim] != "Rejected change"
        entries = store.ledger.list(profile().id)
        assert len(entries) == 1 and entries[0].entry.record_id == victim
        assert store.failed.failed_ids(key) == {victim}
        lines = [p.read_text() for p in (tmp_path / "failures").rglob("*.log")]
        assert len(lines) == 1 and victim in lines[0] and "rejected by test trigger" in lines[0]

        with closing(sqlite3.connect(database)) as connection:
            connection.execute("DROP TRIGGER reject_one")
            connection.commit()
        env.client.patch(f"/api/data/v9.2/accounts({victim})", json={"name": "Next change"}, headers=headers)
        assert runner.run_once().ok
        with closing(sqlite3.connect(database)) as connection:
            row = connection.execute('SELECT "name" FROM "crm_account" WHERE "Id" = ?', (victim,)).fetchone()
        assert row == ("Next change",)
        assert store.failed.failed_ids(key) == set()
        assert len(store.ledger.list(profile().id)) == 1


def test_a_locked_destination_is_waited_for_without_failure_entries(env: EmulatorEnv, tmp_path: Path) -> None:
    database = tmp_path / "destination.db"
    destination = SqlDestination(
        create_destination_engine(f"sqlite:///{database}", busy_timeout_ms=100), table_prefix="crm"
    )
    settings = EngineSettings(workers=1, lease_ttl=timedelta(seconds=60), once_attempts=1)
    with open_store(f"sqlite:///{tmp_path / 'control.db'}") as store:
        runner = ProfileRunner(
            profile(),
            source=env.source(),
            destination=destination,
            store=store,
            failure_store=LocalFailureStore(tmp_path / "failures"),
            settings=settings,
            sleep=lambda _seconds: None,
        )
        assert runner.run_once().ok
        key = SyncKey(profile().id, "account")
        before = store.states.load(key)
        token = env.admin("POST", "tokens", {})["access_token"]
        account = web_api_rows(env, "accounts")[0]["accountid"]
        env.client.patch(
            f"/api/data/v9.2/accounts({account})",
            json={"name": "While locked"},
            headers={"Authorization": f"Bearer {token}"},
        )
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            locked = runner.run_once()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert not locked.ok
        after = store.states.load(key)
        assert before is not None and after is not None and after.link == before.link
        assert store.ledger.count(profile().id) == 0
        assert runner.run_once().ok
        with closing(sqlite3.connect(database)) as connection:
            name = connection.execute('SELECT "name" FROM "crm_account" WHERE "Id" = ?', (account,)).fetchone()
        assert name == ("While locked",)
        assert store.ledger.count(profile().id) == 0
