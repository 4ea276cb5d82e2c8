"""End to end: the engine reads the real emulator (in-process, through the real Web API client) and writes a
SQLite, PostgreSQL or MariaDB destination; after workloads and schema changes the destination equals the
emulator row by row over every exported column, and DeleteLog holds exactly the deletes.

The expected rows are the emulator's rows written by a fresh destination of the same engine (the oracle),
so values compare in the engine's own types. A server that cannot be reached skips its case."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from test_destination_servers import server_url, unique_prefix
from test_source_support import ORG, EmulatorEnv, emulator_env

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.domain.changes import row_to_values
from dataexport.domain.columns import SINK_CREATED_ON, SINK_MODIFIED_ON
from dataexport.domain.profile import ExportProfile, Selection
from dataexport.domain.schema import EntitySchema
from dataexport.engine import EngineSettings, LocalFailureStore, ProfileRunner
from dataexport.source.dataverse import DataverseSource
from dataexport.store import SyncKey, open_store

ENTITIES = ("account", "contact", "new_widget", "lead")
RELATIONSHIP = "accountleads_association"
EXPORTED = (*ENTITIES, "accountleads")
PREFER = (
    'odata.maxpagesize=50, odata.include-annotations="OData.Community.Display.V1.FormattedValue,'
    'Microsoft.Dynamics.CRM.lookuplogicalname"'
)
EXTRA = {
    "logical_name": "new_nickname",
    "schema_name": "new_Nickname",
    "type": "String",
    "type_name": "StringType",
    "max_length": 80,
}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path / "emulator", scale=3, seed=1) as built:
        yield built


def profile(prefix: str = "crm") -> ExportProfile:
    return ExportProfile(
        id="3f2a1b0c-0000-4000-8000-00000000e2e0",
        name="end to end",
        organization_id="00000000-0000-4000-8000-000000000001",
        key_vault_uri="env:E2E",
        table_prefix=prefix,
        write_delete_log=True,
        entities=tuple(Selection(name=name) for name in ENTITIES),
        relationships=(Selection(name=RELATIONSHIP),),
    )


def web_api_rows(env: EmulatorEnv, entity_set: str) -> list[dict[str, Any]]:
    """Every current row of a table, read with a plain Web API client (annotations on, all columns)."""
    token = env.admin("POST", "tokens", {})["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Prefer": PREFER}
    url: str | None = f"/api/data/v9.2/{entity_set}"
    rows: list[dict[str, Any]] = []
    while url:
        response = env.client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["value"]
        url = body.get("@odata.nextLink")
    return rows


@dataclass
class Target:
    """One destination database: its engine, and how the test names and reads its objects."""

    engine: Engine
    schema: str | None

    def destination(self, prefix: str) -> SqlDestination:
        return SqlDestination(self.engine, table_prefix=prefix, schema_name=self.schema)

    def name(self, identifier: str) -> str:
        return identifier.lower() if self.engine.dialect.name == "postgresql" else identifier

    def quote(self, identifier: str) -> str:
        return str(self.engine.dialect.identifier_preparer.quote_identifier(self.name(identifier)))

    def qualified(self, table: str) -> str:
        return f"{self.quote(self.schema)}.{self.quote(table)}" if self.schema else self.quote(table)

    def rows(self, query: str) -> list[tuple[object, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    kind = str(request.param)
    url = f"sqlite:///{tmp_path / 'destination.db'}" if kind == "sqlite" else server_url(kind)
    built = Target(create_destination_engine(url), "dbo" if kind == "postgresql" else None)
    yield built
    built.engine.dispose()


def expected_table(target: Target, schema: EntitySchema, rows: list[dict[str, Any]]) -> str:
    """The emulator's rows mapped with ``row_to_values`` and written by a fresh destination (the oracle);
    returns the oracle's table prefix."""
    prefix = f"x{uuid.uuid4().hex[:10]}"
    oracle = target.destination(prefix)
    oracle.ensure_entity_table(schema)
    oracle.apply_upserts(schema, [row_to_values(schema, row) for row in rows])
    return prefix


def table_rows(target: Target, table: str, columns: list[str]) -> dict[object, tuple[object, ...]]:
    quoted = ", ".join(target.quote(column) for column in columns)
    query = f"SELECT {target.quote('Id')}, {quoted} FROM {target.qualified(target.name(table))}"
    return {str(row[0]): (str(row[0]), *row[1:]) for row in target.rows(query)}


def columns_of(target: Target, table: str) -> list[str]:
    reported = inspect(target.engine).get_columns(target.name(table), schema=target.schema)
    system = {target.name(c) for c in ("Id", SINK_CREATED_ON, SINK_MODIFIED_ON)}
    return [str(c["name"]) for c in reported if c["name"] not in system]


