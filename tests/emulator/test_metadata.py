"""Metadata rendering (spec §4.1 to §4.5, §4.7): addressing forms, casts, query options and errors."""

from __future__ import annotations

from typing import Any

import pytest

from dataverse_emulator.catalog.model import Catalog, metadata_id
from dataverse_emulator.catalog.standard import standard_catalog
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.querystring import parse_query
from dataverse_emulator.webapi import metadata_items
from dataverse_emulator.webapi.metadata import render_metadata, render_service_document
from dataverse_emulator.webapi.metadata_types import (
    BOOLEAN_OPTION_SET,
    ENTITY,
    MANY_TO_MANY,
    ONE_TO_MANY,
    OPTION_SET,
    attribute_shape,
    attribute_type_of,
)

ROOT = "https://org.example/api/data/v9.2/"
CRM = "Microsoft.Dynamics.CRM"
ACCOUNT = "EntityDefinitions(LogicalName='account')"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return standard_catalog()


def get(catalog: Catalog, path: str, query: str = "") -> dict[str, Any]:
    return render_metadata(catalog, path.split("/"), parse_query(query), ROOT, 42)


def fails(catalog: Catalog, path: str, query: str = "") -> WebApiError:
    with pytest.raises(WebApiError) as caught:
        get(catalog, path, query)
    return caught.value


def by_name(items: list[dict[str, Any]], key: str = "LogicalName") -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def no_property(name: str, type_name: str) -> str:
    return f"Could not find a property named '{name}' on type '{CRM}.{type_name}'."


# -- EntityDefinitions ------------------------------------------------------------------------------


def test_tracked_tables_query_of_spec_3_1(catalog: Catalog) -> None:
    body = get(
        catalog,
        "EntityDefinitions",
        "$select=LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled"
        "&$filter=ChangeTrackingEnabled eq true",
    )
    assert body["@odata.context"] == (
        f"{ROOT}$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled)"
    )
    assert body["@Microsoft.Dynamics.CRM.globalmetadataversion"] == "42"
    found = by_name(body["value"])
    assert found["account"] == {
        "MetadataId": metadata_id("account"),
        "LogicalName": "account",
        "EntitySetName": "accounts",
        "PrimaryIdAttribute": "accountid",
        "ChangeTrackingEnabled": True,
    }
    assert "new_untracked" not in found and "new_widget_contact" not in found
    assert {"accountleads", "systemuserroles", "new_wide"} <= set(found)


def test_filters_on_complex_paths_enums_and_booleans(catalog: Catalog) -> None:
    def names(expression: str) -> set[str]:
        return {e["LogicalName"] for e in get(catalog, "EntityDefinitions", f"$filter={expression}")["value"]}

    assert names("ChangeTrackingEnabled eq false and CanChangeTrackingBeEnabled/Value eq false") == {
        "owner",
        "roletemplate",
    }
    assert names("LogicalName eq 'account'") == {"account"}
    assert names("IsIntersect eq true") == {
        "systemuserroles", "teammembership", "teamroles", "accountleads", "contactleads", "new_widget_contact",
    }  # fmt: skip
    user_owned = names(f"OwnershipType eq {CRM}.OwnershipTypes'UserOwned'")
    assert "account" in user_owned and "systemuser" not in user_owned
    assert names("ObjectTypeCode eq 1 or ObjectTypeCode eq 2") == {"account", "contact"}


def test_single_entity_by_logical_name_and_metadata_id(catalog: Catalog) -> None:
    body = get(catalog, ACCOUNT)
    assert body["@odata.context"] == f"{ROOT}$metadata#EntityDefinitions/$entity"
    assert body["EntitySetName"] == "accounts" and body["ObjectTypeCode"] == 1
    assert body["CanChangeTrackingBeEnabled"] == {
        "Value": True,
        "CanBeChanged": False,
        "ManagedPropertyLogicalName": "canchangetrackingbeenabled",
    }
    assert body["OwnershipType"] == "UserOwned" and body["PrimaryImageAttribute"] == "entityimage"
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Account"
    assert [label["LanguageCode"] for label in body["DisplayName"]["LocalizedLabels"]] == [1033, 1031]
    assert get(catalog, f"EntityDefinitions({metadata_id('account')})") == body


