"""The six metadata tables and DeleteLog on SQLite (DES §6.5, §6.7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_destination_support import (
    Clock,
    account_schema,
    attribute,
    labels,
    make_destination,
    read_rows,
    simple_schema,
    table_info,
)

from dataexport.destination.sql.destination import SqlDestination
from dataexport.domain.metadata import entity_metadata_rows
from dataexport.domain.schema import AttributeKind, EntitySchema, Option, OptionSet


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rep.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def destination(db: Path, clock: Clock) -> SqlDestination:
    destination = make_destination(db, clock=clock)
    destination.ensure_metadata_tables(delete_log=True)
    return destination


def refresh(destination: SqlDestination, schema: EntitySchema, changed: frozenset[str] = frozenset()) -> None:
    primary_ids = {"systemuser": "systemuserid", "team": "teamid", "account": "accountid", "contact": "contactid"}
    destination.refresh_metadata(entity_metadata_rows(schema, target_primary_ids=primary_ids), changed_columns=changed)


def test_metadata_tables_have_the_des_layout(db: Path, destination: SqlDestination) -> None:
    assert table_info(db, "crm_OptionSetMetadata") == [
        ("EntityName", "TEXT"),
        ("OptionSetName", "TEXT"),
        ("Option", "INTEGER"),
        ("IsUserLocalizedLabel", "INTEGER"),
        ("LocalizedLabelLanguageCode", "INTEGER"),
        ("LocalizedLabel", "TEXT"),
    ]
    assert [name for name, _ in table_info(db, "crm_GlobalOptionSetMetadata")][:2] == ["OptionSetName", "Option"]
    assert [name for name, _ in table_info(db, "crm_StateMetadata")][:2] == ["EntityName", "State"]
    assert [name for name, _ in table_info(db, "crm_StatusMetadata")][:3] == ["EntityName", "State", "Status"]
    assert [name for name, _ in table_info(db, "crm_TargetMetadata")] == [
        "EntityName", "AttributeName", "ReferencedEntity", "ReferencedAttribute"
    ]  # fmt: skip
    assert table_info(db, "crm_AttributeMetadata") == [
        ("Id", "INTEGER"),
        ("EntityName", "TEXT"),
        ("AttributeName", "TEXT"),
        ("AttributeType", "TEXT"),
        ("AttributeTypeCode", "INTEGER"),
        ("Version", "INTEGER"),
        ("Timestamp", "TEXT"),
        ("MetadataId", "TEXT"),
        ("Precision", "INTEGER"),
    ]
    assert table_info(db, "crm_DeleteLog") == [
        ("Id", "INTEGER"),
        ("EntityName", "TEXT"),
        ("RecordId", "TEXT"),
        ("SinkDeleteTime", "TEXT"),
        ("VersionNumber", "INTEGER"),
    ]
    key = read_rows(db, "SELECT pk FROM pragma_table_info('crm_OptionSetMetadata') ORDER BY cid")
    assert [row[0] for row in key] == [1, 2, 3, 4, 5, 0]


def test_delete_log_only_when_asked(tmp_path: Path) -> None:
    destination = make_destination(tmp_path / "x.db")
    destination.ensure_metadata_tables(delete_log=False)
    assert table_info(tmp_path / "x.db", "crm_DeleteLog") == []
    destination.ensure_metadata_tables(delete_log=True)
    destination.ensure_metadata_tables(delete_log=True)  # idempotent
    assert table_info(tmp_path / "x.db", "crm_DeleteLog") != []


def test_label_rows_in_every_language_plus_user_localized(db: Path, destination: SqlDestination) -> None:
    refresh(destination, account_schema())
    rows = read_rows(
        db,
        "SELECT Option, IsUserLocalizedLabel, LocalizedLabelLanguageCode, LocalizedLabel FROM crm_OptionSetMetadata "
        "WHERE EntityName = 'account' AND OptionSetName = 'industrycode' ORDER BY 1, 2, 3",
    )
    assert rows == [
        (3, 0, 1031, "Beratung"),
        (3, 0, 1033, "Consulting"),
        (3, 1, 1033, "Consulting"),
        (7, 0, 1033, "Retail"),
        (7, 1, 1033, "Retail"),
    ]
    option_sets = read_rows(db, "SELECT DISTINCT OptionSetName FROM crm_OptionSetMetadata ORDER BY 1")
    assert option_sets == [("industrycode",), ("new_interests",), ("new_region",)]
    global_rows = read_rows(db, "SELECT OptionSetName, Option, LocalizedLabel FROM crm_GlobalOptionSetMetadata")
    assert ("new_region", 100000000, "Nord") in global_rows


def test_state_status_and_target_rows(db: Path, destination: SqlDestination) -> None:
    refresh(destination, account_schema())
    states = read_rows(
        db, "SELECT State, LocalizedLabel FROM crm_StateMetadata WHERE LocalizedLabelLanguageCode = 1031"
    )
    assert sorted(states) == [(0, "Aktiv"), (1, "Inaktiv")]
    statuses = read_rows(db, "SELECT State, Status FROM crm_StatusMetadata WHERE IsUserLocalizedLabel = 1 ORDER BY 2")
    assert statuses == [(0, 1), (1, 2)]
    targets = read_rows(
        db,
        "SELECT AttributeName, ReferencedEntity, ReferencedAttribute FROM crm_TargetMetadata "
        "WHERE EntityName = 'account' ORDER BY 1, 2",
    )
    assert targets == [
        ("ownerid", "systemuser", "systemuserid"),
        ("ownerid", "team", "teamid"),
        ("parentaccountid", "account", "accountid"),
        ("primarycontactid", "contact", "contactid"),
        ("transactioncurrencyid", "transactioncurrency", None),
    ]


def attribute_rows(db: Path, entity: str = "account") -> dict[str, tuple[object, ...]]:
    rows = read_rows(
        db,
        "SELECT AttributeName, Id, AttributeType, AttributeTypeCode, Version, Timestamp, MetadataId, Precision "
        "FROM crm_AttributeMetadata WHERE EntityName = ?",
        entity,
    )
    return {str(row[0]): row[1:] for row in rows}


def test_attribute_rows(db: Path, destination: SqlDestination) -> None:
    refresh(destination, account_schema())
    rows = attribute_rows(db)
    assert rows["revenue_base"][1:] == ("Money", 8, 1, "2025-03-07 14:05:09.123", "meta-revenue_base", 4)
    assert rows["new_interests"][1:3] == ("MultiSelectPicklist", 17)
    assert rows["owneridtype"][1:3] == ("EntityName", 20)
    assert rows["name"][5:] == ("meta-name", None)  # Precision only for Decimal/Double/Money
    assert "entityimage" not in rows and "ownerid_entitytype" not in rows


def test_refresh_without_changes_keeps_versions(db: Path, destination: SqlDestination, clock: Clock) -> None:
    refresh(destination, account_schema())
    before = attribute_rows(db)
    clock.advance(60)
    refresh(destination, account_schema())
    assert attribute_rows(db) == before


def test_changed_attribute_is_updated_in_place_with_a_higher_version(
    db: Path, destination: SqlDestination, clock: Clock
) -> None:
    refresh(destination, account_schema())
    before = attribute_rows(db)
    clock.advance(60)
    changed = account_schema().model_copy(
        update={
            "attributes": tuple(
                a.model_copy(update={"precision": 6}) if a.logical_name == "revenue" else a
                for a in account_schema().attributes
                if a.logical_name != "numberofemployees"
            )
        }
    )
    refresh(destination, changed, changed=frozenset({"name"}))
    after = attribute_rows(db)
    assert after["revenue"][0] == before["revenue"][0]  # same Id
    assert after["revenue"][3:] == (2, "2025-03-07 14:06:09.123", "meta-revenue", 6)
    assert after["name"][0] == before["name"][0] and after["name"][3] == 2  # column changed (widened)
    assert after["revenue_base"] == before["revenue_base"]
    assert after["numberofemployees"] == before["numberofemployees"]  # removed attribute: row stays
    clock.advance(60)
    refresh(
        destination,
        changed.model_copy(update={"attributes": (*changed.attributes, attribute("x", AttributeKind.INTEGER))}),
    )
    assert attribute_rows(db)["revenue"][3] == 2 and attribute_rows(db)["x"][3] == 1


def test_label_rows_are_replaced_per_entity(db: Path, destination: SqlDestination) -> None:
    refresh(destination, account_schema())
    refresh(destination, simple_schema("contact", attribute("gendercode", AttributeKind.PICKLIST)))
    renamed = OptionSet(name="account_industrycode", options=(Option(value=9, labels=labels("Energy")),))
    schema = account_schema().model_copy(
        update={
            "attributes": tuple(
                a.model_copy(update={"option_set": renamed}) if a.logical_name == "industrycode" else a
                for a in account_schema().attributes
            )
        }
    )
    refresh(destination, schema)
    options = read_rows(db, "SELECT DISTINCT Option FROM crm_OptionSetMetadata WHERE OptionSetName = 'industrycode'")
    assert options == [(9,)]
    assert len(attribute_rows(db, "contact")) == 6  # the other entity is untouched
