"""Invariants of the ``standard`` profile's metadata (spec §9.2, §2.6, §4, §7.7; des.md §6.3)."""

from __future__ import annotations

from collections import Counter

import pytest

from dataverse_emulator.catalog.model import (
    LOOKUP_TYPES,
    AttributeDef,
    AttributeType,
    Catalog,
    DateTimeBehavior,
    OptionSetType,
    TableDef,
)
from dataverse_emulator.catalog.standard import catalog_profiles, standard_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return standard_catalog()


def table(catalog: Catalog, name: str) -> TableDef:
    found = catalog.table(name)
    assert found is not None, name
    return found


def attr(catalog: Catalog, table_name: str, name: str) -> AttributeDef:
    found = table(catalog, table_name).attribute(name)
    assert found is not None, f"{table_name}.{name}"
    return found


def test_profiles_offer_standard() -> None:
    assert catalog_profiles()["standard"]() == standard_catalog()


def test_the_catalog_is_deterministic_and_survives_a_json_round_trip(catalog: Catalog) -> None:
    assert standard_catalog().model_dump_json() == catalog.model_dump_json()
    restored = Catalog.model_validate_json(catalog.model_dump_json())
    assert restored == catalog
    version = restored.table("account").attribute("versionnumber")  # type: ignore[union-attr]
    assert version is not None and version.max_value == 9_223_372_036_854_775_807


def test_profile_holds_the_required_tables(catalog: Catalog) -> None:
    required = {
        "account", "contact", "lead", "opportunity", "incident", "task", "systemuser", "businessunit", "team",
        "role", "systemuserroles", "teammembership", "teamroles", "transactioncurrency", "accountleads",
        "contactleads", "new_widget", "new_wide", "new_untracked", "new_widget_contact",
    }  # fmt: skip
    assert required <= {t.logical_name for t in catalog.tables}


def test_names_set_names_and_type_codes_are_unique(catalog: Catalog) -> None:
    for values in (
        [t.logical_name for t in catalog.tables],
        [t.entity_set_name for t in catalog.tables],
        [t.object_type_code for t in catalog.tables],
        [t.metadata_id for t in catalog.tables],
    ):
        assert not [v for v, n in Counter(values).items() if n > 1]


@pytest.mark.parametrize("name", [t.logical_name for t in standard_catalog().tables])
def test_every_table_is_well_formed(catalog: Catalog, name: str) -> None:
    t = table(catalog, name)
    names = [a.logical_name for a in t.attributes]
    assert len(names) == len(set(names))
    numbers = [a.column_number for a in t.attributes]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) and numbers[0] >= 1
    assert all(a.logical_name == a.schema_name.lower() for a in t.attributes)
    primary = attr(catalog, name, t.primary_id)
    assert primary.is_primary_id and primary.type is AttributeType.UNIQUEIDENTIFIER
    if t.primary_name is not None:
        assert attr(catalog, name, t.primary_name).is_primary_name
    version = attr(catalog, name, "versionnumber")
    assert version.type is AttributeType.BIGINT and version.is_valid_for_read
    for a in t.attributes:
        if a.attribute_of is not None:
            assert t.attribute(a.attribute_of) is not None, a.logical_name


@pytest.mark.parametrize("name", ["account", "contact", "lead", "opportunity", "incident", "task", "new_widget"])
def test_user_owned_tables_carry_audit_and_owner_columns(catalog: Catalog, name: str) -> None:
    t = table(catalog, name)
    assert t.ownership == "UserOwned"
    for column in ("createdon", "modifiedon", "createdby", "modifiedby", "ownerid", "owningbusinessunit"):
        assert t.attribute(column) is not None, column
    assert attr(catalog, name, "owneridtype").attribute_of == "ownerid"
    assert attr(catalog, name, "owneridtype").type is AttributeType.ENTITYNAME