def test_single_entity_select_keeps_metadata_id(catalog: Catalog) -> None:
    body = get(catalog, ACCOUNT, "$select=LogicalName,EntitySetName")
    assert body == {
        "@odata.context": f"{ROOT}$metadata#EntityDefinitions(LogicalName,EntitySetName)/$entity",
        "@Microsoft.Dynamics.CRM.globalmetadataversion": "42",
        "MetadataId": metadata_id("account"),
        "LogicalName": "account",
        "EntitySetName": "accounts",
    }


def test_entity_has_every_property_of_the_spec_table(catalog: Catalog) -> None:
    body = get(catalog, "EntityDefinitions(LogicalName='systemuserroles')")
    required = {
        "MetadataId", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute",
        "PrimaryNameAttribute", "ObjectTypeCode", "ChangeTrackingEnabled", "CanChangeTrackingBeEnabled",
        "IsIntersect", "IsPrivate", "IsCustomEntity", "IsActivity", "IsLogicalEntity", "IsValidForAdvancedFind",
        "IsOptimisticConcurrencyEnabled", "OwnershipType", "DisplayName", "DisplayCollectionName", "Description",
        "TableType", "PrimaryImageAttribute",
    }  # fmt: skip
    assert required <= set(body)
    assert body["IsIntersect"] is True and body["EntitySetName"] == "systemuserrolescollection"
    assert body["DisplayName"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("EntityDefinitions(LogicalName='nosuchtable')", 404),
        ("EntityDefinitions(00000000-0000-0000-0000-000000000000)", 404),
        (f"{ACCOUNT}/Attributes(LogicalName='nosuchcolumn')", 404),
        (f"{ACCOUNT}/Nothing", 404),
        ("SomethingDefinitions", 404),
        ("EntityDefinitions(Name='account')", 400),
    ],
)
def test_unknown_things_are_not_found(catalog: Catalog, path: str, status: int) -> None:
    assert fails(catalog, path).status == status


def test_select_of_an_unknown_property_names_the_type(catalog: Catalog) -> None:
    error = fails(catalog, "EntityDefinitions", "$select=LogicalName,Bogus")
    assert (error.status, error.code, error.message) == (400, "0x0", no_property("Bogus", "EntityMetadata"))
    assert fails(catalog, "EntityDefinitions", "$filter=Bogus eq 1").status == 400
    assert fails(catalog, "EntityDefinitions", "$filter=DisplayName/UserLocalizedLabel/Label eq 'A'").status == 400


@pytest.mark.parametrize("option", ["$top=1", "$orderby=LogicalName", "$count=true"])
def test_paging_and_ordering_options_are_refused(catalog: Catalog, option: str) -> None:
    assert fails(catalog, "EntityDefinitions", option).status == 400


def test_expand_attributes_with_nested_select_and_filter(catalog: Catalog) -> None:
    body = get(
        catalog,
        "EntityDefinitions",
        "$select=LogicalName&$filter=LogicalName eq 'account'"
        "&$expand=Attributes($select=LogicalName,AttributeType;"
        f"$filter=AttributeType eq {CRM}.AttributeTypeCode'DateTime')",
    )
    assert (
        body["@odata.context"]
        == f"{ROOT}$metadata#EntityDefinitions(LogicalName,Attributes(LogicalName,AttributeType))"
    )
    [account] = body["value"]
    attributes = by_name(account["Attributes"])
    assert set(attributes) == {"createdon", "modifiedon", "overriddencreatedon"}
    assert attributes["createdon"] == {
        "@odata.type": f"#{CRM}.DateTimeAttributeMetadata",
        "MetadataId": metadata_id("account", "createdon"),
        "LogicalName": "createdon",
        "AttributeType": "DateTime",
    }


