"""``RetrieveMetadataChanges`` (spec §4.6): criteria, projections, stamps and incremental answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dataverse_emulator.catalog.model import Catalog, metadata_id
from dataverse_emulator.catalog.standard import standard_catalog
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.webapi.metadata import (
    MetadataChange,
    format_stamp,
    parse_stamp,
    retrieve_metadata_changes,
)

CRM = "Microsoft.Dynamics.CRM"
NOW = datetime(2024, 5, 2, 8, 20, tzinfo=UTC)
SPEC_QUERY = {
    "Criteria": {
        "FilterOperator": "And",
        "Conditions": [
            {
                "PropertyName": "LogicalName",
                "ConditionOperator": "Equals",
                "Value": {"Type": "System.String", "Value": "account"},
            }
        ],
    },
    "Properties": {"AllProperties": False, "PropertyNames": ["LogicalName", "Attributes"]},
    "AttributeQuery": {
        "Properties": {"AllProperties": False, "PropertyNames": ["LogicalName", "AttributeTypeName", "IsPrimaryId"]}
    },
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return standard_catalog()


def changes_of(
    catalog: Catalog,
    query: dict[str, Any],
    *,
    client: str | None = None,
    changes: tuple[MetadataChange, ...] = (),
    deleted: str | None = None,
    server: str = "9!05/02/2024 08:20:00",
) -> dict[str, Any]:
    return retrieve_metadata_changes(
        catalog,
        json.dumps(query),
        client_stamp=client,
        server_stamp=server,
        changes=changes,
        deleted_filter=deleted,
    )


def entity_names(body: dict[str, Any]) -> set[str]:
    return {entity["LogicalName"] for entity in body["EntityMetadata"]}


def query_on(prop: str, operator: str, value: object, **extra: Any) -> dict[str, Any]:
    condition = {"PropertyName": prop, "ConditionOperator": operator, "Value": value}
    return {"Criteria": {"Conditions": [condition]}, "Properties": {"PropertyNames": ["LogicalName"]}, **extra}


def test_the_spec_example(catalog: Catalog) -> None:
    body = changes_of(catalog, SPEC_QUERY)
    assert body["ServerVersionStamp"] == "9!05/02/2024 08:20:00"
    assert body["DeletedMetadata"] == {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []}
    [account] = body["EntityMetadata"]
    assert set(account) == {"LogicalName", "MetadataId", "Attributes"}
    assert account["MetadataId"] == metadata_id("account")
    name = next(a for a in account["Attributes"] if a["LogicalName"] == "name")
    assert name == {
        "@odata.type": f"#{CRM}.StringAttributeMetadata",
        "LogicalName": "name",
        "MetadataId": metadata_id("account", "name"),
        "AttributeTypeName": {"Value": "StringType"},
        "IsPrimaryId": False,
    }
    assert len(account["Attributes"]) == len(catalog.table("account").attributes)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("prop", "operator", "value", "expected"),
    [
        ("LogicalName", "In", {"Type": "System.String[]", "Value": ["account", "contact"]}, {"account", "contact"}),
        ("LogicalName", "In", ["lead"], {"lead"}),
        ("LogicalName", "Equals", "ACCOUNT", {"account"}),
        ("ObjectTypeCode", "Equals", 2, {"contact"}),
    ],
)
def test_entity_criteria(catalog: Catalog, prop: str, operator: str, value: object, expected: set[str]) -> None:
    assert entity_names(changes_of(catalog, query_on(prop, operator, value))) == expected


def test_not_equals_and_is_private(catalog: Catalog) -> None:
    everything = {t.logical_name for t in catalog.tables}
    not_account = changes_of(catalog, query_on("LogicalName", "NotEquals", "account"))
    assert entity_names(not_account) == everything - {"account"}
    public = changes_of(catalog, query_on("IsPrivate", "Equals", {"Type": "System.Boolean", "Value": "false"}))
    assert entity_names(public) == everything
    assert entity_names(changes_of(catalog, query_on("IsPrivate", "Equals", True))) == set()


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"PropertyName": "AttributeType", "ConditionOperator": "Equals", "Value": "Money"}, {"revenue"}),
        ({"PropertyName": "AttributeType", "ConditionOperator": "Equals", "Value": 8}, {"revenue"}),
        ({"PropertyName": "AttributeType", "ConditionOperator": "In", "Value": ["Money", "Double"]}, {"revenue"}),
    ],
)
def test_attribute_criteria(catalog: Catalog, condition: dict[str, Any], expected: set[str]) -> None:
    query = {
        **query_on("LogicalName", "Equals", "account"),
        "Properties": {"PropertyNames": ["Attributes"]},
        "AttributeQuery": {"Criteria": {"Conditions": [condition]}, "Properties": {"PropertyNames": ["LogicalName"]}},
    }
    [account] = changes_of(catalog, query)["EntityMetadata"]
    names = {a["LogicalName"] for a in account["Attributes"]}
    assert expected <= names and "revenue_base" in names and "name" not in names


def test_attribute_criteria_find_multiselects_on_new_widget(catalog: Catalog) -> None:
    query = {
        **query_on("LogicalName", "Equals", "new_widget"),
        "Properties": {"PropertyNames": ["Attributes"]},
        "AttributeQuery": {
            "Criteria": {"Conditions": [{"PropertyName": "AttributeTypeName", "Value": "MultiSelectPicklistType"}]},
            "Properties": {"PropertyNames": ["LogicalName", "AttributeType", "OptionSet"]},
        },
    }
    [widget] = changes_of(catalog, query)["EntityMetadata"]
    found = {a["LogicalName"]: a for a in widget["Attributes"]}
    assert set(found) == {"new_colors", "new_regions"}
    assert found["new_colors"]["AttributeType"] == "Virtual"
    assert found["new_colors"]["OptionSet"]["Options"][0]["Value"] == 100000000


def test_all_properties_include_relationships_and_type_specific_values(catalog: Catalog) -> None:
    query = {**query_on("LogicalName", "Equals", "account"), "Properties": {"AllProperties": True}}
    [account] = changes_of(catalog, query)["EntityMetadata"]
    assert account["EntitySetName"] == "accounts" and account["Keys"] == []
    assert {"OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"} <= set(account)
    name = next(a for a in account["Attributes"] if a["LogicalName"] == "name")
    assert name["MaxLength"] == 160
    industry = next(a for a in account["Attributes"] if a["LogicalName"] == "industrycode")
    assert industry["OptionSet"]["Name"] == "account_industrycode"


def test_incremental_answer_holds_only_what_changed(catalog: Catalog) -> None:
    account = catalog.table("account")
    assert account is not None
    trimmed = catalog.model_copy(
        update={
            "tables": tuple(
                t.model_copy(update={"attributes": tuple(a for a in t.attributes if a.logical_name != "fax")})
                if t.logical_name == "account"
                else t
                for t in catalog.tables
                if t.logical_name != "new_untracked"
            )
        }
    )
    history = (
        MetadataChange(2, "lead", "subject", False),
        MetadataChange(3, "account", "name", False),
        MetadataChange(4, "contact", None, False),
        MetadataChange(5, "account", "fax", True),
        MetadataChange(6, "new_untracked", None, True),
    )
    query = {"Properties": {"PropertyNames": ["LogicalName", "Attributes"]}}
    body = changes_of(trimmed, query, client="2!05/01/2024 10:00:00", changes=history, deleted="All")
    found = {e["LogicalName"]: e for e in body["EntityMetadata"]}
    assert set(found) == {"account", "contact"}
    assert [a["LogicalName"] for a in found["account"]["Attributes"]] == ["name"]
    assert len(found["contact"]["Attributes"]) == len(catalog.table("contact").attributes)  # type: ignore[union-attr]
    assert body["DeletedMetadata"] == {
        "Count": 2,
        "IsReadOnly": False,
        "Keys": ["Entity", "Attribute"],
        "Values": [[metadata_id("new_untracked")], [metadata_id("account", "fax")]],
    }
    default = changes_of(trimmed, query, client="2!05/01/2024 10:00:00", changes=history)
    assert default["DeletedMetadata"]["Keys"] == ["Entity"]
    qualified = changes_of(
        trimmed, query, client="5!05/01/2024 10:00:00", changes=history, deleted=f"{CRM}.DeletedMetadataFilters'All'"
    )
    assert entity_names(qualified) == set()
    assert qualified["DeletedMetadata"]["Values"] == [[metadata_id("new_untracked")]]
    nothing = changes_of(trimmed, query, client="9!05/02/2024 08:20:00", changes=history, deleted="Entity,Attribute")
    assert nothing["EntityMetadata"] == [] and nothing["DeletedMetadata"]["Count"] == 0


def test_stamps_round_trip_and_reject_garbage() -> None:
    stamp = format_stamp(8812, NOW)
    assert stamp == "8812!05/02/2024 08:20:00"
    assert format_stamp(1, datetime(2024, 5, 2, 10, 20, tzinfo=timezone(timedelta(hours=2)))).endswith("08:20:00")
    assert parse_stamp(stamp) == 8812 and parse_stamp(f"'{stamp}'") == 8812
    for garbage in ("", "8812", "abc!05/02/2024 08:20:00", "8812!13/45/2024 08:20:00", "8812!05/02/2024"):
        with pytest.raises(WebApiError) as caught:
            parse_stamp(garbage)
        assert caught.value.status == 400


def test_a_stamp_from_the_future_is_refused(catalog: Catalog) -> None:
    with pytest.raises(WebApiError) as caught:
        changes_of(catalog, SPEC_QUERY, client="10!05/02/2024 08:20:00")
    assert (caught.value.status, caught.value.code) == (400, "0x80044352")


@pytest.mark.parametrize(
    "query",
    [
        "not json",
        json.dumps(["a list"]),
        json.dumps(query_on("LogicalName", "GreaterThan", "a")),
        json.dumps(query_on("NoSuchProperty", "Equals", "a")),
        json.dumps(query_on("LogicalName", "Equals", ["a", "b"])),
        json.dumps({"Properties": {"PropertyNames": ["NoSuchProperty"]}}),
        json.dumps({"Criteria": {"FilterOperator": "Xor", "Conditions": []}}),
    ],
)
def test_malformed_queries_are_refused(catalog: Catalog, query: str) -> None:
    with pytest.raises(WebApiError) as caught:
        retrieve_metadata_changes(
            catalog, query, client_stamp=None, server_stamp="1!05/02/2024 08:20:00", changes=(), deleted_filter=None
        )
    assert caught.value.status == 400


def test_an_unknown_deleted_filter_is_refused(catalog: Catalog) -> None:
    with pytest.raises(WebApiError):
        changes_of(catalog, SPEC_QUERY, client="1!05/02/2024 08:20:00", deleted="Everything")
