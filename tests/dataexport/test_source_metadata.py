"""Entity metadata read from the emulator and mapped to domain values (webapi §4.1-4.6, R7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_source_support import EmulatorEnv, emulator_env

from dataexport.domain.columns import column_specs
from dataexport.domain.schema import AttributeKind, DateTimeBehavior, EntitySchema, ManyToManyRelationship
from dataexport.errors import InvalidIdentifier
from dataexport.source.dataverse import DataverseSource
from dataexport.source.dataverse.metadata import parse_attribute


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path_factory.mktemp("metadata"), scale=1) as running:
        yield running


@pytest.fixture(scope="module")
def source(env: EmulatorEnv) -> DataverseSource:
    return env.source()


@pytest.fixture(scope="module")
def account(source: DataverseSource) -> EntitySchema:
    return source.entity_schema("account")


@pytest.fixture(scope="module")
def widget(source: DataverseSource) -> EntitySchema:
    return source.entity_schema("new_widget")


def kind_of(schema: EntitySchema, name: str) -> AttributeKind:
    attribute = schema.attribute(name)
    assert attribute is not None, name
    return attribute.kind


def test_the_entity_definition_is_mapped(account: EntitySchema) -> None:
    assert (account.logical_name, account.entity_set_name, account.primary_id) == ("account", "accounts", "accountid")
    assert account.change_tracking and not account.is_intersect and account.intersect_attributes is None
    assert {"versionnumber", "createdon", "ownerid"} <= set(account.attributes_by_name)


def test_new_widget_covers_every_kind_with_its_properties(widget: EntitySchema) -> None:
    expected = {
        "new_name": AttributeKind.STRING,
        "new_notes": AttributeKind.MEMO,
        "new_quantity": AttributeKind.INTEGER,
        "new_serial": AttributeKind.BIG_INT,
        "new_weight": AttributeKind.DECIMAL,
        "new_score": AttributeKind.DOUBLE,
        "new_price": AttributeKind.MONEY,
        "new_isactive": AttributeKind.BOOLEAN,
        "new_region": AttributeKind.PICKLIST,
        "new_colors": AttributeKind.MULTI_SELECT_PICKLIST,
        "new_startedon": AttributeKind.DATETIME,
        "new_accountid": AttributeKind.LOOKUP,
        "new_customerid": AttributeKind.CUSTOMER,
        "ownerid": AttributeKind.OWNER,
        "statecode": AttributeKind.STATE,
        "statuscode": AttributeKind.STATUS,
        "new_externalid": AttributeKind.UNIQUEIDENTIFIER,
        "new_customeridtype": AttributeKind.ENTITY_NAME,
    }
    assert {name: kind_of(widget, name) for name in expected} == expected
    assert widget.attribute("new_name").max_length == 100  # type: ignore[union-attr]
    assert widget.attribute("new_notes").max_length == 10000  # type: ignore[union-attr]
    assert widget.attribute("new_score").precision == 3  # type: ignore[union-attr]


def test_multi_select_is_decided_on_attribute_type_name_not_virtual() -> None:
    item = {
        "LogicalName": "new_colors",
        "AttributeType": "Virtual",
        "AttributeTypeName": {"Value": "MultiSelectPicklistType"},
    }
    assert parse_attribute(item, {}).kind is AttributeKind.MULTI_SELECT_PICKLIST
    other = {"LogicalName": "x", "AttributeType": "Virtual", "AttributeTypeName": {"Value": "VirtualType"}}
    assert parse_attribute(other, {}).kind is AttributeKind.VIRTUAL
    future = {"LogicalName": "y", "AttributeType": "Hologram", "AttributeTypeName": {"Value": "HologramType"}}
    assert parse_attribute(future, {}).kind is AttributeKind.VIRTUAL


def test_lookups_carry_their_targets(account: EntitySchema, widget: EntitySchema) -> None:
    assert account.attribute("primarycontactid").targets == ("contact",)  # type: ignore[union-attr]
    assert account.attribute("ownerid").targets == ("systemuser", "team")  # type: ignore[union-attr]
    assert widget.attribute("new_customerid").targets == ("account", "contact")  # type: ignore[union-attr]
    assert account.attribute("owneridtype").attribute_of == "ownerid"  # type: ignore[union-attr]


def test_money_precision_is_2_and_its_base_twin_4(account: EntitySchema, widget: EntitySchema) -> None:
    precisions = {name: account.attribute(name).precision for name in ("revenue", "revenue_base")}  # type: ignore[union-attr]
    assert precisions == {"revenue": 2, "revenue_base": 4}
    assert widget.attribute("new_price_base").precision == 4  # type: ignore[union-attr]
    assert account.attribute("address1_latitude").precision == 5  # type: ignore[union-attr]
    assert account.attribute("name").max_length == 160  # type: ignore[union-attr]


def test_datetime_behaviours_are_read_from_the_cast(widget: EntitySchema) -> None:
    behaviours = {
        name: widget.attribute(name).datetime_behavior for name in ("new_startedon", "new_dueon", "new_shippedon")
    }  # type: ignore[union-attr]
    assert behaviours == {
        "new_startedon": DateTimeBehavior.USER_LOCAL,
        "new_dueon": DateTimeBehavior.DATE_ONLY,
        "new_shippedon": DateTimeBehavior.TIME_ZONE_INDEPENDENT,
    }


def test_option_sets_carry_every_localized_label(account: EntitySchema, widget: EntitySchema) -> None:
    industry = account.attribute("industrycode").option_set  # type: ignore[union-attr]
    assert industry is not None
    first = industry.options[0]
    assert {label.language_code: label.text for label in first.labels.localized} == {
        1033: "Accounting",
        1031: "Buchhaltung",
    }
    assert first.labels.user_localized is not None and first.labels.user_localized.language_code == 1033
    region = widget.attribute("new_region")
    assert region is not None and region.global_option_set == "new_region"
    assert region.option_set is not None and region.option_set.is_global and len(region.option_set.options) == 5
    colors = widget.attribute("new_colors")
    assert colors is not None and colors.option_set is not None and colors.global_option_set is None


def test_status_options_keep_their_state(account: EntitySchema) -> None:
    statuses = account.attribute("statuscode").option_set  # type: ignore[union-attr]
    assert statuses is not None
    assert [(option.value, option.state) for option in statuses.options] == [(1, 0), (2, 1)]
    states = account.attribute("statecode").option_set  # type: ignore[union-attr]
    assert states is not None and [option.value for option in states.options] == [0, 1]


def test_the_schema_gives_the_des_columns(account: EntitySchema) -> None:
    names = [spec.name for spec in column_specs(account)]
    assert names[:5] == ["Id", "SinkCreatedOn", "SinkModifiedOn", "statecode", "statuscode"]
    assert {"ownerid_entitytype", "owneridtype", "primarycontactidname", "entityimage_url"} <= set(names)
    assert "industrycodename" not in names and "entityimage" not in names


def test_intersect_entities_know_their_two_keys(source: DataverseSource) -> None:
    accountleads = source.entity_schema("accountleads")
    assert accountleads.is_intersect and accountleads.intersect_attributes == ("accountid", "leadid")
    untracked = source.entity_schema("new_widget_contact")
    assert untracked.is_intersect and not untracked.change_tracking
    assert untracked.intersect_attributes == ("new_widgetid", "contactid")


def test_many_to_many_relationships_of_an_entity(source: DataverseSource) -> None:
    assert source.many_to_many("account") == (
        ManyToManyRelationship(
            schema_name="accountleads_association",
            intersect_entity="accountleads",
            entity1="account",
            entity1_attribute="accountid",
            entity2="lead",
            entity2_attribute="leadid",
        ),
    )
    assert [r.schema_name for r in source.many_to_many("contact")] == ["contactleads_association", "new_widget_contact"]


def test_the_entity_list_is_sorted_and_flags_tracking_and_intersects(source: DataverseSource) -> None:
    entities = {summary.logical_name: summary for summary in source.entities()}
    assert list(entities) == sorted(entities)
    assert entities["account"].change_tracking and not entities["new_untracked"].change_tracking
    assert (
        entities["accountleads"].is_intersect and entities["accountleads"].entity_set_name == "accountleadscollection"
    )


def test_logical_names_that_could_break_a_url_are_refused(source: DataverseSource) -> None:
    with pytest.raises(InvalidIdentifier):
        source.entity_schema("account')/x?$y=(")


def test_metadata_changes_report_the_entities_touched_since_a_stamp(tmp_path: Path) -> None:
    with emulator_env(tmp_path / "drift", scale=1) as env:
        source = env.source()
        first = source.metadata_changes(None)
        assert first.everything and first.affects("anything")
        quiet = source.metadata_changes(first.stamp)
        assert not quiet.everything and quiet.changed == frozenset()
        definition = {
            "logical_name": "new_extra",
            "schema_name": "new_Extra",
            "type": "String",
            "type_name": "StringType",
        }
        definition["max_length"] = 40
        env.admin("POST", "orgs/contoso/schema", {"op": "add_attribute", "table": "account", "definition": definition})
        changed = source.metadata_changes(quiet.stamp)
        assert changed.affects("account") and not changed.affects("contact")
        assert source.entity_schema("account").attribute("new_extra").max_length == 40  # type: ignore[union-attr]
        expired = {
            "status": 400,
            "code": "0x80044352",
            "message": "Version stamp associated with the client has expired.",
        }
        env.faults({"match": {"path_regex": "RetrieveMetadataChanges", "has_query": "@p2"}, "action": expired})
        assert source.metadata_changes(changed.stamp).everything  # an expired stamp: read everything again