def test_account_has_the_real_shapes(catalog: Catalog) -> None:
    account = table(catalog, "account")
    assert (account.object_type_code, account.entity_set_name, account.schema_name) == (1, "accounts", "Account")
    assert (account.primary_id, account.primary_name, account.primary_image) == ("accountid", "name", "entityimage")
    lengths = {"name": 160, "accountnumber": 20, "emailaddress1": 100, "telephone1": 50, "websiteurl": 200}
    assert {n: attr(catalog, "account", n).max_length for n in lengths} == lengths
    assert attr(catalog, "account", "websiteurl").format_name == "Url"
    assert attr(catalog, "account", "emailaddress1").format_name == "Email"
    description = attr(catalog, "account", "description")
    assert (description.type, description.max_length) == (AttributeType.MEMO, 2000)
    revenue, base = attr(catalog, "account", "revenue"), attr(catalog, "account", "revenue_base")
    assert (revenue.type, revenue.precision, revenue.is_base_currency) == (AttributeType.MONEY, 2, False)
    assert (base.type, base.precision, base.is_base_currency) == (AttributeType.MONEY, 4, True)
    latitude = attr(catalog, "account", "address1_latitude")
    assert (latitude.type, latitude.precision) == (AttributeType.DOUBLE, 5)
    rate = attr(catalog, "account", "exchangerate")
    assert (rate.type, rate.precision, rate.is_valid_for_create) == (AttributeType.DECIMAL, 10, False)
    assert attr(catalog, "account", "numberofemployees").type is AttributeType.INTEGER
    assert attr(catalog, "account", "donotemail").type is AttributeType.BOOLEAN
    assert attr(catalog, "account", "createdon").datetime_behavior is DateTimeBehavior.USER_LOCAL
    assert attr(catalog, "account", "overriddencreatedon").datetime_behavior is DateTimeBehavior.DATE_ONLY
    assert attr(catalog, "account", "ownerid").targets == ("systemuser", "team")
    assert attr(catalog, "account", "primarycontactid").targets == ("contact",)
    for helper in ("primarycontactidname", "primarycontactidyominame", "owneridname", "owneridyominame"):
        assert attr(catalog, "account", helper).type is AttributeType.STRING
        assert attr(catalog, "account", helper).attribute_of == helper.removesuffix("yominame").removesuffix("name")
    assert {a: attr(catalog, "account", a).attribute_of for a in ("statecodename", "statuscodename")} == {
        "statecodename": "statecode",
        "statuscodename": "statuscode",
    }
    image = attr(catalog, "account", "entityimage")
    assert (image.type, image.type_name) == (AttributeType.VIRTUAL, "ImageType")
    for companion in ("entityimageid", "entityimage_url", "entityimage_timestamp"):
        assert attr(catalog, "account", companion).attribute_of == "entityimage"
        assert attr(catalog, "account", companion).is_row_property
    assert 40 <= len(account.attributes) <= 100


def test_state_and_status_options_carry_their_extras(catalog: Catalog) -> None:
    state = attr(catalog, "account", "statecode").option_set
    status = attr(catalog, "account", "statuscode").option_set
    assert state is not None and status is not None
    assert state.type is OptionSetType.STATE and status.type is OptionSetType.STATUS
    assert [(o.value, o.default_status, o.invariant_name) for o in state.options] == [
        (0, 1, "Active"),
        (1, 2, "Inactive"),
    ]
    assert [(o.value, o.state) for o in status.options] == [(1, 0), (2, 1)]
    assert state.name == "account_statecode"


def test_new_widget_covers_every_value_encoding(catalog: Catalog) -> None:
    widget = table(catalog, "new_widget")
    assert (widget.entity_set_name, widget.is_custom) == ("new_widgets", True)
    own = [a for a in widget.attributes if a.attribute_of is None]
    types = {a.type for a in own}
    assert {
        AttributeType.STRING, AttributeType.MEMO, AttributeType.INTEGER, AttributeType.BIGINT,
        AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY, AttributeType.BOOLEAN,
        AttributeType.PICKLIST, AttributeType.DATETIME, AttributeType.LOOKUP, AttributeType.CUSTOMER,
        AttributeType.OWNER, AttributeType.STATE, AttributeType.STATUS, AttributeType.UNIQUEIDENTIFIER,
    } <= types  # fmt: skip
    assert any(a.type is AttributeType.ENTITYNAME for a in widget.attributes)
    behaviors = {a.datetime_behavior for a in own if a.type is AttributeType.DATETIME}
    assert behaviors == set(DateTimeBehavior)
    multiselect = [a for a in own if a.is_multiselect]
    assert multiselect and all(a.type is AttributeType.VIRTUAL for a in multiselect)
    assert all(catalog.option_set_of(a) is not None for a in multiselect)
    region = attr(catalog, "new_widget", "new_region")
    assert region.global_option_set == "new_region" and catalog.option_set_of(region) is not None
    assert attr(catalog, "new_widget", "new_accountid").targets == ("account",)
    assert attr(catalog, "new_widget", "new_price_base").is_base_currency


