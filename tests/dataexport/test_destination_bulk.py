"""PostgreSQL's bulk path (binary COPY into a staging table, then one guarded ``INSERT ... ON CONFLICT``)
against the row path on the real server: the same results and the same rows for inserts, newer, equal and
older versions, tombstones, re-baselines and replays; refused records isolated; values the binary format
cannot take redone row by row. Plus the statements it compiles. (SQL Server's staged MERGE is covered by
the snapshots of ``test_destination_mssql.py``; its driver-level executemany runs here on sqlite3.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from test_destination_servers import plain_connection, server_url, unique_prefix
from test_destination_support import Clock, account_schema, guid, simple_schema
from test_domain_changes import full_row

from dataexport.destination.base import WriteResult
from dataexport.destination.sql.bulk import PostgresqlStaging, send_rows
from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.ddl import planned_layout
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.dialects import POSTGRESQL
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.destination.sql.plans import build_write_plan
from dataexport.destination.sql.writes import BULK_MIN_ROWS, execute_upserts
from dataexport.domain.changes import Upsert, row_to_values
from dataexport.domain.columns import column_specs
from dataexport.domain.guards import NO_TOMBSTONES, Tombstone, TombstoneGuard
from dataexport.errors import DestinationBusy

ACCOUNT = account_schema()
CONTACT = simple_schema()
COUNT = 2 * BULK_MIN_ROWS
STAGING = "dataexport_stage_"
WRITE: dict[str, Any] = {"guard": NO_TOMBSTONES, "rewrite_equal": False}


@dataclass
class Pair:
    """The same entity written by the bulk path and by the row path, into two tables of one database."""

    url: str
    engine: Engine
    bulk: SqlDestination
    rows: SqlDestination
    statements: list[str]

    def apply(
        self, upserts: Sequence[Upsert], guard: TombstoneGuard = NO_TOMBSTONES, rewrite_equal: bool = False
    ) -> WriteResult:
        """Apply ``upserts`` on both; the results must be equal, as must the tables."""
        self.statements.clear()
        result = self.bulk.apply_upserts(ACCOUNT, upserts, guard=guard, rewrite_equal=rewrite_equal)
        assert any(STAGING in statement for statement in self.statements), "the bulk path was not taken"
        assert result == self.rows.apply_upserts(ACCOUNT, upserts, guard=guard, rewrite_equal=rewrite_equal)
        assert self.table(self.bulk) == self.table(self.rows)
        return result

    def table(self, destination: SqlDestination) -> list[tuple[object, ...]]:
        with plain_connection(self.url) as connection:
            query = f'SELECT * FROM "dbo"."{destination.table_name("account")}" ORDER BY id'
            return [tuple(row) for row in connection.execute(text(query))]


@pytest.fixture
def pair() -> Iterator[Pair]:
    url = server_url("postgresql")
    engine = create_destination_engine(url)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    clock, prefix = Clock(), unique_prefix()
    bulk = SqlDestination(engine, table_prefix=f"{prefix}b", schema_name="dbo", clock=clock)
    rows = SqlDestination(engine, table_prefix=f"{prefix}r", schema_name="dbo", clock=clock, bulk_paths=False)
    for destination in (bulk, rows):
        destination.ensure_entity_table(ACCOUNT)
    yield Pair(url, engine, bulk, rows, statements)
    engine.dispose()


def account(number: int, version: int, **changes: object) -> Upsert:
    """A full account row as the Web API sends it, mapped like the engine maps it."""
    row = {**full_row(), "accountid": guid(number), "versionnumber": version, "@odata.etag": f'W/"{version}"'}
    return row_to_values(ACCOUNT, {**row, **changes})


def varied(number: int, version: int) -> Upsert:
    """Rows that differ in every kind of value: unicode, NULLs, empty text, decimals to round, offsets."""
    upsert = account(
        number, version, name=f"Näme {number} 👩🏽‍💻 \u05e9\u05dc\u05d5\u05dd", revenue=Decimal(number) / 7
    )
    values = dict(upsert.values)
    if number % 3 == 0:
        values.update(description=None, parentaccountid=None, new_interests=None, donotemail=None)
    if number % 5 == 0:
        values.update(name="", numberofemployees=-(2**31), exchangerate=Decimal("-0.00000000005"))
    if number % 11 == 0:  # 38 digits, the most decimal(38, 2) holds
        values["revenue"] = Decimal("-999999999999999999999999999999999999.99")
    if number % 7 == 0:  # an aware datetime at another offset: stored as the same instant in UTC
        values["createdon"] = datetime(2024, 5, 2, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=2)))
    return Upsert(upsert.record_id, upsert.version, values)


def test_bulk_path_writes_and_reports_exactly_what_the_row_path_does(pair: Pair) -> None:
    first = pair.apply([varied(n, 100 + n) for n in range(COUNT)])
    assert len(first.applied) == COUNT and first.stale == first.tombstoned == ()
    assert not any("age(t.xmin)" in statement for statement in pair.statements)  # all written: one statement
    # Older, equal and newer versions of stored rows, plus new ids, some of them deleted before (tombstones).
    mixed = [varied(n, 100 + n + (n % 3) - 1) for n in range(COUNT)] + [varied(n, 5) for n in range(COUNT, COUNT + 20)]
    now = datetime(2025, 3, 7, tzinfo=UTC)
    tombstones = [Tombstone(guid(n), 5, now) for n in range(COUNT, COUNT + 5)]  # floor 5: the insert at 5 is blocked
    tombstones += [Tombstone(guid(n), 4, now) for n in range(COUNT + 5, COUNT + 10)]  # floor 4: 5 passes
    tombstones += [Tombstone(guid(n), None, now) for n in (COUNT + 10, COUNT + 11)]  # versionless, after the read
    tombstones += [Tombstone(guid(n), 10_000, now) for n in range(10)]  # a floor on stored rows blocks nothing
    guard = TombstoneGuard.resolve(tombstones, read_started_at=now - timedelta(minutes=1))
    result = pair.apply(mixed, guard)
    assert any("age(t.xmin)" in statement for statement in pair.statements)  # some skipped: which ones?
    older_or_equal = {guid(n) for n in range(COUNT) if n % 3 != 2}
    blocked = [guid(n) for n in range(COUNT, COUNT + 5)] + [guid(COUNT + 10), guid(COUNT + 11)]
    assert set(result.stale) == older_or_equal and list(result.tombstoned) == blocked
    assert len(result.applied) == COUNT - len(older_or_equal) + 20 - len(blocked)
    # A re-baseline rewrites equal versions; a replay of any batch changes nothing.
    rebaselined = pair.apply([varied(n, 100 + n) for n in range(0, COUNT, 2)], rewrite_equal=True)
    assert set(rebaselined.applied) == {guid(n) for n in range(0, COUNT, 2) if n % 3 != 2}  # others: newer stored
    replay = pair.apply(mixed, guard)
    assert replay.applied == () and len(replay.stale) == COUNT + 20 - len(blocked)


def test_stored_values_follow_the_row_path_to_the_last_digit(pair: Pair) -> None:
    pair.apply([varied(n, 1) for n in range(COUNT)])
    (stored,) = pair.table(pair.bulk)[7:8]  # guid(7): the +02:00 createdon, rounded revenue
    with plain_connection(pair.url) as connection:
        names = [
            str(row[0])
            for row in connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbo' "
                    f"AND table_name = '{pair.bulk.table_name('account')}' ORDER BY ordinal_position"
                )
            )
        ]
    row = dict(zip(names, stored, strict=True))
    assert str(row["id"]) == guid(7) and row["versionnumber"] == 1
    assert row["createdon"] == datetime(2024, 5, 2, 8, 15, 30, 123000)  # UTC, milliseconds
    assert row["sinkcreatedon"] == row["sinkmodifiedon"] == datetime(2025, 3, 7, 14, 5, 9, 123000)
    assert row["revenue"] == Decimal("1.00") and row["name"].startswith("Näme 7 👩🏽‍💻")
    assert str(row["primarycontactid"]) == full_row()["_primarycontactid_value"]


def test_a_record_the_database_refuses_is_isolated_and_the_next_batch_stages_again(pair: Pair) -> None:
    batch = [varied(n, 1) for n in range(COUNT)]
    too_long = Upsert(guid(3), 1, {**batch[3].values, "name": "x" * 161})  # fails in the upsert (varchar(160))
    nul = Upsert(guid(4), 1, {**batch[4].values, "description": "a\x00b"})  # fails in the COPY itself
    batch[3:5] = [too_long, nul]
    result = pair.bulk.apply_upserts(ACCOUNT, batch)
    assert [(f.record_id, f.change_type.value) for f in result.failures] == [(guid(3), "New"), (guid(4), "New")]
    assert "too long" in result.failures[0].message and "0x00" in result.failures[1].message
    assert len(result.applied) == COUNT - 2
    # The transaction that created the staging table rolled back; the next batch creates it again.
    again = pair.bulk.apply_upserts(ACCOUNT, [varied(n, 2) for n in range(COUNT)])
    assert again.failures == () and len(again.applied) == COUNT


def test_a_value_binary_copy_cannot_take_sends_the_batch_row_by_row(pair: Pair) -> None:
    batch = [varied(n, 1) for n in range(COUNT)]
    naive = datetime(2024, 5, 2, 8, 15)  # the domain sends aware datetimes; a naive one is taken as UTC
    batch[9] = Upsert(guid(9), 1, {**batch[9].values, "createdon": naive})
    pair.statements.clear()
    assert len(pair.bulk.apply_upserts(ACCOUNT, batch).applied) == COUNT
    assert any(STAGING in statement for statement in pair.statements)  # tried first, then row by row
    assert len(pair.rows.apply_upserts(ACCOUNT, batch).applied) == COUNT
    assert pair.table(pair.bulk) == pair.table(pair.rows)


def test_entities_of_one_shape_share_the_session_staging_table(pair: Pair) -> None:
    contact = SqlDestination(pair.engine, table_prefix=unique_prefix(), schema_name="dbo", clock=Clock())
    contact.ensure_entity_table(CONTACT)
    other = simple_schema("new_widget")
    contact.ensure_entity_table(other)
    for schema in (CONTACT, other):
        upserts = [Upsert(guid(n), 1, {"fullname": f"{schema.logical_name} {n}"}) for n in range(COUNT)]
        assert len(contact.apply_upserts(schema, upserts).applied) == COUNT
    created = {s.split(" (")[0] for s in pair.statements if s.startswith("CREATE TEMPORARY TABLE IF NOT EXISTS")}
    assert len(created) == 1


def postgresql_staging(schema_name: str = "dbo") -> PostgresqlStaging:
    context = SqlContext(POSTGRESQL, POSTGRESQL.naming("crm", schema_name), postgresql.psycopg.dialect())
    table = context.naming.entity_table("contact")
    plan = build_write_plan(context, CONTACT, planned_layout(context, table, column_specs(CONTACT)))
    staging = PostgresqlStaging.of(plan)
    assert staging is not None
    return staging


def compiled(statement: object) -> str:
    sql = str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[attr-defined]
    return " ".join(sql.split())


def test_staging_statements_compile_with_the_guard_and_the_casts() -> None:
    staging = postgresql_staging()
    assert staging.staged.columns == ("id", "creditlimit", "contactid", "description", "fullname", "versionnumber")
    assert staging.types == ("text", "varchar", "text", "text", "text", "int8")  # decimals as their text
    assert staging.prepare.startswith(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging.name} (c0 text, c1 varchar, c2 text"
    )
    assert "ON COMMIT DELETE ROWS; DELETE FROM pg_temp." in staging.prepare
    assert staging.copy == f"COPY pg_temp.{staging.name} FROM STDIN (FORMAT BINARY)"
    strict, equal = (compiled(statement) for statement in staging.apply)
    source = f"pg_temp.{staging.name}"
    assert strict.startswith(
        'INSERT INTO "dbo"."crm_contact" ("id", "sinkcreatedon", "sinkmodifiedon", "creditlimit", "contactid", '
        f'"description", "fullname", "versionnumber") SELECT CAST({source}.c0 AS UUID)'
    )
    assert f"CAST({source}.c1 AS NUMERIC)" in strict
    assert "%(now)s::TIMESTAMP WITHOUT TIME ZONE" in strict and "RETURNING" not in strict
    assert 'ON CONFLICT ("id") DO UPDATE SET "sinkmodifiedon" = excluded."sinkmodifiedon"' in strict
    assert '"sinkcreatedon" = excluded' not in strict and '"id" = excluded' not in strict
    assert strict.endswith(
        'WHERE "dbo"."crm_contact"."versionnumber" IS NULL '
        'OR excluded."versionnumber" > "dbo"."crm_contact"."versionnumber"'
    )
    assert equal == strict.replace('excluded."versionnumber" >', 'excluded."versionnumber" >=')
    unwritten = compiled(staging.unwritten)
    assert unwritten == (
        f'SELECT {source}.c0 FROM {source} WHERE (SELECT age(t.xmin) AS age_1 FROM "dbo"."crm_contact" AS t '
        f'WHERE t."id" = CAST({source}.c0 AS UUID)) IS DISTINCT FROM %(param_1)s::INTEGER'
    )


def test_datetimes_are_staged_aware_and_stored_in_utc() -> None:
    context = SqlContext(POSTGRESQL, POSTGRESQL.naming("crm", "dbo"), postgresql.psycopg.dialect())
    table = context.naming.entity_table("account")
    plan = build_write_plan(context, ACCOUNT, planned_layout(context, table, column_specs(ACCOUNT)))
    staging = PostgresqlStaging.of(plan)
    assert staging is not None
    createdon = staging.staged.columns.index("createdon")
    assert staging.types[createdon] == "timestamptz"
    assert f"timezone(INTERVAL '00:00', pg_temp.{staging.name}.c{createdon})" in compiled(staging.apply[0])
    assert "sinkcreatedon" in staging.staged.now_columns and "sinkcreatedon" not in staging.staged.columns


def test_two_bulk_batches_in_one_transaction_stage_only_their_own_rows(pair: Pair) -> None:
    plan = pair.bulk._plan(ACCOUNT)  # the engine writes one batch per transaction; nothing stops a second one
    now = datetime(2025, 3, 7, tzinfo=UTC)
    with pair.engine.begin() as connection:
        first = execute_upserts(connection, plan, [varied(n, 1) for n in range(COUNT)], **WRITE, now=now)
        second = execute_upserts(
            connection, plan, [varied(n, 2) for n in range(COUNT // 2, COUNT + COUNT // 2)], **WRITE, now=now
        )
    assert len(first.applied) == len(second.applied) == COUNT
    assert {row[-1] for row in pair.table(pair.bulk)} == {1, 2} and len(pair.table(pair.bulk)) == COUNT + COUNT // 2


def test_a_staging_table_lost_from_the_session_drops_the_session_once(pair: Pair) -> None:
    batch = [varied(n, 1) for n in range(COUNT)]
    assert len(pair.bulk.apply_upserts(ACCOUNT, batch).applied) == COUNT  # created and remembered
    with pair.engine.connect() as connection:  # the same pooled session: drop the table behind its back
        (name,) = connection.execute(
            text("SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
        ).scalars()
        connection.execute(text(f"DROP TABLE pg_temp.{name}"))
        connection.commit()
    with pytest.raises(DestinationBusy):
        pair.bulk.apply_upserts(ACCOUNT, [varied(n, 2) for n in range(COUNT)])
    assert len(pair.bulk.apply_upserts(ACCOUNT, [varied(n, 2) for n in range(COUNT)]).applied) == COUNT


def test_staged_rows_go_through_the_driver_and_its_errors_come_back_as_sqlalchemy_errors(tmp_path: Path) -> None:
    # SQL Server's staged rows use executemany on the driver cursor (fast_executemany where pyodbc has it);
    # no SQL Server runs here, so the same code runs on sqlite3, whose cursor has no fast_executemany.
    engine = create_destination_engine(f"sqlite:///{tmp_path / 'staged.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE staged (id TEXT PRIMARY KEY, v INTEGER)")
        send_rows(connection, "INSERT INTO staged (id, v) VALUES (?, ?)", [(guid(n), n) for n in range(3)])
        assert connection.exec_driver_sql("SELECT count(*) FROM staged").scalar() == 3
    with pytest.raises(IntegrityError), engine.begin() as connection:
        send_rows(connection, "INSERT INTO staged (id, v) VALUES (?, ?)", [(guid(9), 1), (guid(9), 2)])
    engine.dispose()