def test_expand_relationship_collections_and_keys(catalog: Catalog) -> None:
    body = get(
        catalog,
        "EntityDefinitions(LogicalName='lead')",
        "$select=LogicalName&$expand=ManyToManyRelationships($select=SchemaName),Keys,"
        "ManyToOneRelationships($filter=ReferencedEntity eq 'account';$select=ReferencingAttribute)",
    )
    assert {r["SchemaName"] for r in body["ManyToManyRelationships"]} == {
        "accountleads_association",
        "contactleads_association",
    }
    assert body["Keys"] == []
    assert {r["ReferencingAttribute"] for r in body["ManyToOneRelationships"]} == {"parentaccountid", "customerid"}


def test_expand_of_something_that_is_not_a_navigation(catalog: Catalog) -> None:
    error = fails(catalog, ACCOUNT, "$expand=LogicalName")
    assert error.message == no_property("LogicalName", "EntityMetadata")
    assert fails(catalog, ACCOUNT, "$expand=Attributes($select=MaxLength)").message == no_property(
        "MaxLength", "AttributeMetadata"
    )


# -- Attributes -------------------------------------------------------------------------------------


def test_uncast_attributes_carry_their_derived_type(catalog: Catalog) -> None:
    body = get(catalog, f"{ACCOUNT}/Attributes", "$select=LogicalName,AttributeTypeName")
    assert body["@odata.context"] == f"{ROOT}$metadata#{ACCOUNT}/Attributes(LogicalName,AttributeTypeName)"
    found = by_name(body["value"])
    assert len(found) == len(catalog.table("account").attributes)  # type: ignore[union-attr]
    assert all(item["@odata.type"].startswith(f"#{CRM}.") for item in body["value"])
    assert found["name"]["@odata.type"] == f"#{CRM}.StringAttributeMetadata"
    assert found["ownerid"]["@odata.type"] == f"#{CRM}.LookupAttributeMetadata"
    assert found["entityimage"]["AttributeTypeName"] == {"Value": "ImageType"}
    assert found["statecodename"]["@odata.type"] == f"#{CRM}.AttributeMetadata"


def test_uncast_attributes_hide_type_specific_properties_from_select_and_filter(catalog: Catalog) -> None:
    error = fails(catalog, f"{ACCOUNT}/Attributes", "$select=LogicalName,MaxLength")
    assert (error.status, error.message) == (400, no_property("MaxLength", "AttributeMetadata"))
    assert fails(catalog, f"{ACCOUNT}/Attributes", "$filter=MaxLength gt 100").status == 400
    assert fails(catalog, f"{ACCOUNT}/Attributes", "$expand=OptionSet").status == 400


def test_common_attribute_properties(catalog: Catalog) -> None:
    body = get(catalog, f"{ACCOUNT}/Attributes(LogicalName='primarycontactidname')")
    assert body["@odata.context"] == f"{ROOT}$metadata#{ACCOUNT}/Attributes/$entity"
    assert body["AttributeOf"] == "primarycontactid" and body["EntityLogicalName"] == "account"
    assert body["RequiredLevel"] == {
        "Value": "None",
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }
    common = """IsPrimaryId IsPrimaryName IsValidForRead IsValidForCreate IsValidForUpdate IsLogical
        IsCustomAttribute IsSecured SourceType ColumnNumber Description"""
    assert set(common.split()) <= set(body)
    by_id = get(catalog, f"{ACCOUNT}/Attributes({metadata_id('account', 'primarycontactidname')})")
    assert by_id == body


def test_plain_string_and_enum_filters_on_attribute_type(catalog: Catalog) -> None:
    plain = get(catalog, f"{ACCOUNT}/Attributes", "$select=LogicalName&$filter=AttributeType eq 'Virtual'")
    enum = get(catalog, f"{ACCOUNT}/Attributes", f"$filter=AttributeType eq {CRM}.AttributeTypeCode'Virtual'")
    assert {a["LogicalName"] for a in plain["value"]} == {a["LogicalName"] for a in enum["value"]}
    assert "entityimage" in {a["LogicalName"] for a in plain["value"]}
    typed = get(catalog, f"{ACCOUNT}/Attributes", "$filter=AttributeTypeName/Value eq 'MoneyType'&$select=LogicalName")
    assert {a["LogicalName"] for a in typed["value"]} == {"revenue", "revenue_base", "creditlimit", "creditlimit_base"}


