"""The Destination contract, run against every implementation: SQL on SQLite, PostgreSQL and MariaDB, and
in-memory.

Each harness exposes the destination plus what a test needs to observe it (rows, DeleteLog) and the
documented seam that makes it refuse one record (a trigger on SQL engines; ``MemoryDestination.reject``).
PostgreSQL and MariaDB run on the local servers (:mod:`test_destination_servers`); a server that cannot
be reached skips its cases with a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from test_destination_servers import plain_connection, server_url, unique_prefix
from test_destination_support import Clock, attribute, execute, guid, make_destination, read_rows, simple_schema

from dataexport.destination.base import Destination, RecordFailure, RemovedRow, WriteResult
from dataexport.destination.memory import MemoryDestination
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.domain.changes import Delete, Upsert
from dataexport.domain.failures import ChangeType
from dataexport.domain.guards import Tombstone, TombstoneGuard
from dataexport.domain.metadata import entity_metadata_rows
from dataexport.domain.schema import AttributeKind
from dataexport.errors import DestinationBusy, DestinationFault

SCHEMA = simple_schema()
State = dict[str, tuple[object, object]]


@dataclass
class Harness:
    destination: Destination
    state: Callable[[], State]  # id -> (fullname, versionnumber)
    delete_log: Callable[[], list[tuple[str, object]]]  # (record id, version)
    reject: Callable[[str], None]
    close: Callable[[], None] = lambda: None


def sql_harness(path: Path) -> Harness:
    destination = make_destination(path, clock=Clock())

    def state() -> State:
        return {
            str(r[0]): (r[1], r[2]) for r in read_rows(path, 'SELECT "Id", fullname, versionnumber FROM crm_contact')
        }

    def delete_log() -> list[tuple[str, object]]:
        return [
            (str(r[0]), r[1]) for r in read_rows(path, "SELECT RecordId, VersionNumber FROM crm_DeleteLog ORDER BY Id")
        ]

    def reject(record_id: str) -> None:
        for event in ("INSERT", "UPDATE", "DELETE"):
            row = "OLD" if event == "DELETE" else "NEW"
            execute(
                path,
                f'CREATE TRIGGER reject_{event.lower()} BEFORE {event} ON crm_contact WHEN {row}."Id" = '
                f"'{record_id}' BEGIN SELECT RAISE(ABORT, 'rejected by test'); END",
            )

    return Harness(destination, state, delete_log, reject)


def _postgresql_reject(table: str, record_id: str) -> list[str]:
    function = f'"dbo"."{table}_reject"'
    body = (
        f"BEGIN IF (TG_OP = 'DELETE' AND OLD.id = '{record_id}') OR (TG_OP <> 'DELETE' AND NEW.id = '{record_id}') "
        "THEN RAISE EXCEPTION 'rejected by test'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END"
    )
    return [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$",
        f'CREATE TRIGGER reject BEFORE INSERT OR UPDATE OR DELETE ON "dbo"."{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
    ]


def _mariadb_reject(table: str, record_id: str) -> list[str]:
    statements = []
    for event in ("INSERT", "UPDATE", "DELETE"):
        row = "OLD" if event == "DELETE" else "NEW"
        statements.append(
            f"CREATE TRIGGER `{table}_reject_{event.lower()}` BEFORE {event} ON `{table}` FOR EACH ROW "
            f"BEGIN IF {row}.`Id` = '{record_id}' THEN "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'rejected by test'; END IF; END"
        )
    return statements


def server_harness(kind: str) -> Harness:
    url = server_url(kind)
    postgresql = kind == "postgresql"
    engine = create_destination_engine(url)
    destination = SqlDestination(
        engine, table_prefix=unique_prefix(), schema_name="dbo" if postgresql else None, clock=Clock()
    )
    contact = destination.table_name("contact")
    log = contact.removesuffix("contact") + ("deletelog" if postgresql else "DeleteLog")
    schema = '"dbo".' if postgresql else ""

    def name(identifier: str) -> str:
        return f'"{identifier.lower()}"' if postgresql else f"`{identifier}`"

    def rows(query: str) -> list[tuple[object, ...]]:
        with plain_connection(url) as connection:
            return [tuple(row) for row in connection.execute(text(query))]

    def state() -> State:
        query = f"SELECT {name('Id')}, {name('fullname')}, {name('versionnumber')} FROM {schema}{name(contact)}"
        return {str(r[0]): (r[1], r[2]) for r in rows(query)}

    def delete_log() -> list[tuple[str, object]]:
        columns = f"{name('RecordId')}, {name('VersionNumber')}"
        return [(str(r[0]), r[1]) for r in rows(f"SELECT {columns} FROM {schema}{name(log)} ORDER BY {name('Id')}")]

    def reject(record_id: str) -> None:
        statements = _postgresql_reject(contact, record_id) if postgresql else _mariadb_reject(contact, record_id)
        with plain_connection(url) as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)

    return Harness(destination, state, delete_log, reject, engine.dispose)


def postgresql_harness(_path: Path) -> Harness:
    return server_harness("postgresql")


def mariadb_harness(_path: Path) -> Harness:
    return server_harness("mariadb")


def memory_harness(_path: Path) -> Harness:
    destination = MemoryDestination(clock=Clock())

    def state() -> State:
        return {i: (row.get("fullname"), row.get("versionnumber")) for i, row in destination.rows("contact").items()}

    def delete_log() -> list[tuple[str, object]]:
        return [(row.record_id, row.version) for row in destination.delete_log]

    return Harness(destination, state, delete_log, destination.reject)


HARNESSES = {
    "sql": sql_harness,
    "postgresql": postgresql_harness,
    "mariadb": mariadb_harness,
    "memory": memory_harness,
}
#: (dialect, transactional DDL, SchemaName used) per harness.
EXPECTED_CAPABILITIES = {
    "sql": ("sqlite", True, False),
    "postgresql": ("postgresql", True, True),
    "mariadb": ("mysql", False, False),
    "memory": ("memory", True, False),
}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    built = HARNESSES[request.param](tmp_path / "rep.db")
    built.destination.ensure_entity_table(SCHEMA)
    built.destination.ensure_metadata_tables(delete_log=True)
    yield built
    built.close()


@pytest.fixture
def harness_kind(harness: Harness, request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["harness"])


def put(harness: Harness, number: int, version: int, name: str, **kwargs: object) -> WriteResult:
    upsert = Upsert(guid(number), version, {"fullname": name})
    return harness.destination.apply_upserts(SCHEMA, [upsert], **kwargs)  # type: ignore[arg-type]


def test_version_guard(harness: Harness) -> None:
    assert put(harness, 1, 5, "five").applied == (guid(1),)
    assert put(harness, 1, 4, "four").stale == (guid(1),)
    assert put(harness, 1, 5, "five again").stale == (guid(1),)
    assert harness.state() == {guid(1): ("five", 5)}
    assert put(harness, 1, 5, "rewritten", rewrite_equal=True).applied == (guid(1),)
    assert put(harness, 1, 6, "six").applied == (guid(1),)
    assert harness.state() == {guid(1): ("six", 6)}


def test_tombstone_guard_applies_to_inserts(harness: Harness) -> None:
    now = datetime(2025, 3, 7, tzinfo=UTC)
    guard = TombstoneGuard.resolve([Tombstone(guid(1), 5, now), Tombstone(guid(2), 5, now)], now)
    put(harness, 2, 6, "recreated")
    assert put(harness, 1, 5, "stale", guard=guard).tombstoned == (guid(1),)
    assert put(harness, 2, 7, "update", guard=guard).applied == (guid(2),)
    assert harness.state() == {guid(2): ("update", 7)}


def test_deletes_log_and_report_removed_versions(harness: Harness) -> None:
    put(harness, 1, 5, "a")
    put(harness, 2, 9, "b")
    result = harness.destination.apply_deletes(
        SCHEMA, [Delete(guid(1)), Delete(guid(3), 4), Delete(guid(2), 8)], write_delete_log=True
    )
    assert result.removed == (RemovedRow(guid(1), 5, None), RemovedRow(guid(3), None, 4))
    assert result.stale == (guid(2),)
    assert [r.tombstone(datetime(2025, 3, 7, tzinfo=UTC)).version for r in result.removed] == [5, 4]
    assert harness.state() == {guid(2): ("b", 9)}
    assert harness.delete_log() == [(guid(1), 5), (guid(3), None)]


def test_a_refused_record_is_returned_and_the_rest_applies(harness: Harness) -> None:
    put(harness, 2, 1, "existing")
    harness.reject(guid(2))
    batch = [Upsert(guid(n), 3, {"fullname": f"n{n}"}) for n in (1, 2, 3)]
    result = harness.destination.apply_upserts(SCHEMA, batch)
    assert result.applied == (guid(1), guid(3))
    assert result.failures == (RecordFailure(guid(2), 3, ChangeType.UPDATE, "rejected by test"),)
    deleted = harness.destination.apply_deletes(SCHEMA, [Delete(guid(2)), Delete(guid(1))], write_delete_log=False)
    assert deleted.failures == (RecordFailure(guid(2), None, ChangeType.DELETE, "rejected by test"),)
    assert harness.state() == {guid(2): ("existing", 1), guid(3): ("n3", 3)}


def test_seen_set_sweep(harness: Harness) -> None:
    for n in range(1, 6):
        put(harness, n, n, f"n{n}")
    seen = harness.destination.seen_set(SCHEMA)
    seen.clear()
    seen.record([guid(1), guid(3)])
    result = seen.sweep(failed_ids={guid(4)}, write_delete_log=True)
    assert [r.record_id for r in result.removed] == [guid(2), guid(5)]
    assert sorted(harness.state()) == [guid(1), guid(3), guid(4)]
    seen.drop()


def test_schema_evolution_is_reported_the_same_way(harness: Harness) -> None:
    assert harness.destination.ensure_entity_table(SCHEMA).is_unchanged
    grown = simple_schema("contact", attribute("new_flag", AttributeKind.BOOLEAN))
    changes = harness.destination.ensure_entity_table(grown)
    assert [(c.column, c.kind.value) for c in changes.columns] == [("new_flag", "added")]
    retyped = grown.model_copy(
        update={
            "attributes": tuple(
                attribute("fullname", AttributeKind.INTEGER) if a.logical_name == "fullname" else a
                for a in grown.attributes
            )
        }
    )
    assert [c.column for c in harness.destination.ensure_entity_table(retyped).type_changes] == ["fullname"]
    longer = grown.model_copy(
        update={"attributes": tuple(a.model_copy(update={"max_length": 500}) for a in grown.attributes)}
    )
    widened = harness.destination.ensure_entity_table(longer).columns
    if harness.destination.capabilities.widens_columns:
        assert [(c.column, c.kind.value) for c in widened] == [("fullname", "widened")]
    else:
        assert widened == ()  # SQLite: TEXT has no length
    assert harness.destination.has_table("contact") and not harness.destination.has_table("lead")


def test_ids_in_key_order(harness: Harness) -> None:
    for n in (3, 1, 2):
        put(harness, n, 1, "x")
    assert list(harness.destination.iter_record_ids(SCHEMA, chunk_size=2)) == [(guid(1), guid(2)), (guid(3),)]


def test_capabilities_describe_the_destination(harness: Harness, harness_kind: str) -> None:
    capabilities = harness.destination.capabilities
    assert capabilities.seen_set_table
    assert (capabilities.dialect, capabilities.transactional_ddl, capabilities.schemas) == (
        EXPECTED_CAPABILITIES[harness_kind]
    )


def test_memory_fault_seam_raises_and_changes_nothing() -> None:
    destination = MemoryDestination()
    destination.ensure_entity_table(SCHEMA)
    destination.fail_next(DestinationBusy("deadlock victim", entity="contact"))
    with pytest.raises(DestinationBusy):
        destination.apply_upserts(SCHEMA, [Upsert(guid(1), 1)])
    assert destination.rows("contact") == {}
    assert destination.apply_upserts(SCHEMA, [Upsert(guid(1), 1)]).applied == (guid(1),)


def test_memory_metadata_versions_rise_on_change() -> None:
    destination = MemoryDestination()
    destination.refresh_metadata(entity_metadata_rows(SCHEMA))
    destination.refresh_metadata(entity_metadata_rows(SCHEMA))
    assert destination.attribute_versions[("contact", "creditlimit")][1] == 1
    raised = SCHEMA.model_copy(
        update={"attributes": tuple(a.model_copy(update={"precision": 4}) for a in SCHEMA.attributes)}
    )
    destination.refresh_metadata(entity_metadata_rows(raised), changed_columns={"fullname"})
    assert destination.attribute_versions[("contact", "creditlimit")][1] == 2
    assert destination.attribute_versions[("contact", "fullname")][1] == 2
    assert destination.attribute_versions[("contact", "description")][1] == 1


@pytest.mark.parametrize("kind", sorted(HARNESSES))
def test_delete_log_needs_its_table(kind: str, tmp_path: Path) -> None:
    built = HARNESSES[kind](tmp_path / "rep.db")
    built.destination.ensure_entity_table(SCHEMA)
    with pytest.raises(DestinationFault, match=r"no such table|does not exist|doesn't exist") as caught:
        built.destination.apply_deletes(SCHEMA, [Delete(guid(1))], write_delete_log=True)
    assert caught.value.entity == "contact"
    built.close()
