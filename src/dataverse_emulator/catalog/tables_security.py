"""Security and reference tables: systemuser, businessunit, team, role, roletemplate, owner, currency.

``owner`` and ``roletemplate`` exist because Dataverse's relationships point at them: every
``ownerid`` relationship (``owner_accounts``) has ``owner`` as its referenced table, and
``role.roletemplateid`` references ``roletemplate``. Neither can be change-tracked.
"""

from __future__ import annotations

from dataverse_emulator.catalog import system_columns
from dataverse_emulator.catalog.choices import active_inactive, boolean, named, option, picklist
from dataverse_emulator.catalog.columns import (
    decimal,
    entityname,
    image,
    integer,
    lookup,
    memo,
    string,
    uniqueidentifier,
)
from dataverse_emulator.catalog.tables import TablePart, table

ACCESS_MODES = (
    option(0, "Read-Write", "Lesen/Schreiben"),
    option(1, "Administrative", "Administrativ"),
    option(2, "Read"),
    option(3, "Support User"),
    option(4, "Non-interactive"),
    option(5, "Delegated Admin"),
)


def systemuser() -> TablePart:
    return table(
        "SystemUser",
        "systemusers",
        8,
        ("User", "Users"),
        uniqueidentifier("SystemUserId", "User", primary=True),
        string("FullName", 200, "Full Name", primary_name=True, create=False, update=False),
        string("FirstName", 64, "First Name"),
        string("LastName", 64, "Last Name"),
        string("DomainName", 1024, "User Name", required="SystemRequired"),
        string("InternalEMailAddress", 100, "Primary Email", fmt="Email"),
        uniqueidentifier("AzureActiveDirectoryObjectId", "Azure AD Object ID", update=False),
        uniqueidentifier("ApplicationId", "Application ID"),
        named(boolean("IsDisabled", "Status", "Disabled", "Enabled", create=False, de="Status")),
        named(picklist("AccessMode", "Access Mode", ACCESS_MODES, default=0, de="Zugriffsmodus")),
        named(boolean("IsLicensed", "User Licensed", "Yes", "No", create=False)),
        string("Title", 128, "Title"),
        string("JobTitle", 100, "Job Title"),
        string("MobilePhone", 64, "Mobile Phone", fmt="Phone"),
        lookup("BusinessUnitId", "Business Unit", {"businessunit": "business_unit_system_users"}, name_length=160),
        lookup("ParentSystemUserId", "Manager", {"systemuser": "user_parent_user"}, name_length=200, yomi=True),
        image(),
        system_columns.audit("systemuserbase"),
        system_columns.housekeeping(),
        ownership="BusinessOwned",
        de="Benutzer",
        de_plural="Benutzer",
    )


def businessunit() -> TablePart:
    return table(
        "BusinessUnit",
        "businessunits",
        10,
        ("Business Unit", "Business Units"),
        uniqueidentifier("BusinessUnitId", "Business Unit", primary=True),
        string("Name", 160, "Name", primary_name=True, required="SystemRequired"),
        lookup(
            "ParentBusinessUnitId",
            "Parent Business",
            {"businessunit": "business_unit_parent_business_unit"},
            name_length=160,
        ),
        string("DivisionName", 100, "Division"),
        string("EMailAddress", 100, "Email", fmt="Email"),
        string("WebSiteUrl", 200, "Website", fmt="Url"),
        string("CostCenter", 100, "Cost Center"),
        named(boolean("IsDisabled", "Is Disabled", "Yes", "No", create=False)),
        memo("Description", 2000, "Description"),
        system_columns.audit("businessunitbase"),
        system_columns.housekeeping(),
        ownership="BusinessOwned",
        de="Unternehmenseinheit",
    )


