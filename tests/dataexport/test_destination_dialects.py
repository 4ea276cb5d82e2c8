"""PostgreSQL and MariaDB destinations on the real local servers: DES §6 DDL per engine, values, quoting,
row budget, widening, replay; plus the statements each dialect compiles (MySQL 8 shares MariaDB's form)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import mysql, postgresql
from test_destination_servers import plain_connection, server_url, unique_prefix
from test_destination_support import ACCOUNT_ID, Clock, account_schema, attribute, guid, simple_schema
from test_domain_changes import full_row

from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.destination.sql.writes import BULK_MIN_ROWS, mysql_upsert, postgresql_upsert, table_clause
from dataexport.domain.changes import Upsert, row_to_values
from dataexport.domain.schema import AttributeKind, EntitySchema

K = AttributeKind
CONTACT = simple_schema()


@dataclass
class Server:
    kind: str
    url: str
    prefix: str
    destination: SqlDestination

    @property
    def postgresql(self) -> bool:
        return self.kind == "postgresql"

    def name(self, identifier: str) -> str:
        return identifier.lower() if self.postgresql else identifier

    def quote(self, identifier: str) -> str:
        return f'"{self.name(identifier)}"' if self.postgresql else f"`{identifier}`"

    def table(self, logical: str) -> str:
        name = self.destination.table_name(logical)
        return f'"dbo"."{name}"' if self.postgresql else f"`{name}`"

    def rows(self, query: str) -> list[tuple[object, ...]]:
        with plain_connection(self.url) as connection:
            return [tuple(row) for row in connection.execute(text(query))]

    def columns(self, logical: str) -> list[tuple[str, str]]:
        """(name, type as information_schema spells it) in table order."""
        if self.postgresql:
            query = (
                "SELECT column_name, CASE WHEN character_maximum_length IS NOT NULL "
                "THEN data_type || '(' || character_maximum_length || ')' "
                "WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' "
                "WHEN data_type LIKE 'timestamp%' THEN 'timestamp(' || datetime_precision || ')' ELSE data_type END "
                "FROM information_schema.columns WHERE table_schema = 'dbo' AND table_name = '{t}' "
                "ORDER BY ordinal_position"
            )
        else:
            query = (
                "SELECT column_name, column_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = '{t}' ORDER BY ordinal_position"
            )
        return [(str(n), str(t)) for n, t in self.rows(query.format(t=self.destination.table_name(logical)))]


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    kind = str(request.param)
    url = server_url(kind)
    engine = create_destination_engine(url)
    prefix = unique_prefix()
    schema_name = "dbo" if kind == "postgresql" else None
    destination = SqlDestination(engine, table_prefix=prefix, schema_name=schema_name, clock=Clock())
    yield Server(kind, url, prefix, destination)
    engine.dispose()


#: The account table's DES columns with each engine's type (DES §6.3, §6.4).
ACCOUNT_TYPES = [
    ("Id", "uuid", "char(36)"),
    ("SinkCreatedOn", "timestamp(3)", "datetime(3)"),
    ("SinkModifiedOn", "timestamp(3)", "datetime(3)"),
    ("statecode", "integer", "int(11)"),
    ("statuscode", "integer", "int(11)"),
    ("industrycode", "integer", "int(11)"),
    ("new_region", "integer", "int(11)"),
    ("new_interests", "character varying(4000)", "text"),
    ("donotemail", "boolean", "tinyint(1)"),
    ("ownerid", "uuid", "char(36)"),
    ("ownerid_entitytype", "character varying(128)", "varchar(128)"),
    ("parentaccountid", "uuid", "char(36)"),
    ("parentaccountid_entitytype", "character varying(128)", "varchar(128)"),
    ("primarycontactid", "uuid", "char(36)"),
    ("primarycontactid_entitytype", "character varying(128)", "varchar(128)"),
    ("transactioncurrencyid", "uuid", "char(36)"),
    ("transactioncurrencyid_entitytype", "character varying(128)", "varchar(128)"),
    ("exchangerate", "numeric(38,10)", "decimal(38,10)"),
    ("new_ratio", "numeric(38,2)", "decimal(38,2)"),
    ("new_score", "numeric(38,5)", "decimal(38,5)"),
    ("revenue", "numeric(38,2)", "decimal(38,2)"),
    ("revenue_base", "numeric(38,4)", "decimal(38,4)"),
    ("accountid", "uuid", "char(36)"),
    ("createdon", "timestamp(3)", "datetime(3)"),
    ("description", "text", "longtext"),
    ("entityimage_timestamp", "bigint", "bigint(20)"),
    ("entityimage_url", "character varying(200)", "varchar(200)"),
    ("entityimageid", "uuid", "char(36)"),
    ("name", "character varying(160)", "varchar(160)"),
    ("new_caseage", "character varying(4000)", "text"),
    ("new_founded", "timestamp(3)", "datetime(3)"),
    ("numberofemployees", "integer", "int(11)"),
    ("owneridname", "character varying(100)", "varchar(100)"),
    ("owneridtype", "character varying(4000)", "text"),
    ("owneridyominame", "character varying(100)", "varchar(100)"),
    ("parentaccountidname", "character varying(160)", "varchar(160)"),
    ("parentaccountidyominame", "character varying(160)", "varchar(160)"),
    ("primarycontactidname", "character varying(100)", "varchar(100)"),
    ("versionnumber", "bigint", "bigint(20)"),
]


def test_account_table_has_des_columns_in_order_with_engine_types(server: Server) -> None:
    server.destination.ensure_entity_table(account_schema())
    if server.postgresql:
        expected = [(name.lower(), pg) for name, pg, _ in ACCOUNT_TYPES]
    else:
        expected = [(name, my) for name, _, my in ACCOUNT_TYPES]
    assert server.columns("account") == expected


def test_key_metadata_tables_and_identity(server: Server) -> None:
    server.destination.ensure_entity_table(account_schema())
    server.destination.ensure_metadata_tables(delete_log=True)
    table = server.destination.table_name("account")
    if server.postgresql:
        assert server.rows(f"SELECT conname FROM pg_constraint WHERE conrelid = 'dbo.{table}'::regclass") == [
            (f"pk_{table}",)
        ]
        identities = server.rows(
            "SELECT table_name, identity_generation FROM information_schema.columns "
            f"WHERE table_schema = 'dbo' AND is_identity = 'YES' AND table_name LIKE '{server.prefix}%' ORDER BY 1"
        )
        assert identities == [
            (f"{server.prefix}_attributemetadata", "BY DEFAULT"),
            (f"{server.prefix}_deletelog", "BY DEFAULT"),
        ]
    else:
        created = str(server.rows(f"SHOW CREATE TABLE `{server.prefix}_DeleteLog`")[0][1])
        assert "`Id` bigint(20) NOT NULL AUTO_INCREMENT" in created and "PRIMARY KEY (`Id`)" in created
        assert "`SinkDeleteTime` datetime(3) NOT NULL" in created
    option_columns = [c for c, _ in server.columns("OptionSetMetadata")]
    assert option_columns == [server.name(c) for c in ("EntityName", "OptionSetName", "Option")] + [
        server.name(c) for c in ("IsUserLocalizedLabel", "LocalizedLabelLanguageCode", "LocalizedLabel")
    ]


def test_full_account_row_round_trips_in_engine_types(server: Server) -> None:
    schema = account_schema()
    server.destination.ensure_entity_table(schema)
    assert server.destination.apply_upserts(schema, [row_to_values(schema, full_row())]).applied == (ACCOUNT_ID,)
    names = [name for name, _ in server.columns("account")]
    (row,) = server.rows(f"SELECT * FROM {server.table('account')}")
    stored = dict(zip(names, row, strict=True))
    assert str(stored[server.name("Id")]) == ACCOUNT_ID
    assert stored[server.name("SinkCreatedOn")] == datetime(2025, 3, 7, 14, 5, 9, 123000)  # UTC, milliseconds
    assert stored["createdon"] == datetime(2024, 5, 2, 8, 15)
    assert stored["new_founded"] == datetime(2024, 5, 2)
    assert stored["donotemail"] in (False, 0) and stored["new_interests"] == "1,3,5"
    assert stored["revenue"] == Decimal("1250000.00") and stored["new_score"] == Decimal("0.12345")
    assert stored["owneridtype"] == "systemuser" and stored["owneridyominame"] is None
    assert stored["versionnumber"] == 40117


def test_unicode_long_memos_decimal_limits_nulls_and_replay(server: Server) -> None:
    server.destination.ensure_entity_table(CONTACT)
    memo = ("שלום עולם 🎿 مرحبا " * 60000)[:1_000_000]
    biggest = Decimal("999999999999999999999999999999999999.99")  # 38 digits, scale 2
    lowest = Decimal("-999999999999999999999999999999999999.99")  # (unary minus would round to 28 digits)
    batch = [
        Upsert(guid(1), 3, {"fullname": "Zoë 👩🏽‍💻 — ½", "description": memo, "creditlimit": biggest}),
        Upsert(guid(2), 3, {"fullname": "\u202eRTL override\u202c", "creditlimit": lowest}),
        Upsert(guid(3), 3, {"fullname": None, "description": None, "creditlimit": None, "contactid": None}),
        Upsert(guid(4), 3, {}),
    ]
    assert len(server.destination.apply_upserts(CONTACT, batch).applied) == 4
    columns = ", ".join(server.quote(c) for c in ("Id", "fullname", "description", "creditlimit", "contactid"))
    query = f"SELECT {columns}, {server.quote('versionnumber')} FROM {server.table('contact')}"
    snapshot = {str(r[0]): r[1:] for r in server.rows(query)}
    assert snapshot[guid(1)][:3] == ("Zoë 👩🏽‍💻 — ½", memo, biggest)
    assert snapshot[guid(2)][0] == "\u202eRTL override\u202c" and snapshot[guid(2)][2] == lowest
    assert snapshot[guid(3)] == (None, None, None, None, 3) == snapshot[guid(4)]
    assert server.destination.apply_upserts(CONTACT, batch).stale == tuple(guid(n) for n in (1, 2, 3, 4))
    assert {str(r[0]): r[1:] for r in server.rows(query)} == snapshot


def test_identifiers_needing_quotes(server: Server) -> None:
    schema = EntitySchema(
        logical_name="order",
        entity_set_name="orders",
        primary_id="orderid",
        attributes=(
            attribute("orderid", K.UNIQUEIDENTIFIER),
            attribute("select", K.STRING, max_length=10),
            attribute("group", K.INTEGER),
            attribute("option", K.PICKLIST),
            attribute("versionnumber", K.BIG_INT),
        ),
    )
    server.destination.ensure_entity_table(schema)
    server.destination.ensure_metadata_tables(delete_log=True)
    upsert = Upsert(guid(1), 1, {"select": "x", "group": 2, "option": 3, "orderid": guid(1)})
    assert server.destination.apply_upserts(schema, [upsert]).applied == (guid(1),)
    assert [n for n, _ in server.columns("order")][3:] == ["option", "group", "orderid", "select", "versionnumber"]
    assert server.rows(f"SELECT {server.quote('select')}, {server.quote('group')} FROM {server.table('order')}") == [
        ("x", 2)
    ]


def test_strings_widen_and_mysql_moves_long_ones_to_text(server: Server) -> None:
    server.destination.ensure_entity_table(CONTACT)
    server.destination.apply_upserts(CONTACT, [Upsert(guid(1), 1, {"fullname": "kept"})])
    for length in (200, 300):
        longer = CONTACT.model_copy(
            update={
                "attributes": tuple(
                    a.model_copy(update={"max_length": length}) if a.logical_name == "fullname" else a
                    for a in CONTACT.attributes
                )
            }
        )
        changes = server.destination.ensure_entity_table(longer)
        assert [(c.column, c.kind.value) for c in changes.columns] == [("fullname", "widened")]
        assert server.destination.apply_upserts(longer, [Upsert(guid(1), length, {"fullname": "é" * length})]).applied
    declared = dict(server.columns("contact"))["fullname"]
    assert declared == ("character varying(300)" if server.postgresql else "text")


def test_mysql_row_budget_moves_later_strings_to_text(server: Server) -> None:
    wide = simple_schema(
        "contact", *(attribute(f"new_s{n:02d}", K.STRING, max_length=255) for n in range(60))
    )  # 60 x 255 x 4 bytes would pass the 48,000-byte budget
    server.destination.ensure_entity_table(wide)
    types = dict(server.columns("contact"))
    if server.postgresql:
        assert {types[f"new_s{n:02d}"] for n in range(60)} == {"character varying(255)"}
        return
    varchars = [n for n in range(60) if types[f"new_s{n:02d}"] == "varchar(255)"]
    assert varchars == list(range(len(varchars))) and 40 <= len(varchars) < 60
    assert {types[f"new_s{n:02d}"] for n in range(len(varchars), 60)} == {"text"}
    row = {f"new_s{n:02d}": "ü" * 255 for n in range(60)}
    assert server.destination.apply_upserts(wide, [Upsert(guid(1), 1, row)]).applied == (guid(1),)


def test_long_names_are_cut_to_the_engine_limit(server: Server) -> None:
    long_name = "new_" + "x" * 70
    schema = simple_schema(long_name)
    server.destination.ensure_entity_table(schema)
    table = server.destination.table_name(long_name)
    assert len(table) == (63 if server.postgresql else 64)
    assert server.destination.has_table(long_name)
    assert server.destination.apply_upserts(schema, [Upsert(guid(1), 1, {"fullname": "n"})]).applied == (guid(1),)


def test_mysql_upsert_uses_values_and_assigns_the_version_last() -> None:
    target = table_clause("crm_contact", None, ["Id", "SinkModifiedOn", "fullname", "versionnumber"])
    statement = mysql_upsert(target, "Id", "versionnumber", ["versionnumber", "SinkModifiedOn", "fullname"], False)
    for dialect in (mysql.dialect(), mysql.dialect(is_mariadb=True)):
        if not dialect.is_mariadb:
            dialect.server_version_info = (8, 0, 36)  # MySQL 8: still the VALUES() form, never "AS new"
        sql = " ".join(str(statement.compile(dialect=dialect)).split())
        guard = "`versionnumber` IS NULL OR VALUES(`versionnumber`) > `crm_contact`.`versionnumber`"
        assert "ON DUPLICATE KEY UPDATE `SinkModifiedOn` = IF(" in sql and " AS new" not in sql
        assert sql.endswith(
            f"`versionnumber` = IF(`crm_contact`.{guard}, VALUES(`versionnumber`), `crm_contact`.`versionnumber`)"
        ), sql


def test_postgresql_upsert_is_guarded_on_conflict() -> None:
    target = table_clause("crm_contact", "dbo", ["id", "sinkmodifiedon", "fullname", "versionnumber"])
    statement = postgresql_upsert(target, "id", "versionnumber", ["sinkmodifiedon", "fullname", "versionnumber"], True)
    sql = " ".join(str(statement.compile(dialect=postgresql.dialect())).split())
    assert 'ON CONFLICT ("id") DO UPDATE SET' in sql
    assert sql.endswith(
        'WHERE "dbo"."crm_contact"."versionnumber" IS NULL '
        'OR excluded."versionnumber" >= "dbo"."crm_contact"."versionnumber"'
    )


def test_sink_times_are_stored_in_utc(server: Server) -> None:
    clock = Clock(datetime(2025, 6, 1, 23, 30, 0, 250000, tzinfo=UTC))
    engine = create_destination_engine(server.url)
    destination = SqlDestination(
        engine, table_prefix=server.prefix, schema_name="dbo" if server.postgresql else None, clock=clock
    )
    destination.ensure_entity_table(CONTACT)
    destination.apply_upserts(CONTACT, [Upsert(guid(1), 1, {})])
    query = f"SELECT {server.quote('SinkCreatedOn')} FROM {server.table('contact')}"
    assert server.rows(query) == [(datetime(2025, 6, 1, 23, 30, 0, 250000),)]
    engine.dispose()


def test_large_batches_take_the_bulk_path_with_the_same_guards(server: Server) -> None:
    server.destination.ensure_entity_table(CONTACT)
    count = 2 * BULK_MIN_ROWS
    first = [Upsert(guid(n), 5, {"fullname": f"v5 {n}", "creditlimit": Decimal(n)}) for n in range(count)]
    assert len(server.destination.apply_upserts(CONTACT, first).applied) == count
    mixed = [Upsert(guid(n), 4 + 2 * (n % 2), {"fullname": f"next {n}"}) for n in range(count)]  # 4: stale, 6: newer
    result = server.destination.apply_upserts(CONTACT, mixed)
    assert len(result.applied) == len(result.stale) == count // 2
    query = f"SELECT {server.quote('fullname')}, {server.quote('versionnumber')} FROM {server.table('contact')}"
    stored = sorted(server.rows(query), key=lambda row: (row[1], str(row[0])))
    assert {row[1] for row in stored[: count // 2]} == {5} and {row[1] for row in stored[count // 2 :]} == {6}
    rewrite = [Upsert(guid(n), 5, {"fullname": "rebaselined"}) for n in range(0, count, 2)]
    rewritten = server.destination.apply_upserts(CONTACT, rewrite, rewrite_equal=True)
    assert len(rewritten.applied) == count // 2
    assert server.destination.capabilities.bulk_copy is server.postgresql
    longer = CONTACT.model_copy(
        update={
            "attributes": tuple(
                a.model_copy(update={"max_length": 300}) if a.logical_name == "fullname" else a
                for a in CONTACT.attributes
            )
        }
    )
    server.destination.ensure_entity_table(longer)  # the staging table follows the widened column
    widened = [Upsert(guid(n), 9, {"fullname": "w" * 300}) for n in range(count)]
    assert server.destination.apply_upserts(longer, widened).failures == ()