def assert_same_as_emulator(
    env: EmulatorEnv, source: DataverseSource, destination: Path, tmp_path: Path, deleted: frozenset[str] = frozenset()
) -> None:
    """:func:`assert_target_same_as_emulator` for a SQLite destination file with the prefix ``crm``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = Target(create_destination_engine(f"sqlite:///{destination}"), None)
    oracle = Target(create_destination_engine(f"sqlite:///{tmp_path / 'expected.db'}"), None)
    try:
        assert_target_same_as_emulator(env, source, target, "crm", deleted, oracle=oracle)
    finally:
        target.engine.dispose()
        oracle.engine.dispose()


def assert_target_same_as_emulator(
    env: EmulatorEnv,
    source: DataverseSource,
    target: Target,
    prefix: str,
    deleted: frozenset[str] = frozenset(),
    *,
    oracle: Target | None = None,
) -> None:
    """Every exported column of every row equal, except one thing no engine can see: the formatted name of a
    lookup whose target was deleted changes at read time without a new version of the row.

    The oracle tables are written into ``oracle`` (default: the target's own database, other prefix)."""
    oracle = oracle or target
    for entity in EXPORTED:
        schema = source.entity_schema(entity)
        expected = f"{expected_table(oracle, schema, web_api_rows(env, schema.entity_set_name))}_{entity}"
        table = f"{prefix}_{entity}"
        columns = columns_of(oracle, expected)
        assert set(columns) <= set(columns_of(target, table)), entity
        want, got = table_rows(oracle, expected, columns), table_rows(target, table, columns)
        assert set(got) == set(want), entity
        for record_id, row in want.items():
            mine = dict(zip(["Id", *columns], got[record_id], strict=True))
            differences = {c: (mine[c], w) for c, w in zip(["Id", *columns], row, strict=True) if mine[c] != w}
            dangling = {
                c for c in differences if c.endswith("name") and str(mine.get(c.removesuffix("name"))) in deleted
            }
            assert set(differences) == dangling, (entity, record_id, differences)


def delete_log(target: Target, prefix: str) -> set[tuple[str, str]]:
    columns = f"{target.quote('EntityName')}, {target.quote('RecordId')}"
    rows = target.rows(f"SELECT {columns} FROM {target.qualified(target.name(prefix + '_DeleteLog'))}")
    return {(str(e), str(r)) for e, r in rows}


def test_initial_sync_then_workload_and_schema_changes_converge_on_the_emulator(
    env: EmulatorEnv, target: Target, tmp_path: Path
) -> None:
    source = env.source()
    prefix = "crm" if target.engine.dialect.name == "sqlite" else unique_prefix()
    destination = target.destination(prefix)
    settings = EngineSettings(
        workers=3, batch_size=7, bulk_batch_size=7, lease_ttl=timedelta(seconds=60), once_attempts=2
    )
    with open_store(f"sqlite:///{tmp_path / 'control.db'}") as store:
        runner = ProfileRunner(
            profile(prefix),
            source=source,
            destination=destination,
            store=store,
            failure_store=LocalFailureStore(tmp_path / "failures"),
            settings=settings,
        )
        first = runner.run_once()
        assert first.ok, [(o.key.name, o.error) for o in first.outcomes if o.error]
        assert first.received > 0
        assert_target_same_as_emulator(env, source, target, prefix)

        links_before = {row["accountleadid"] for row in web_api_rows(env, "accountleadscollection")}
        workload = {"seed": 5, "creates": 9, "updates": 12, "deletes": 5, "associations": 4}
        result = env.admin("POST", f"orgs/{ORG}/workload", {**workload, "tables": ["account", "contact", "new_widget"]})
        env.admin("POST", f"orgs/{ORG}/schema", {"op": "add_attribute", "table": "contact", "definition": EXTRA})
        account = SyncKey(profile().id, "account")
        baselined = store.states.load(account)
        # Widening account.name also expires its delta tokens: the account re-baselines and sweeps its deletes.
        widen = {"op": "widen", "table": "account", "attribute": "name", "max_length": 400, "expire_tokens": True}
        env.admin("POST", f"orgs/{ORG}/schema", widen)
        contact = web_api_rows(env, "contacts")[0]["contactid"]
        token = env.admin("POST", "tokens", {})["access_token"]
        patched = env.client.patch(
            f"/api/data/v9.2/contacts({contact})",
            json={"new_nickname": "Nick", "lastname": "A" * 10},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert patched.status_code == 204, patched.text

        second = runner.run_once()
        assert second.ok, [(o.key.name, o.error) for o in second.outcomes if o.error]
        rebaselined = store.states.load(account)
        assert baselined is not None and rebaselined is not None
        assert rebaselined.initial_sync_completed_at != baselined.initial_sync_completed_at
        deletes = {(entry["table"], entry["id"]) for entry in result["deleted"]}
        links_after = {row["accountleadid"] for row in web_api_rows(env, "accountleadscollection")}
        associated = {entry["id"] for entry in result["associated"] if entry["table"] == "accountleads"}
        # Deleting an account removes its links too; Dataverse reports each as a delete, also for a link the
        # same workload created (created then deleted: a tombstone only, logged with VersionNumber NULL).
        deletes |= {("accountleads", link) for link in (links_before | associated) - links_after}
        deleted_ids = frozenset(record_id for _table, record_id in deletes)
        assert_target_same_as_emulator(env, source, target, prefix, deleted_ids)
        logged = delete_log(target, prefix)
        assert deletes and logged == deletes, (logged - deletes, deletes - logged)
        assert store.ledger.count(profile().id) == 0

    assert (tmp_path / "failures").exists() is False