def test_string_cast_unlocks_lengths_and_formats(catalog: Catalog) -> None:
    path = f"{ACCOUNT}/Attributes/{CRM}.StringAttributeMetadata"
    body = get(catalog, path, "$select=LogicalName,MaxLength,DatabaseLength,Format,FormatName")
    assert body["@odata.context"] == (f"{ROOT}$metadata#{path}(LogicalName,MaxLength,DatabaseLength,Format,FormatName)")
    found = by_name(body["value"])
    assert all(item["@odata.type"] == f"#{CRM}.StringAttributeMetadata" for item in body["value"])
    assert found["name"] == {
        "@odata.type": f"#{CRM}.StringAttributeMetadata",
        "MetadataId": metadata_id("account", "name"),
        "LogicalName": "name",
        "MaxLength": 160,
        "DatabaseLength": 320,
        "Format": "Text",
        "FormatName": {"Value": "Text"},
    }
    assert found["websiteurl"]["FormatName"] == {"Value": "Url"}
    assert found["emailaddress1"]["MaxLength"] == 100
    assert "description" not in found and "revenue" not in found


def test_datetime_cast_of_the_batch_example(catalog: Catalog) -> None:
    body = get(catalog, f"{ACCOUNT}/Attributes/{CRM}.DateTimeAttributeMetadata", "$select=LogicalName,DateTimeBehavior")
    found = by_name(body["value"])
    assert found["createdon"] == {
        "@odata.type": f"#{CRM}.DateTimeAttributeMetadata",
        "LogicalName": "createdon",
        "MetadataId": metadata_id("account", "createdon"),
        "DateTimeBehavior": {"Value": "UserLocal"},
    }
    assert found["overriddencreatedon"]["DateTimeBehavior"] == {"Value": "DateOnly"}
    widget = get(
        catalog,
        f"EntityDefinitions(LogicalName='new_widget')/Attributes/{CRM}.DateTimeAttributeMetadata",
        "$select=LogicalName,DateTimeBehavior,Format&$filter=startswith(LogicalName,'new_')",
    )
    assert {(a["LogicalName"], a["DateTimeBehavior"]["Value"], a["Format"]) for a in widget["value"]} == {
        ("new_startedon", "UserLocal", "DateAndTime"),
        ("new_dueon", "DateOnly", "DateOnly"),
        ("new_shippedon", "TimeZoneIndependent", "DateAndTime"),
    }


def test_numeric_casts(catalog: Catalog) -> None:
    money = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.MoneyAttributeMetadata")["value"])
    assert {k: money["revenue"][k] for k in ("Precision", "PrecisionSource", "IsBaseCurrency")} == {
        "Precision": 2,
        "PrecisionSource": 2,
        "IsBaseCurrency": False,
    }
    assert (money["revenue_base"]["Precision"], money["revenue_base"]["IsBaseCurrency"]) == (4, True)
    doubles = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.DoubleAttributeMetadata")["value"])
    latitude = doubles["address1_latitude"]
    assert (latitude["Precision"], latitude["MinValue"], latitude["MaxValue"]) == (5, -90.0, 90.0)
    decimals = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.DecimalAttributeMetadata")["value"])
    assert decimals["exchangerate"]["Precision"] == 10 and decimals["exchangerate"]["IsValidForCreate"] is False
    bigints = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.BigIntAttributeMetadata")["value"])
    assert (bigints["versionnumber"]["MinValue"], bigints["versionnumber"]["MaxValue"]) == (-(2**63), 2**63 - 1)
    integers = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.IntegerAttributeMetadata")["value"])
    assert integers["numberofemployees"]["Format"] == "None"
    memos = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.MemoAttributeMetadata")["value"])
    assert memos["description"]["MaxLength"] == 2000


