"""Entity tables on SQLite: creation, column order and types, adoption and evolution (DES §6.2-6.4, §6.9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_destination_support import (
    ACCOUNT_COLUMNS,
    ACCOUNT_LEADS,
    account_leads_schema,
    account_schema,
    attribute,
    execute,
    make_destination,
    read_rows,
    simple_schema,
    table_info,
)

from dataexport.destination.base import ColumnChange, ColumnChangeKind, TypeChange
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.domain.schema import AttributeKind, EntitySchema
from dataexport.errors import TableNotUsable


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rep.db"


def test_account_table_has_des_columns_in_order_with_sqlite_types(db: Path) -> None:
    changes = make_destination(db).ensure_entity_table(account_schema())
    assert changes.created and changes.table == "crm_account"
    assert table_info(db, "crm_account") == ACCOUNT_COLUMNS


def test_primary_key_is_named_and_only_id_is_not_null(db: Path) -> None:
    make_destination(db).ensure_entity_table(account_schema())
    (sql,) = read_rows(db, "SELECT sql FROM sqlite_master WHERE name = 'crm_account'")[0]
    assert 'CONSTRAINT "pk_crm_account" PRIMARY KEY ("Id")' in str(sql)
    info = read_rows(db, 'PRAGMA table_info("crm_account")')
    assert [(row[1], row[3], row[5]) for row in info if row[3] or row[5]] == [("Id", 1, 1)]
    indexes = read_rows(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'crm_account'")
    assert len(indexes) == 1  # the primary key's own index, nothing else


def test_ensure_is_idempotent(db: Path) -> None:
    destination = make_destination(db)
    destination.ensure_entity_table(account_schema())
    again = destination.ensure_entity_table(account_schema())
    assert again.is_unchanged and not again.created
    assert make_destination(db).ensure_entity_table(account_schema()).is_unchanged  # a fresh process adopts it


def test_intersect_table(db: Path) -> None:
    destination = make_destination(db)
    assert destination.ensure_intersect_table(ACCOUNT_LEADS, account_leads_schema()).created
    assert table_info(db, "crm_accountleads") == [
        ("Id", "TEXT"),
        ("SinkCreatedOn", "TEXT"),
        ("SinkModifiedOn", "TEXT"),
        ("accountid", "TEXT"),
        ("accountleadid", "TEXT"),
        ("leadid", "TEXT"),
        ("versionnumber", "INTEGER"),
    ]
    with pytest.raises(TableNotUsable, match="not the intersect entity"):
        destination.ensure_intersect_table(ACCOUNT_LEADS, account_schema())


def test_identifiers_needing_quotes(db: Path) -> None:
    schema = EntitySchema(
        logical_name="order",
        entity_set_name="orders",
        primary_id="orderid",
        attributes=(
            attribute("orderid", AttributeKind.UNIQUEIDENTIFIER),
            attribute("select", AttributeKind.STRING, max_length=10),
            attribute("group", AttributeKind.INTEGER),
            attribute("option", AttributeKind.PICKLIST),
            attribute("versionnumber", AttributeKind.BIG_INT),
        ),
    )
    destination = make_destination(db, prefix="")
    destination.ensure_entity_table(schema)
    destination.ensure_metadata_tables(delete_log=True)
    assert [name for name, _ in table_info(db, "order")] == [
        "Id", "SinkCreatedOn", "SinkModifiedOn", "option", "group", "orderid", "select", "versionnumber"
    ]  # fmt: skip
    assert ("Option", "INTEGER") in table_info(db, "OptionSetMetadata")
    assert ("State", "INTEGER") in table_info(db, "StatusMetadata")
    assert ("Precision", "INTEGER") in table_info(db, "AttributeMetadata")


def test_mixed_case_prefix_is_lowercased(db: Path) -> None:
    make_destination(db, prefix="CrmRep").ensure_entity_table(simple_schema())
    tables = {row[0] for row in read_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "crmrep_contact" in tables


def test_schema_name_is_ignored_on_sqlite(db: Path) -> None:
    engine = create_destination_engine(f"sqlite:///{db}")
    destination = SqlDestination(engine, table_prefix="crm", schema_name="dbo")
    assert not destination.capabilities.schemas
    destination.ensure_entity_table(simple_schema())
    assert destination.has_table("contact") and not destination.has_table("lead")


def test_new_attribute_adds_a_nullable_column_at_the_end(db: Path) -> None:
    destination = make_destination(db)
    destination.ensure_entity_table(simple_schema())
    grown = simple_schema(
        "contact",
        attribute("aaa_first", AttributeKind.STRING, max_length=10),
        attribute("new_lookup", AttributeKind.LOOKUP, targets=("account",)),
    )
    changes = destination.ensure_entity_table(grown)
    assert changes.columns == (
        ColumnChange("new_lookup", "new_lookup", ColumnChangeKind.ADDED, "TEXT"),
        ColumnChange("new_lookup_entitytype", "new_lookup", ColumnChangeKind.ADDED, "TEXT"),
        ColumnChange("aaa_first", "aaa_first", ColumnChangeKind.ADDED, "TEXT"),
    )
    assert changes.changed_attributes == {"new_lookup", "aaa_first"}
    assert [name for name, _ in table_info(db, "crm_contact")][-3:] == [
        "new_lookup", "new_lookup_entitytype", "aaa_first"
    ]  # fmt: skip


def test_longer_strings_and_higher_precision_need_no_alter_on_sqlite(db: Path) -> None:
    destination = make_destination(db)
    destination.ensure_entity_table(simple_schema())
    assert not destination.capabilities.widens_columns
    wider = simple_schema().model_copy(
        update={
            "attributes": tuple(
                a.model_copy(update={"max_length": 4000, "precision": 4}) for a in simple_schema().attributes
            )
        }
    )
    assert destination.ensure_entity_table(wider).is_unchanged


def test_type_change_is_reported_and_the_column_left_alone(db: Path) -> None:
    destination = make_destination(db)
    destination.ensure_entity_table(simple_schema())
    retyped = simple_schema().model_copy(
        update={
            "attributes": tuple(
                attribute("fullname", AttributeKind.INTEGER) if a.logical_name == "fullname" else a
                for a in simple_schema().attributes
            )
        }
    )
    changes = destination.ensure_entity_table(retyped)
    assert changes.type_changes == (TypeChange("crm_contact", "fullname", "fullname", "TEXT", "INTEGER"),)
    assert "changed type" in changes.type_changes[0].reason and "TEXT" in changes.type_changes[0].reason
    assert ("fullname", "TEXT") in table_info(db, "crm_contact")
    assert not changes.columns


def test_removed_attribute_keeps_its_column(db: Path) -> None:
    destination = make_destination(db)
    destination.ensure_entity_table(simple_schema())
    fewer = simple_schema().model_copy(update={"attributes": simple_schema().attributes[:2]})
    assert destination.ensure_entity_table(fewer).is_unchanged
    assert "description" in [name for name, _ in table_info(db, "crm_contact")]


def test_an_existing_table_without_id_cannot_be_adopted(db: Path) -> None:
    execute(db, 'CREATE TABLE "crm_contact" (contactid TEXT, fullname TEXT)')
    with pytest.raises(TableNotUsable, match="no usable Id column") as caught:
        make_destination(db).ensure_entity_table(simple_schema())
    assert caught.value.entity == "contact"


def test_a_view_with_the_table_name_is_not_adopted(db: Path) -> None:
    execute(db, 'CREATE VIEW "crm_contact" AS SELECT 1 AS Id')
    with pytest.raises(TableNotUsable, match="is not a table"):
        make_destination(db).ensure_entity_table(simple_schema())


def test_adopted_des_table_gets_missing_columns(db: Path) -> None:
    execute(db, 'CREATE TABLE "crm_contact" ("Id" TEXT PRIMARY KEY, "fullname" TEXT, "versionnumber" INTEGER)')
    changes = make_destination(db).ensure_entity_table(simple_schema())
    added = [change.column for change in changes.columns]
    assert added == ["SinkCreatedOn", "SinkModifiedOn", "creditlimit", "contactid", "description"]


def test_writing_to_a_missing_table_fails_the_entity(db: Path) -> None:
    from dataexport.domain.changes import Upsert

    with pytest.raises(TableNotUsable, match="does not exist"):
        make_destination(db).apply_upserts(simple_schema(), [Upsert("00000000-0000-4000-8000-000000000001", 1)])