def team() -> TablePart:
    return table(
        "Team",
        "teams",
        9,
        ("Team", "Teams"),
        uniqueidentifier("TeamId", "Team", primary=True),
        string("Name", 160, "Team Name", primary_name=True, required="SystemRequired"),
        named(
            picklist(
                "TeamType",
                "Team Type",
                [
                    option(0, "Owner"),
                    option(1, "Access"),
                    option(2, "Security Group"),
                    option(3, "Office Group"),
                ],
                default=0,
            )
        ),
        named(
            picklist(
                "MembershipType",
                "Membership Type",
                [
                    option(0, "Members and guests"),
                    option(1, "Members"),
                    option(2, "Owners"),
                    option(3, "Guests"),
                ],
                default=0,
            )
        ),
        lookup("BusinessUnitId", "Business Unit", {"businessunit": "business_unit_teams"}, name_length=160),
        lookup("AdministratorId", "Administrator", {"systemuser": "lk_teambase_administratorid"}, yomi=True),
        named(boolean("IsDefault", "Is Default", "Yes", "No", create=False, update=False)),
        string("EMailAddress", 100, "Email", fmt="Email"),
        uniqueidentifier("AzureActiveDirectoryObjectId", "Object Id for a group"),
        memo("Description", 2000, "Description"),
        system_columns.audit("teambase"),
        system_columns.housekeeping(),
        ownership="BusinessOwned",
    )


def role() -> TablePart:
    return table(
        "Role",
        "roles",
        1036,
        ("Security Role", "Security Roles"),
        uniqueidentifier("RoleId", "Role", primary=True),
        string("Name", 100, "Name", primary_name=True, required="SystemRequired"),
        lookup("BusinessUnitId", "Business Unit", {"businessunit": "business_unit_roles"}, name_length=160),
        lookup("RoleTemplateId", "Role Template ID", {"roletemplate": "role_template_roles"}, name_length=None),
        lookup("ParentRoleId", "Parent Role", {"role": "role_parent_role"}),
        lookup("ParentRootRoleId", "Parent Root Role", {"role": "role_parent_root_role"}),
        named(boolean("IsInherited", "Is Inherited", "Team privileges only", "Direct User", default=True)),
        system_columns.audit("rolebase"),
        system_columns.housekeeping(),
        ownership="BusinessOwned",
        de="Sicherheitsrolle",
    )


def roletemplate() -> TablePart:
    return table(
        "RoleTemplate",
        "roletemplates",
        1037,
        ("Role Template", "Role Templates"),
        uniqueidentifier("RoleTemplateId", "Role Template", primary=True),
        string("Name", 100, "Name", primary_name=True),
        named(boolean("Upgrading", "Upgrading", "Yes", "No")),
        system_columns.version_number(),
        ownership="None",
        change_tracking=False,
        can_change_tracking_be_enabled=False,
        is_valid_for_advanced_find=False,
        is_optimistic_concurrency_enabled=False,
    )


def owner() -> TablePart:
    return table(
        "Owner",
        "owners",
        7,
        ("Owner", "Owners"),
        uniqueidentifier("OwnerId", "Owner", primary=True),
        string("Name", 160, "Name", primary_name=True),
        string("YomiName", 160, "Yomi Name"),
        entityname("OwnerIdType", "Owner Id Type"),
        system_columns.version_number(),
        ownership="None",
        change_tracking=False,
        can_change_tracking_be_enabled=False,
        is_valid_for_advanced_find=False,
        is_optimistic_concurrency_enabled=False,
    )


def transactioncurrency() -> TablePart:
    return table(
        "TransactionCurrency",
        "transactioncurrencies",
        9105,
        ("Currency", "Currencies"),
        uniqueidentifier("TransactionCurrencyId", "Transaction Currency", primary=True),
        string(
            "CurrencyName",
            100,
            "Currency Name",
            de="Währungsname",
            primary_name=True,
            required="SystemRequired",
        ),
        string("ISOCurrencyCode", 5, "Currency Code", required="SystemRequired"),
        string("CurrencySymbol", 10, "Currency Symbol", required="SystemRequired"),
        decimal(
            "ExchangeRate",
            10,
            "Exchange Rate",
            minimum=0,
            maximum=100_000_000_000,
            required="SystemRequired",
        ),
        integer("CurrencyPrecision", "Currency Precision", minimum=0, maximum=4, required="SystemRequired"),
        active_inactive(),
        system_columns.audit("transactioncurrencybase"),
        system_columns.housekeeping(),
        ownership="OrganizationOwned",
        de="Währung",
        de_plural="Währungen",
    )