def test_lookup_cast_lists_targets_of_every_lookup_kind(catalog: Catalog) -> None:
    account = by_name(
        get(
            catalog, f"{ACCOUNT}/Attributes/{CRM}.LookupAttributeMetadata", "$select=LogicalName,AttributeType,Targets"
        )["value"]
    )
    assert account["primarycontactid"]["Targets"] == ["contact"]
    assert account["ownerid"]["Targets"] == ["systemuser", "team"]
    assert account["ownerid"]["AttributeType"] == "Owner"
    contact = get(
        catalog,
        f"EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='parentcustomerid')/{CRM}.LookupAttributeMetadata",
        "$select=LogicalName,AttributeType,Targets",
    )
    assert contact["Targets"] == ["account", "contact"] and contact["AttributeType"] == "Customer"


def test_picklist_cast_with_option_set_and_global_option_set(catalog: Catalog) -> None:
    body = get(
        catalog,
        f"EntityDefinitions(LogicalName='new_widget')/Attributes/{CRM}.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet",
    )
    region = by_name(body["value"])["new_region"]
    assert set(region["OptionSet"]) == {"MetadataId", "Options"}
    assert [o["Value"] for o in region["OptionSet"]["Options"]][:2] == [100000000, 100000001]
    assert region["GlobalOptionSet"]["@odata.type"] == f"#{CRM}.OptionSetMetadata"
    assert (region["GlobalOptionSet"]["Name"], region["GlobalOptionSet"]["IsGlobal"]) == ("new_region", True)
    local = get(
        catalog,
        f"{ACCOUNT}/Attributes(LogicalName='industrycode')/{CRM}.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=GlobalOptionSet",
    )
    assert local["GlobalOptionSet"] is None


def test_full_option_set_has_the_shape_of_spec_4_3(catalog: Catalog) -> None:
    body = get(
        catalog,
        f"{ACCOUNT}/Attributes(LogicalName='industrycode')/{CRM}.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet",
    )
    assert body["@odata.context"] == (
        f"{ROOT}$metadata#{ACCOUNT}/Attributes/{CRM}.PicklistAttributeMetadata(LogicalName,OptionSet())/$entity"
    )
    option_set = body["OptionSet"]
    assert {k: option_set[k] for k in ("Name", "OptionSetType", "IsGlobal", "IsCustomOptionSet", "IsManaged")} == {
        "Name": "account_industrycode",
        "OptionSetType": "Picklist",
        "IsGlobal": False,
        "IsCustomOptionSet": False,
        "IsManaged": True,
    }
    assert option_set["DisplayName"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}
    consulting = next(o for o in option_set["Options"] if o["Value"] == 3)
    english = {
        "Label": "Consulting",
        "LanguageCode": 1033,
        "IsManaged": True,
        "MetadataId": consulting["Label"]["UserLocalizedLabel"]["MetadataId"],
        "HasChanged": None,
    }
    assert consulting == {
        "Value": 3,
        "Color": None,
        "IsManaged": True,
        "ExternalValue": None,
        "ParentValues": [],
        "MetadataId": None,
        "HasChanged": None,
        "Label": {
            "LocalizedLabels": [english, {**consulting["Label"]["LocalizedLabels"][1], "LanguageCode": 1031}],
            "UserLocalizedLabel": english,
        },
        "Description": {"LocalizedLabels": [], "UserLocalizedLabel": None},
    }
    assert consulting["Label"]["LocalizedLabels"][1]["Label"] == "Beratung"


def test_state_and_status_options_carry_typed_extras(catalog: Catalog) -> None:
    state = get(
        catalog,
        f"{ACCOUNT}/Attributes(LogicalName='statecode')/{CRM}.StateAttributeMetadata",
        "$expand=OptionSet($select=OptionSetType,Options)",
    )
    assert state["OptionSet"]["OptionSetType"] == "State"
    active = state["OptionSet"]["Options"][0]
    assert {k: active[k] for k in ("@odata.type", "Value", "DefaultStatus", "InvariantName")} == {
        "@odata.type": f"#{CRM}.StateOptionMetadata",
        "Value": 0,
        "DefaultStatus": 1,
        "InvariantName": "Active",
    }
    status = get(
        catalog,
        f"{ACCOUNT}/Attributes/{CRM}.StatusAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet",
    )
    [statuscode] = status["value"]
    inactive = statuscode["OptionSet"]["Options"][1]
    assert {k: inactive[k] for k in ("@odata.type", "Value", "State", "TransitionData")} == {
        "@odata.type": f"#{CRM}.StatusOptionMetadata",
        "Value": 2,
        "State": 1,
        "TransitionData": None,
    }


