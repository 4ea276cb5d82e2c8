"""Custom tables of the ``standard`` profile (publisher prefix ``new_``).

``new_widget`` carries one column of every value encoding of spec §2.6, ``new_wide`` is the page-size
table (more than 200 columns, a few memos of 1 MiB), ``new_untracked`` has change tracking off.
"""

from __future__ import annotations

from dataverse_emulator.catalog import system_columns
from dataverse_emulator.catalog.choices import active_inactive, boolean, multiselect, named, option, picklist
from dataverse_emulator.catalog.columns import (
    bigint,
    datetime,
    decimal,
    double,
    integer,
    lookup,
    memo,
    money,
    string,
    uniqueidentifier,
)
from dataverse_emulator.catalog.model import AttributeDef, AttributeType, DateTimeBehavior
from dataverse_emulator.catalog.tables import TablePart, table

WIDE_TEXTS, WIDE_MEMOS, WIDE_INTEGERS, WIDE_DECIMALS, WIDE_DATES = 80, 20, 40, 30, 30
#: Memo columns of new_wide that may hold up to 1 MiB of text.
WIDE_HUGE_MEMOS = 4


def new_widget() -> TablePart:
    return table(
        "new_widget",
        "new_widgets",
        10000,
        ("Widget", "Widgets"),
        uniqueidentifier("new_widgetId", "Widget", primary=True),
        string("new_Name", 100, "Name", de="Name", primary_name=True, required="ApplicationRequired"),
        string("new_Code", 20, "Code", de="Kennung"),
        string("new_Email", 100, "Email", fmt="Email"),
        memo("new_Notes", 10000, "Notes", de="Notizen"),
        integer("new_Quantity", "Quantity", minimum=0, maximum=1_000_000, de="Menge"),
        bigint("new_Serial", "Serial Number"),
        decimal("new_Weight", 4, "Weight", minimum=0, maximum=1_000_000),
        double("new_Score", 3, "Score", minimum=-1_000_000.0, maximum=1_000_000.0),
        money("new_Price", "Price", de="Preis"),
        named(boolean("new_IsActive", "Is Active", "Yes", "No", default=True, de="Ist aktiv")),
        named(picklist("new_Region", "Region", global_set="new_region", de="Region")),
        named(
            multiselect(
                "new_Colors",
                "Colors",
                [
                    option(100000000, "Red", "Rot"),
                    option(100000001, "Green", "Grün"),
                    option(100000002, "Blue", "Blau"),
                    option(100000003, "Yellow"),
                    option(100000004, "Black"),
                ],
                de="Farben",
            )
        ),
        named(multiselect("new_Regions", "Regions Served", global_set="new_region")),
        datetime("new_StartedOn", "Started On"),
        datetime("new_DueOn", "Due On", DateTimeBehavior.DATE_ONLY, de="Fällig am"),
        datetime("new_ShippedOn", "Shipped On", DateTimeBehavior.TIME_ZONE_INDEPENDENT),
        lookup("new_AccountId", "Account", {"account": "new_account_new_widget"}, name_length=160, yomi=True),
        lookup(
            "new_CustomerId",
            "Customer",
            {"account": "new_new_widget_customerid_account", "contact": "new_new_widget_customerid_contact"},
            kind=AttributeType.CUSTOMER,
            name_length=160,
            yomi=True,
            type_column="new_CustomerIdType",
        ),
        uniqueidentifier("new_ExternalId", "External Id"),
        system_columns.currency("new_widget"),
        active_inactive(),
        system_columns.standard("new_widget", "new_widget"),
        de="Widget",
        de_plural="Widgets",
        description="Custom table with one column of every supported type.",
    )


def new_untracked() -> TablePart:
    return table(
        "new_untracked",
        "new_untrackeds",
        10002,
        ("Untracked Item", "Untracked Items"),
        uniqueidentifier("new_untrackedId", "Untracked Item", primary=True),
        string("new_Name", 100, "Name", primary_name=True, required="ApplicationRequired"),
        integer("new_Value", "Value"),
        memo("new_Notes", 2000, "Notes"),
        active_inactive(),
        system_columns.standard("new_untracked", "new_untracked"),
        change_tracking=False,
        can_change_tracking_be_enabled=True,
        description="Custom table with change tracking off.",
    )


def new_wide() -> TablePart:
    return table(
        "new_wide",
        "new_wides",
        10001,
        ("Wide Record", "Wide Records"),
        uniqueidentifier("new_wideId", "Wide Record", primary=True),
        string("new_Name", 200, "Name", primary_name=True, required="ApplicationRequired"),
        *_wide_columns(),
        active_inactive(),
        system_columns.standard("new_wide", "new_wide"),
        description="Custom table with more than two hundred columns, for page-size tests.",
    )


def _wide_columns() -> list[AttributeDef]:
    lengths = (100, 200, 500, 1000, 4000)
    columns = [string(f"new_Text{i:03}", lengths[i % 5], f"Text {i:03}") for i in range(1, WIDE_TEXTS + 1)]
    columns += [
        memo(f"new_Memo{i:03}", 1_048_576 if i <= WIDE_HUGE_MEMOS else 10_000, f"Memo {i:03}")
        for i in range(1, WIDE_MEMOS + 1)
    ]
    columns += [integer(f"new_Int{i:03}", f"Integer {i:03}") for i in range(1, WIDE_INTEGERS + 1)]
    columns += [decimal(f"new_Amount{i:03}", i % 6 + 2, f"Amount {i:03}") for i in range(1, WIDE_DECIMALS + 1)]
    behaviors = (
        DateTimeBehavior.USER_LOCAL,
        DateTimeBehavior.DATE_ONLY,
        DateTimeBehavior.TIME_ZONE_INDEPENDENT,
    )
    columns += [datetime(f"new_Date{i:03}", f"Date {i:03}", behaviors[i % 3]) for i in range(1, WIDE_DATES + 1)]
    return columns