def test_wide_table_has_over_two_hundred_columns_and_huge_memos(catalog: Catalog) -> None:
    wide = table(catalog, "new_wide")
    assert wide.entity_set_name == "new_wides"
    assert len(wide.row_attributes()) >= 200
    huge = [a for a in wide.attributes if a.type is AttributeType.MEMO and a.max_length == 1_048_576]
    assert len(huge) >= 2


def test_tracking_matches_the_profile(catalog: Catalog) -> None:
    untracked = table(catalog, "new_untracked")
    assert (untracked.change_tracking, untracked.can_change_tracking_be_enabled) == (False, True)
    for name in ("accountleads", "contactleads", "systemuserroles", "teammembership", "teamroles"):
        intersect = table(catalog, name)
        assert intersect.is_intersect and intersect.change_tracking, name
    custom = table(catalog, "new_widget_contact")
    assert custom.is_intersect and not custom.change_tracking
    for name in ("account", "contact", "lead", "opportunity", "incident", "task", "new_widget", "new_wide"):
        assert table(catalog, name).change_tracking, name


def test_intersects_expose_both_keys_as_plain_ids(catalog: Catalog) -> None:
    by_name = {r.schema_name: r for r in catalog.many_to_many}
    assert set(by_name) >= {
        "accountleads_association", "contactleads_association", "systemuserroles_association",
        "teammembership_association", "teamroles_association", "new_widget_contact",
    }  # fmt: skip
    for relationship in catalog.many_to_many:
        intersect = table(catalog, relationship.intersect_entity)
        assert intersect.is_intersect
        for side, column in (
            (relationship.entity1, relationship.entity1_attribute),
            (relationship.entity2, relationship.entity2_attribute),
        ):
            assert attr(catalog, relationship.intersect_entity, column).type is AttributeType.UNIQUEIDENTIFIER
            assert table(catalog, side).primary_id == column
    roles = by_name["systemuserroles_association"]
    assert (roles.entity1, roles.entity2, roles.intersect_entity) == ("systemuser", "role", "systemuserroles")


def test_labels_come_in_two_languages_somewhere(catalog: Catalog) -> None:
    attributes = [a for t in catalog.tables for a in t.attributes]
    assert any(1031 in a.display_name and 1033 in a.display_name for a in attributes)
    assert any(1031 in t.display_name for t in catalog.tables)
    options = [o for a in attributes if a.option_set for o in a.option_set.options]
    assert any(list(o.labels) == [1033, 1031] for o in options)
    assert all(not a.display_name or next(iter(a.display_name)) == 1033 for a in attributes)


def test_every_lookup_has_targets_and_a_relationship(catalog: Catalog) -> None:
    tables = {t.logical_name: t for t in catalog.tables}
    for t in catalog.tables:
        for a in t.attributes:
            if a.type not in LOOKUP_TYPES:
                continue
            assert a.targets and set(a.targets) <= set(tables), f"{t.logical_name}.{a.logical_name}"
            related = [
                r
                for r in catalog.one_to_many
                if r.referencing_entity == t.logical_name and r.referencing_attribute == a.logical_name
            ]
            expected = {"owner"} if a.type is AttributeType.OWNER else set(a.targets)
            assert {r.referenced_entity for r in related} == expected, f"{t.logical_name}.{a.logical_name}"


def test_relationships_point_at_primary_keys_with_unique_navigations(catalog: Catalog) -> None:
    names = [r.schema_name for r in catalog.one_to_many] + [r.schema_name for r in catalog.many_to_many]
    assert not [n for n, count in Counter(n.lower() for n in names).items() if count > 1]
    for r in catalog.one_to_many:
        assert table(catalog, r.referenced_entity).primary_id == r.referenced_attribute
        assert table(catalog, r.referencing_entity).attribute(r.referencing_attribute) is not None
    navigations = Counter((r.referencing_entity, r.referencing_navigation) for r in catalog.one_to_many)
    assert not [key for key, count in navigations.items() if count > 1]