def test_boolean_option_sets_have_true_and_false_options(catalog: Catalog) -> None:
    path = f"{ACCOUNT}/Attributes(LogicalName='donotemail')/{CRM}.BooleanAttributeMetadata"
    body = get(catalog, path, "$select=LogicalName,DefaultValue&$expand=OptionSet")
    option_set = body["OptionSet"]
    assert option_set["OptionSetType"] == "Boolean" and "Options" not in option_set
    assert (option_set["TrueOption"]["Value"], option_set["FalseOption"]["Value"]) == (1, 0)
    assert option_set["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"] == "Do Not Allow"
    assert body["DefaultValue"] is False
    error = fails(catalog, path, "$expand=OptionSet($select=Options)")
    assert error.message == no_property("Options", "BooleanOptionSetMetadata")


def test_multiselect_image_and_entityname_casts(catalog: Catalog) -> None:
    widget = "EntityDefinitions(LogicalName='new_widget')"
    multi = by_name(
        get(catalog, f"{widget}/Attributes/{CRM}.MultiSelectPicklistAttributeMetadata", "$expand=OptionSet")["value"]
    )
    assert set(multi) == {"new_colors", "new_regions"}
    assert (multi["new_colors"]["AttributeType"], multi["new_colors"]["AttributeTypeName"]) == (
        "Virtual",
        {"Value": "MultiSelectPicklistType"},
    )
    assert multi["new_regions"]["OptionSet"]["IsGlobal"] is True
    image = get(catalog, f"{ACCOUNT}/Attributes(LogicalName='entityimage')/{CRM}.ImageAttributeMetadata")
    assert image["IsPrimaryImage"] is True and image["MaxSizeInKB"] > 0
    names = by_name(get(catalog, f"{ACCOUNT}/Attributes/{CRM}.EntityNameAttributeMetadata")["value"])
    assert names["owneridtype"]["AttributeOf"] == "ownerid"


@pytest.mark.parametrize(
    ("cast", "status"),
    [(f"{CRM}.EnumAttributeMetadata", 400), (f"{CRM}.NoSuchAttributeMetadata", 400), ("StringAttributeMetadata", 404)],
)
def test_invalid_attribute_casts(catalog: Catalog, cast: str, status: int) -> None:
    assert fails(catalog, f"{ACCOUNT}/Attributes/{cast}").status == status


def test_single_attribute_cast_of_another_type_is_not_found(catalog: Catalog) -> None:
    assert fails(catalog, f"{ACCOUNT}/Attributes(LogicalName='name')/{CRM}.PicklistAttributeMetadata").status == 404


def test_navigating_to_an_attribute_option_set(catalog: Catalog) -> None:
    body = get(
        catalog,
        f"{ACCOUNT}/Attributes(LogicalName='industrycode')/{CRM}.PicklistAttributeMetadata/OptionSet",
        "$select=Name",
    )
    assert body["@odata.context"].endswith(f"{CRM}.PicklistAttributeMetadata/OptionSet(Name)/$entity")
    assert body["Name"] == "account_industrycode"


# -- Relationships ----------------------------------------------------------------------------------


