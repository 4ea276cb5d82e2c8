"""SQL Server / Azure SQL: no server runs here, so the dialect is covered by compiling its statements with
SQLAlchemy's ``mssql`` dialect (no driver) and comparing them with snapshots of the sample org's tables,
including the bulk path's (a ``#`` staging table filled with fast executemany, then one guarded MERGE).

Snapshots live in ``tests/dataexport/snapshots/mssql_<entity>.sql``; after an intended change, regenerate
them with ``DATAEXPORT_UPDATE_SNAPSHOTS=1 pytest tests/dataexport/test_destination_mssql.py`` and review
the diff.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateTable
from test_destination_support import account_schema
from test_source_support import emulator_env

from dataexport.destination.sql.bulk import MSSQL_STAGING, MssqlStaging
from dataexport.destination.sql.context import SqlContext
from dataexport.destination.sql.ddl import entity_table, planned_layout
from dataexport.destination.sql.dialects import MSSQL
from dataexport.destination.sql.metadata_tables import DELETE_LOG, METADATA_TABLES, delete_log_target, fixed_table
from dataexport.destination.sql.plans import build_write_plan
from dataexport.domain.columns import TypeKind, column_specs, string
from dataexport.domain.schema import EntitySchema

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("DATAEXPORT_UPDATE_SNAPSHOTS") == "1"
ENTITIES = ("account", "contact", "new_widget")


def mssql_context(prefix: str = "crm", schema: str = "dbo") -> SqlContext:
    return SqlContext(MSSQL, MSSQL.naming(prefix, schema), mssql.dialect())


@pytest.fixture(scope="module")
def sample_schemas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EntitySchema]]:
    with emulator_env(tmp_path_factory.mktemp("emulator"), scale=1, seed=1) as env:
        source = env.source()
        yield {entity: source.entity_schema(entity) for entity in ENTITIES}


def compiled(statement: object) -> str:
    return str(statement.compile(dialect=mssql.dialect())).strip()  # type: ignore[attr-defined]


def generated_sql(schema: EntitySchema) -> str:
    """Every statement the SQL Server destination would send for ``schema``, in a readable file."""
    context = mssql_context()
    table = context.naming.entity_table(schema.logical_name)
    specs = column_specs(schema)
    plan = build_write_plan(context, schema, planned_layout(context, table, specs))
    target = plan.target()
    staging = MssqlStaging.of(plan)
    log = delete_log_target(context, schema.logical_name)
    widened = next(spec for spec in specs if spec.type.kind is TypeKind.STRING)
    sections = {
        "create table": compiled(CreateTable(entity_table(context, table, specs))),
        "add column": f"ALTER TABLE {context.qualified(table)} {MSSQL.add_column_keyword} [new_added] "
        f"{context.render(string(100))} NULL",
        "widen column": str(MSSQL.alter_column_sql).format(
            table=context.qualified(table), column=context.quote(widened.name), type=context.render(string(400))
        ),
        "guarded upsert": compiled(plan.statement(False)),
        "guarded upsert, equal versions rewritten (re-baseline)": compiled(plan.statement(True)),
        "bulk: staging table": staging.stage,
        "bulk: staged rows (pyodbc fast_executemany)": staging.insert("?"),
        "bulk: guarded merge from staging": staging.merge[0],
        "bulk: guarded merge from staging, equal versions rewritten (re-baseline)": staging.merge[1],
        "delete by key": compiled(delete(target).where(target.c[plan.id_column].in_(["x"]))),
        "DeleteLog row": compiled(insert(log.table)),
    }
    return "".join(f"-- {title}\n{sql}\n\n" for title, sql in sections.items())


def metadata_sql() -> str:
    context = mssql_context()
    return "".join(compiled(CreateTable(fixed_table(context, d))) + "\n\n" for d in (*METADATA_TABLES, DELETE_LOG))


def check_snapshot(name: str, generated: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"snapshot {name} is missing: run with DATAEXPORT_UPDATE_SNAPSHOTS=1 and review it")
        path.write_text(generated, encoding="utf-8")
    assert generated == path.read_text(encoding="utf-8"), f"{name} differs (regenerate if intended)"


@pytest.mark.parametrize("entity", ENTITIES)
def test_generated_sql_matches_the_snapshot(entity: str, sample_schemas: dict[str, EntitySchema]) -> None:
    check_snapshot(f"mssql_{entity}.sql", generated_sql(sample_schemas[entity]))


def test_metadata_tables_match_the_snapshot() -> None:
    check_snapshot("mssql_metadata.sql", metadata_sql())


def test_des_details_of_the_account_table() -> None:
    sql = " ".join(generated_sql(account_schema()).split())
    assert "CONSTRAINT [EPK[dbo]].[crm_account]]] PRIMARY KEY CLUSTERED ([Id])" in sql
    assert "[Id] UNIQUEIDENTIFIER NOT NULL" in sql and "[SinkCreatedOn] DATETIME NULL" in sql
    assert "[donotemail] BIT NULL" in sql and "[revenue] DECIMAL(38, 2) NULL" in sql
    assert "[revenue_base] DECIMAL(38, 4) NULL" in sql and "[name] NVARCHAR(160) NULL" in sql
    assert "[description] NVARCHAR(max) NULL" in sql and "[owneridtype] NVARCHAR(4000) NULL" in sql
    assert "[ownerid_entitytype] NVARCHAR(128) NULL" in sql
    assert "MERGE INTO [dbo].[crm_account] WITH (HOLDLOCK) AS t" in sql
    assert "WHEN MATCHED AND (t.[versionnumber] IS NULL OR s.[versionnumber] > t.[versionnumber])" in sql
    assert "UPDATE SET t.[SinkCreatedOn]" not in sql and "t.[Id] = s.[Id]," not in sql


def test_identity_and_long_names() -> None:
    metadata = " ".join(metadata_sql().split())
    assert "[Id] BIGINT NOT NULL IDENTITY" in metadata
    naming = mssql_context().naming
    long_name = naming.entity_table("new_" + "x" * 200)
    assert len(long_name) == 128


def test_bulk_path_stages_then_merges_with_the_guard() -> None:
    context = mssql_context()
    schema = account_schema()
    table = context.naming.entity_table("account")
    plan = build_write_plan(context, schema, planned_layout(context, table, column_specs(schema)))
    assert MSSQL.capabilities.bulk_copy and plan.bulk is not None
    staging = MssqlStaging.of(plan)
    listed = ", ".join(f"[{c}]" for c in plan.row_columns)
    assert staging.stage == (
        f"IF OBJECT_ID(N'tempdb..{MSSQL_STAGING}') IS NOT NULL DROP TABLE {MSSQL_STAGING}; "
        f"SELECT TOP 0 {listed} INTO {MSSQL_STAGING} FROM [dbo].[crm_account]"
    )
    assert staging.insert("?").endswith(f"({listed}) VALUES ({', '.join('?' for _ in plan.row_columns)})")
    assert staging.insert("%s").count("%s") == len(plan.row_columns)
    strict, equal = staging.merge
    assert strict.startswith(
        f"MERGE INTO [dbo].[crm_account] WITH (HOLDLOCK) AS t USING {MSSQL_STAGING} AS s ON t.[Id] = s.[Id] "
        "WHEN MATCHED AND (t.[versionnumber] IS NULL OR s.[versionnumber] > t.[versionnumber]) THEN UPDATE SET "
        "t.[SinkModifiedOn] = s.[SinkModifiedOn], "
    )
    assert "t.[SinkCreatedOn] =" not in strict and "t.[Id] =" not in strict.split("UPDATE SET")[1]
    assert equal == strict.replace("s.[versionnumber] > t.", "s.[versionnumber] >= t.")
    # The row statement is the same MERGE over one bound row.
    assert compiled(plan.statement(False)).replace("USING (SELECT ", "").startswith("MERGE INTO [dbo].[crm_account]")