def test_navigation_names_follow_dataverse(catalog: Catalog) -> None:
    def navigation(schema_name: str) -> tuple[str, str, str]:
        found = next(r for r in catalog.one_to_many if r.schema_name == schema_name)
        return found.referenced_entity, found.referencing_entity, found.referencing_navigation

    assert navigation("account_primary_contact") == ("contact", "account", "primarycontactid")
    assert navigation("account_parent_account") == ("account", "account", "parentaccountid")
    assert navigation("contact_customer_accounts") == ("account", "contact", "parentcustomerid_account")
    assert navigation("contact_customer_contacts") == ("contact", "contact", "parentcustomerid_contact")
    assert navigation("owner_accounts") == ("owner", "account", "ownerid")
    assert navigation("business_unit_accounts") == ("businessunit", "account", "owningbusinessunit")
    assert navigation("lk_accountbase_createdby") == ("systemuser", "account", "createdby")
    assert navigation("Account_Tasks") == ("account", "task", "regardingobjectid_account_task")
    assert navigation("new_account_new_widget") == ("account", "new_widget", "new_AccountId")
    assert navigation("new_new_widget_customerid_contact") == ("contact", "new_widget", "new_CustomerId_contact")


def test_contact_lead_opportunity_incident_and_task(catalog: Catalog) -> None:
    assert attr(catalog, "contact", "parentcustomerid").type is AttributeType.CUSTOMER
    assert attr(catalog, "contact", "parentcustomerid").targets == ("account", "contact")
    assert attr(catalog, "contact", "parentcustomeridtype").attribute_of == "parentcustomerid"
    assert attr(catalog, "contact", "birthdate").datetime_behavior is DateTimeBehavior.DATE_ONLY
    assert attr(catalog, "contact", "gendercode").type is AttributeType.PICKLIST
    assert attr(catalog, "opportunity", "estimatedvalue").type is AttributeType.MONEY
    assert attr(catalog, "opportunity", "estimatedclosedate").datetime_behavior is DateTimeBehavior.DATE_ONLY
    assert attr(catalog, "opportunity", "closeprobability").type is AttributeType.INTEGER
    assert attr(catalog, "opportunity", "customerid").type is AttributeType.CUSTOMER
    assert attr(catalog, "incident", "ticketnumber").type is AttributeType.STRING
    assert catalog.option_set_of(attr(catalog, "incident", "caseorigincode")) is not None
    task = table(catalog, "task")
    assert (task.is_activity, task.primary_id, task.object_type_code) == (True, "activityid", 4212)
    assert len(attr(catalog, "task", "regardingobjectid").targets) > 1
    assert attr(catalog, "task", "regardingobjecttypecode").attribute_of == "regardingobjectid"


def test_security_tables_support_the_admin_check(catalog: Catalog) -> None:
    user = table(catalog, "systemuser")
    assert user.ownership == "BusinessOwned"
    kinds = {
        "azureactivedirectoryobjectid": AttributeType.UNIQUEIDENTIFIER,
        "applicationid": AttributeType.UNIQUEIDENTIFIER,
        "isdisabled": AttributeType.BOOLEAN,
        "accessmode": AttributeType.PICKLIST,
        "businessunitid": AttributeType.LOOKUP,
        "domainname": AttributeType.STRING,
        "internalemailaddress": AttributeType.STRING,
        "fullname": AttributeType.STRING,
    }
    assert {name: attr(catalog, "systemuser", name).type for name in kinds} == kinds
    access = attr(catalog, "systemuser", "accessmode").option_set
    assert access is not None and [o.value for o in access.options] == [0, 1, 2, 3, 4, 5]
    assert attr(catalog, "role", "roletemplateid").targets == ("roletemplate",)
    assert attr(catalog, "role", "businessunitid").targets == ("businessunit",)
    assert attr(catalog, "team", "teamtype").type is AttributeType.PICKLIST
    assert attr(catalog, "transactioncurrency", "exchangerate").precision == 10
    assert attr(catalog, "transactioncurrency", "isocurrencycode").max_length == 5


def test_option_sets_are_named_uniquely_and_globals_resolve(catalog: Catalog) -> None:
    local = [a.option_set.name for t in catalog.tables for a in t.attributes if a.option_set is not None]
    assert all(local) and len(local) == len(set(local))
    assert {s.name for s in catalog.global_option_sets} >= {"new_region"}
    region = catalog.global_option_set("new_region")
    assert region is not None and region.is_global
    assert any(1031 in o.labels for o in region.options)
    for t in catalog.tables:
        for a in t.attributes:
            if a.global_option_set is not None:
                assert catalog.global_option_set(a.global_option_set) is not None