def test_table_relationship_collections(catalog: Catalog) -> None:
    one_to_many = by_name(get(catalog, f"{ACCOUNT}/OneToManyRelationships")["value"], "SchemaName")
    customer = one_to_many["contact_customer_accounts"]
    expected = {
        "@odata.type": f"#{CRM}.OneToManyRelationshipMetadata",
        "RelationshipType": "OneToManyRelationship",
        "SchemaName": "contact_customer_accounts",
        "ReferencedEntity": "account",
        "ReferencedAttribute": "accountid",
        "ReferencingEntity": "contact",
        "ReferencingAttribute": "parentcustomerid",
        "ReferencedEntityNavigationPropertyName": "contact_customer_accounts",
        "ReferencingEntityNavigationPropertyName": "parentcustomerid_account",
        "IsCustomRelationship": False,
    }
    assert {k: customer[k] for k in expected} == expected
    assert customer["MetadataId"] == metadata_id("relationship", "contact_customer_accounts")
    assert set(customer["CascadeConfiguration"]) == {"Assign", "Delete", "Merge", "Reparent", "Share", "Unshare"}
    many_to_one = by_name(get(catalog, f"{ACCOUNT}/ManyToOneRelationships")["value"], "SchemaName")
    assert many_to_one["account_primary_contact"]["ReferencingEntityNavigationPropertyName"] == "primarycontactid"
    assert many_to_one["owner_accounts"]["ReferencingEntityNavigationPropertyName"] == "ownerid"
    single = get(catalog, f"{ACCOUNT}/ManyToOneRelationships(SchemaName='account_primary_contact')")
    assert single["@odata.context"] == f"{ROOT}$metadata#{ACCOUNT}/ManyToOneRelationships/$entity"
    assert fails(catalog, f"{ACCOUNT}/ManyToOneRelationships(SchemaName='contact_customer_accounts')").status == 404


def test_many_to_many_item_matches_spec_4_4(catalog: Catalog) -> None:
    found = get(catalog, "EntityDefinitions(LogicalName='systemuser')/ManyToManyRelationships")["value"]
    roles = by_name(found, "SchemaName")["systemuserroles_association"]
    assert {k: roles[k] for k in roles if k in MANY_TO_MANY.properties or k == "@odata.type"} == roles
    assert {k: roles[k] for k in ("@odata.type", "SchemaName", "MetadataId", "RelationshipType")} == {
        "@odata.type": f"#{CRM}.ManyToManyRelationshipMetadata",
        "SchemaName": "systemuserroles_association",
        "MetadataId": metadata_id("relationship", "systemuserroles_association"),
        "RelationshipType": "ManyToManyRelationship",
    }
    assert {k: v for k, v in roles.items() if k.startswith(("Intersect", "Entity", "IsCustom"))} == {
        "IsCustomRelationship": False,
        "IntersectEntityName": "systemuserroles",
        "Entity1LogicalName": "systemuser",
        "Entity1IntersectAttribute": "systemuserid",
        "Entity1NavigationPropertyName": "systemuserroles_association",
        "Entity2LogicalName": "role",
        "Entity2IntersectAttribute": "roleid",
        "Entity2NavigationPropertyName": "systemuserroles_association",
    }


def test_one_to_many_only_property_on_many_to_many_is_refused(catalog: Catalog) -> None:
    expected = no_property("ReferencedEntity", "ManyToManyRelationshipMetadata")
    error = fails(catalog, "EntityDefinitions(LogicalName='lead')/ManyToManyRelationships", "$select=ReferencedEntity")
    assert (error.status, error.message) == (400, expected)
    cast = f"RelationshipDefinitions/{CRM}.ManyToManyRelationshipMetadata"
    assert fails(catalog, cast, "$select=ReferencedEntity").message == expected


def test_relationship_definitions(catalog: Catalog) -> None:
    every = get(catalog, "RelationshipDefinitions", "$select=SchemaName")["value"]
    assert len(every) == len(catalog.one_to_many) + len(catalog.many_to_many)
    filtered = get(catalog, "RelationshipDefinitions", "$filter=SchemaName eq 'new_widget_contact'")["value"]
    assert [r["@odata.type"] for r in filtered] == [f"#{CRM}.ManyToManyRelationshipMetadata"]
    one = get(catalog, f"RelationshipDefinitions/{CRM}.OneToManyRelationshipMetadata", "$select=ReferencedEntity")
    assert len(one["value"]) == len(catalog.one_to_many)
    assert all(r["@odata.type"] == f"#{CRM}.OneToManyRelationshipMetadata" for r in one["value"])
    single = get(catalog, "RelationshipDefinitions(SchemaName='account_primary_contact')")
    assert single["ReferencingEntity"] == "account"
    by_id = get(catalog, f"RelationshipDefinitions({metadata_id('relationship', 'account_primary_contact')})")
    assert by_id == single
    assert fails(catalog, "RelationshipDefinitions", "$select=ReferencedEntity").message == no_property(
        "ReferencedEntity", "RelationshipMetadataBase"
    )
    assert fails(catalog, "RelationshipDefinitions(SchemaName='nosuch')").status == 404
    assert fails(catalog, f"RelationshipDefinitions/{CRM}.EnumAttributeMetadata").status == 400
    mismatch = f"RelationshipDefinitions(SchemaName='new_widget_contact')/{CRM}.OneToManyRelationshipMetadata"
    assert fails(catalog, mismatch).status == 404


