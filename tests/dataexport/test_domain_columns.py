"""Which attributes get columns, their order and their dialect-neutral types (DES §6.2-6.4, §6.6)."""

from __future__ import annotations

from test_destination_support import ACCOUNT_COLUMNS, account_leads_schema, account_schema, attribute

from dataexport.domain.columns import (
    DATETIME,
    GUID,
    INTEGER,
    TEXT,
    SourceKind,
    ValueKind,
    column_specs,
    decimal,
    exported_attributes,
    string,
)
from dataexport.domain.schema import AttributeKind, EntitySchema


def specs_by_name() -> dict[str, object]:
    return {spec.name: spec for spec in column_specs(account_schema())}


def test_column_order_follows_des_groups() -> None:
    assert [spec.name for spec in column_specs(account_schema())] == [name for name, _ in ACCOUNT_COLUMNS]


def test_excluded_attributes_get_no_column() -> None:
    exported = {a.logical_name for a in exported_attributes(account_schema())}
    for name in (
        "entityimage",  # Image content
        "new_contract",  # File
        "new_parties",  # PartyList
        "statecodename",  # label helper (AttributeOf, not allow-listed)
        "donotemailname",
        "new_secret",  # IsValidForRead = false
        "createdbyexternalparty",
    ):
        assert name not in exported, name


def test_logical_types_per_attribute_type() -> None:
    specs = {spec.name: spec for spec in column_specs(account_schema())}
    assert specs["Id"].type == GUID and not specs["Id"].nullable
    assert specs["SinkCreatedOn"].type == DATETIME
    assert specs["name"].type == string(160)
    assert specs["description"].type == TEXT
    assert specs["statecode"].type == INTEGER
    assert specs["new_interests"].type == string(4000)
    assert specs["new_interests"].value is ValueKind.MULTI_SELECT
    assert specs["revenue"].type == decimal(2)
    assert specs["revenue_base"].type == decimal(4)
    assert specs["new_ratio"].type == decimal(2)  # no Precision reported -> 2
    assert specs["owneridtype"].type == string(4000)
    assert specs["ownerid_entitytype"].type == string(128)
    assert specs["new_caseage"].type == string(4000)
    assert specs["new_caseage"].value is ValueKind.ANY_TEXT
    assert str(specs["revenue_base"].type) == "DECIMAL(38,4)"


def test_value_sources_of_lookups_and_their_helpers() -> None:
    specs = {spec.name: spec for spec in column_specs(account_schema())}
    assert specs["ownerid"].source.key == "_ownerid_value"
    assert specs["ownerid_entitytype"].source.kind is SourceKind.LOOKUP_TARGET
    assert specs["ownerid_entitytype"].source.key == "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    assert specs["owneridname"].source.kind is SourceKind.FORMATTED_VALUE
    assert specs["owneridname"].source.key == "_ownerid_value@OData.Community.Display.V1.FormattedValue"
    assert specs["owneridtype"].source.key == "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    assert specs["owneridyominame"].source.kind is SourceKind.NULL
    assert specs["entityimage_url"].source.key == "entityimage_url"
    assert specs["Id"].source.kind is SourceKind.SYSTEM


def test_intersect_keys_are_plain_guids_without_entitytype() -> None:
    names = [spec.name for spec in column_specs(account_leads_schema())]
    assert names == ["Id", "SinkCreatedOn", "SinkModifiedOn", "accountid", "accountleadid", "leadid", "versionnumber"]
    lookup_typed = account_leads_schema().model_copy(
        update={"attributes": (attribute("accountid", AttributeKind.LOOKUP, targets=("account",)),)}
    )
    specs = column_specs(lookup_typed)
    assert [s.name for s in specs if s.attribute == "accountid"] == ["accountid"]
    assert specs[3].source.key == "accountid"


def test_versionnumber_column_exists_even_without_metadata() -> None:
    schema = EntitySchema(
        logical_name="thing",
        entity_set_name="things",
        primary_id="thingid",
        attributes=(attribute("thingid", AttributeKind.UNIQUEIDENTIFIER), attribute("zeta", AttributeKind.INTEGER)),
    )
    assert [spec.name for spec in column_specs(schema)][-3:] == ["thingid", "versionnumber", "zeta"]


def test_lookup_helper_of_an_unknown_lookup_gets_no_column() -> None:
    schema = account_schema(attribute("ghostidname", AttributeKind.STRING, max_length=10, attribute_of="ghostid"))
    assert "ghostidname" not in {a.logical_name for a in exported_attributes(schema)}
