"""``dataexport sync`` and ``dataexport demo`` as real processes against a real emulator process.

Includes the crash-safety loop: the sync process is killed with SIGKILL at seeded random moments during
the initial sync and during delta sync while a workload changes the source; after the last restart the
destination must equal the source exactly. ``DATAEXPORT_TEST_KILLS`` and ``DATAEXPORT_TEST_SEED`` set the
number of kills (default 20) and the seed.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dataexport.cli.demo import prepare_demo
from dataexport.cli.emulator_process import EmulatorInfo, EmulatorProcess
from dataexport.destination.sql.urls import absolute_sqlite_url
from dataexport.store import open_store

DATAEXPORT = str(Path(sys.executable).parent / "dataexport")
KILLS = int(os.environ.get("DATAEXPORT_TEST_KILLS", "20"))
SEED = int(os.environ.get("DATAEXPORT_TEST_SEED", "1"))
ENTITIES = {"account": "accounts", "contact": "contacts", "lead": "leads", "new_widget": "new_widgets"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorInfo, Path]]:
    root = tmp_path_factory.mktemp("cli-sync")
    process = EmulatorProcess(root / "emulator", port=0, org="contoso", scale=300, seed=2)
    with process as info:
        yield info, root


def admin(info: EmulatorInfo, root: Path) -> httpx.Client:
    import json

    credentials = json.loads((root / "emulator" / "credentials.json").read_text())
    return httpx.Client(
        base_url=info.base_url,
        verify=ssl.create_default_context(cafile=str(info.ca_path)),
        headers={"X-Emulator-Admin-Key": credentials["admin_key"]},
        timeout=60,
    )


def web_api(info: EmulatorInfo) -> httpx.Client:
    form = {
        "grant_type": "client_credentials",
        "client_id": info.client_id,
        "client_secret": info.client_secret,
        "scope": f"{info.base_url}/.default",
    }
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(info.ca_path)), timeout=60)
    token = client.post(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token", data=form).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def source_versions(info: EmulatorInfo, entity_set: str, primary_id: str) -> dict[str, int]:
    client = web_api(info)
    try:
        url = f"{info.base_url}/api/data/v9.2/{entity_set}?$select={primary_id},versionnumber"
        found: dict[str, int] = {}
        while url:
            body = client.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
            found.update({row[primary_id]: row["versionnumber"] for row in body["value"]})
            url = body.get("@odata.nextLink")
        return found
    finally:
        client.close()


def destination_versions(database: Path, table: str) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return dict(connection.execute(f'SELECT "Id", "versionnumber" FROM "{table}"').fetchall())


def summary_lines(output: str) -> dict[str, tuple[str, str, int, int, int]]:
    """The sync summary: entity -> (last step, phase, changes this run, total changes, failed records)."""
    found: dict[str, tuple[str, str, int, int, int]] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[2] in ("NotStarted", "InitialSync", "Delta", "Failed", "Removed"):
            numbers = [int(p.replace(",", "")) for p in parts[3:6]]
            found[parts[0]] = (parts[1], parts[2], numbers[0], numbers[1], numbers[2])
    return found


def run_sync(profile: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DATAEXPORT, "sync", "--profile", str(profile), *args], capture_output=True, text=True, timeout=timeout
    )


def test_bad_profile_file_gets_the_validation_messages(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('Name = "x"\nKeyVaultUri = "plain-secret"\nTablePrefix = "a_b"\nEntities = []\n')
    result = run_sync(profile, "--once")
    assert result.returncode == 2
    for expected in (
        "KeyVaultUri: InvalidFormat",
        "TablePrefix: InvalidFormat: TablePrefix must contain only letters and digits.",
        "Entities: Required: At least one entity must be selected.",
        "Organization: Required",
    ):
        assert expected in result.stderr


def test_sync_once_then_a_delta_round(emulator: tuple[EmulatorInfo, Path], tmp_path: Path) -> None:
    info, _ = emulator
    loaded = prepare_demo(tmp_path, info)
    first = run_sync(loaded.path, "--once")
    assert first.returncode == 0, first.stderr
    counted = summary_lines(first.stderr)
    assert all(counted[entity][2] == counted[entity][3] > 0 for entity in ENTITIES), counted
    for entity, entity_set in ENTITIES.items():
        primary_id = f"{entity}id"
        assert destination_versions(tmp_path / "demo.db", entity) == source_versions(info, entity_set, primary_id)
    second = run_sync(loaded.path, "--once")
    assert second.returncode == 0
    assert all(line[2] == 0 for line in summary_lines(second.stderr).values())
    assert option_labels_in_destination(tmp_path / "demo.db") == option_labels_in_source(info)


def option_labels_in_source(info: EmulatorInfo) -> set[tuple[int, int, str]]:
    """(option, language, label) of account.industrycode, as the emulator's metadata gives them."""
    client = web_api(info)
    try:
        url = (
            f"{info.base_url}/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes(LogicalName="
            "'industrycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet"
        )
        options = client.get(url).json()["OptionSet"]["Options"]
    finally:
        client.close()
    return {
        (o["Value"], label["LanguageCode"], label["Label"]) for o in options for label in o["Label"]["LocalizedLabels"]
    }