# -- GlobalOptionSetDefinitions and the service document --------------------------------------------


def test_global_option_sets(catalog: Catalog) -> None:
    body = get(catalog, "GlobalOptionSetDefinitions")
    assert body["@odata.context"] == f"{ROOT}$metadata#GlobalOptionSetDefinitions"
    found = by_name(body["value"], "Name")
    assert found["new_region"]["@odata.type"] == f"#{CRM}.OptionSetMetadata"
    assert found["new_yesno"]["@odata.type"] == f"#{CRM}.BooleanOptionSetMetadata"
    assert found["new_yesno"]["TrueOption"]["Value"] == 1
    assert all(item["IsGlobal"] for item in body["value"])
    region = get(catalog, "GlobalOptionSetDefinitions(Name='new_region')")
    assert region["@odata.context"] == f"{ROOT}$metadata#GlobalOptionSetDefinitions/$entity"
    assert [label["LanguageCode"] for label in region["Options"][0]["Label"]["LocalizedLabels"]] == [1033, 1031]
    by_id = get(catalog, f"GlobalOptionSetDefinitions({metadata_id('optionset', 'new_region')})")
    assert by_id == region
    selected = get(catalog, "GlobalOptionSetDefinitions", "$select=Name")["value"]
    assert all(set(item) == {"@odata.type", "MetadataId", "Name"} for item in selected)


def test_global_option_set_errors(catalog: Catalog) -> None:
    assert fails(catalog, "GlobalOptionSetDefinitions", "$filter=Name eq 'new_region'").status == 400
    assert fails(catalog, "GlobalOptionSetDefinitions(Name='nosuch')").status == 404
    assert fails(catalog, "GlobalOptionSetDefinitions", "$select=Bogus").status == 400


def test_service_document(catalog: Catalog) -> None:
    body = render_service_document(catalog, ROOT)
    assert body["@odata.context"] == f"{ROOT}$metadata"
    entries: list[dict[str, str]] = body["value"]  # type: ignore[assignment]
    assert {"name": "accounts", "kind": "EntitySet", "url": "accounts"} in entries
    names = [entry["name"] for entry in entries]
    assert names == sorted(names)
    assert {t.entity_set_name for t in catalog.tables} <= set(names)


# -- Consistency between rendered bodies and the declared types -------------------------------------


def test_every_rendered_property_is_declared_on_its_type(catalog: Catalog) -> None:
    for table in catalog.tables:
        entity = metadata_items.entity(catalog, table)
        assert set(entity.body) == set(ENTITY.properties)
        for attribute in table.attributes:
            body = metadata_items.attribute(catalog, table, attribute).body
            shape = attribute_shape(attribute_type_of(attribute))
            assert set(body) - {"@odata.type"} == set(shape.properties), attribute.logical_name
            for navigation in shape.navigation:
                target = metadata_items.attribute(catalog, table, attribute).navigate(navigation)
                for item in target.items:
                    assert set(item.body) - {"@odata.type"} == set(target.shape.properties)
    for item in metadata_items.relationships(catalog, ONE_TO_MANY):
        assert set(item.body) - {"@odata.type"} == set(ONE_TO_MANY.properties)
    for option_set in catalog.global_option_sets:
        body = metadata_items.option_set(option_set, typed=True).body
        shape = BOOLEAN_OPTION_SET if option_set.type.value == "Boolean" else OPTION_SET
        assert set(body) - {"@odata.type"} == set(shape.properties)