def option_labels_in_destination(database: Path) -> set[tuple[int, int, str]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            'SELECT "Option", "LocalizedLabelLanguageCode", "LocalizedLabel" FROM "OptionSetMetadata" '
            'WHERE "EntityName" = \'account\' AND "OptionSetName" = \'industrycode\' AND "IsUserLocalizedLabel" = 0'
        ).fetchall()
    return {(int(o), int(language), str(label)) for o, language, label in rows}


def test_demo_once_smoke(emulator: tuple[EmulatorInfo, Path], tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [
            DATAEXPORT,
            "demo",
            "--once",
            "--scale",
            "5",
            "--emulator-port",
            str(port),
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "var"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "var" / "demo.db") as connection:
        assert connection.execute("SELECT count(*) FROM account").fetchone()[0] == 5
        assert connection.execute("SELECT count(*) FROM contact").fetchone()[0] == 25
    assert "python3 -c" in result.stderr


@dataclass(frozen=True)
class Target:
    """A destination for the kill loop: the URL the sync writes to, and how to read it back."""

    url: str
    read_url: str
    quote: Callable[[str], str]
    schema: str

    def table(self, name: str) -> str:
        return f"{self.schema}{self.quote(name)}"


def sqlite_target(tmp_path: Path) -> Iterator[Target]:
    yield Target("sqlite:///demo.db", f"sqlite:///{tmp_path / 'demo.db'}", lambda name: f'"{name}"', "")


@contextmanager
def postgresql_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the local server (dropped afterwards); yields its URL."""
    psycopg = pytest.importorskip("psycopg")
    name = f"{prefix}_{os.getpid()}"
    try:
        server = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {error}")
    with server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgresql_target(tmp_path: Path) -> Iterator[Target]:
    with postgresql_database("dataexport_kill") as url:
        yield Target(url, url.replace("postgresql://", "postgresql+psycopg://"), lambda n: f'"{n.lower()}"', "dbo.")


def mariadb_target(tmp_path: Path) -> Iterator[Target]:
    pymysql = pytest.importorskip("pymysql")
    name = f"dataexport_kill_{os.getpid()}"
    try:
        server = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    except pymysql.err.OperationalError as error:
        pytest.skip(f"MariaDB is not reachable on 127.0.0.1:3306: {error}")
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        url = f"mysql://root@127.0.0.1:3306/{name}"
        yield Target(url, url.replace("mysql://", "mysql+pymysql://"), lambda n: f"`{n}`", "")
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


TARGETS = {"sqlite": sqlite_target, "postgresql": postgresql_target, "mariadb": mariadb_target}


def target_versions(engine: Engine, target: Target, entity: str) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT {target.quote('Id')}, {target.quote('versionnumber')} FROM {target.table(entity)}")
        )
        return {str(record_id): int(version) for record_id, version in rows}


@pytest.mark.slow
@pytest.mark.parametrize("dialect", list(TARGETS))
def test_kill_9_at_random_moments_converges(emulator: tuple[EmulatorInfo, Path], tmp_path: Path, dialect: str) -> None:
    info, root = emulator
    rng = random.Random(SEED)
    rounds = KILLS if dialect == "sqlite" else max(KILLS // 2, 6)
    targets = TARGETS[dialect](tmp_path)
    target = next(targets)
    try:
        run_kill_loop(info, root, tmp_path, target, rng, rounds)
    finally:
        targets.close()


def run_kill_loop(
    info: EmulatorInfo, root: Path, tmp_path: Path, target: Target, rng: random.Random, rounds: int
) -> None:
    loaded = prepare_demo(tmp_path, info, target.url)
    control = admin(info, root)
    kills = 0
    for round_number in range(rounds):
        process = subprocess.Popen(
            [DATAEXPORT, "sync", "--profile", str(loaded.path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if round_number >= rounds // 3:
            workload = {
                "seed": rng.randrange(10**6),
                "creates": 15,
                "updates": 25,
                "deletes": 8,
                "associations": 4,
                "tables": list(ENTITIES),
            }
            control.post("/_emulator/orgs/contoso/workload", json=workload).raise_for_status()
        time.sleep(rng.uniform(0.2, 2.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= rounds * 0.8, f"only {kills} of {rounds} rounds were still running when killed"
    final = run_sync(loaded.path, "--once")
    assert final.returncode == 0, final.stderr
    engine = create_engine(target.read_url)
    try:
        for entity, entity_set in ENTITIES.items():
            expected = source_versions(info, entity_set, f"{entity}id")
            assert target_versions(engine, target, entity) == expected, entity
        # Deletes read before the initial sync finished are simply never seen (the baseline reads the current
        # state); deletes made now must reach DeleteLog, and nothing logged may be present again.
        last = {"seed": rng.randrange(10**6), "deletes": 6, "tables": list(ENTITIES)}
        deleted = {
            entry["id"] for entry in control.post("/_emulator/orgs/contoso/workload", json=last).json()["deleted"]
        }
        assert run_sync(loaded.path, "--once").returncode == 0
        present = set().union(*(target_versions(engine, target, entity) for entity in ENTITIES))
        with engine.connect() as connection:
            logged = {
                str(row[0])
                for row in connection.execute(
                    text(f"SELECT {target.quote('RecordId')} FROM {target.table('DeleteLog')}")
                )
            }
    finally:
        engine.dispose()
    assert deleted and deleted <= logged, "the last deletes must reach DeleteLog"
    assert not logged & present, "a deleted record came back"
    again = run_sync(loaded.path, "--once")
    assert again.returncode == 0
    lines = summary_lines(again.stderr)
    assert set(ENTITIES) <= set(lines) and all(line[2] == 0 for line in lines.values())
    with open_store(absolute_sqlite_url(loaded.control_db, loaded.data_dir)) as store:
        for state in store.states.list(loaded.profile.id):
            counters = state.counters
            assert state.phase.value == "Delta" and state.failed_records == 0, state
            assert counters.upserted + counters.deleted <= counters.received, state
            assert counters.synced <= counters.received and counters.failed == 0, state


def test_demo_once_into_postgresql_with_one_setting(emulator: tuple[EmulatorInfo, Path], tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    with postgresql_database("dataexport_demo") as url:
        command = [
            DATAEXPORT,
            "demo",
            "--once",
            "--scale",
            "4",
            "--emulator-port",
            str(free_port()),
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "var"),
        ]
        environment = {**os.environ, "DATAEXPORT_DEMO_DESTINATION": url}
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
        assert result.returncode == 0, result.stderr
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT count(*) FROM dbo.account").fetchone() == (4,)
            assert connection.execute("SELECT count(*) FROM dbo.contact").fetchone() == (20,)
