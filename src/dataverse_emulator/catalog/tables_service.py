"""Service and activity tables of the ``standard`` profile: incident (case) and task."""

from __future__ import annotations

from dataverse_emulator.catalog import system_columns
from dataverse_emulator.catalog.choices import boolean, named, option, picklist, state, state_status, status
from dataverse_emulator.catalog.columns import (
    datetime,
    entityname,
    integer,
    lookup,
    memo,
    string,
    uniqueidentifier,
    virtual,
)
from dataverse_emulator.catalog.model import AttributeType
from dataverse_emulator.catalog.tables import TablePart, table

#: Tables a task can be regarding, with the relationship that links them.
REGARDING = {
    "account": "Account_Tasks",
    "contact": "Contact_Tasks",
    "lead": "Lead_Tasks",
    "opportunity": "Opportunity_Tasks",
    "incident": "Incident_Tasks",
    "new_widget": "new_widget_Tasks",
}


def incident() -> TablePart:
    return table(
        "Incident",
        "incidents",
        112,
        ("Case", "Cases"),
        uniqueidentifier("IncidentId", "Case", primary=True),
        string("Title", 200, "Case Title", de="Titel", primary_name=True, required="ApplicationRequired"),
        string("TicketNumber", 100, "Case Number", de="Vorgangsnummer", update=False),
        lookup(
            "CustomerId",
            "Customer",
            {"account": "incident_customer_accounts", "contact": "incident_customer_contacts"},
            kind=AttributeType.CUSTOMER,
            name_length=160,
            yomi=True,
            type_column="CustomerIdType",
            required="SystemRequired",
        ),
        lookup("PrimaryContactId", "Contact", {"contact": "contact_as_primary_contact"}, yomi=True),
        named(
            picklist(
                "PriorityCode",
                "Priority",
                [option(1, "High", "Hoch"), option(2, "Normal", "Normal"), option(3, "Low", "Niedrig")],
                default=2,
                de="Priorität",
            )
        ),
        named(picklist("CaseOriginCode", "Origin", global_set="incident_caseorigincode", default=1)),
        named(
            picklist(
                "CaseTypeCode",
                "Case Type",
                [option(1, "Question"), option(2, "Problem"), option(3, "Request")],
            )
        ),
        named(picklist("SeverityCode", "Severity", [option(1, "Default Value")], default=1)),
        memo("Description", 2000, "Description"),
        datetime("FollowupBy", "Follow Up By"),
        datetime("EscalatedOn", "Escalated On", create=False, update=False),
        named(boolean("IsEscalated", "Is Escalated", "Yes", "No")),
        virtual("CaseAge", "Case Age", create=False, update=False),
        state_status(
            [state(0, "Active", 1, "Aktiv"), state(1, "Resolved", 5, "Gelöst"), state(2, "Cancelled", 6)],
            [
                status(1, "In Progress", 0),
                status(2, "On Hold", 0),
                status(3, "Waiting for Details", 0),
                status(4, "Researching", 0),
                status(5, "Problem Solved", 1, "Problem gelöst"),
                status(1000, "Information Provided", 1),
                status(6, "Cancelled", 2),
                status(2000, "Merged", 2),
            ],
        ),
        system_columns.standard("incidentbase", "incidents"),
        de="Fall",
        de_plural="Fälle",
    )


def task() -> TablePart:
    return table(
        "Task",
        "tasks",
        4212,
        ("Task", "Tasks"),
        uniqueidentifier("ActivityId", "Task", primary=True),
        string("Subject", 200, "Subject", de="Betreff", primary_name=True, required="ApplicationRequired"),
        memo("Description", 2000, "Description"),
        datetime("ScheduledStart", "Start Date"),
        datetime("ScheduledEnd", "Due Date", de="Fälligkeitsdatum"),
        datetime("ActualStart", "Actual Start"),
        datetime("ActualEnd", "Actual End"),
        integer("ActualDurationMinutes", "Duration", minimum=0, maximum=2_147_483_647, fmt="Duration"),
        integer("ScheduledDurationMinutes", "Scheduled Duration", minimum=0, fmt="Duration", create=False),
        integer("PercentComplete", "Percent Complete", minimum=0, maximum=100),
        named(
            picklist(
                "PriorityCode",
                "Priority",
                [option(0, "Low", "Niedrig"), option(1, "Normal", "Normal"), option(2, "High", "Hoch")],
                default=1,
            )
        ),
        string("Category", 250, "Category"),
        string("Subcategory", 250, "Sub-Category"),
        entityname("ActivityTypeCode", "Activity Type", create=False, update=False),
        lookup(
            "RegardingObjectId",
            "Regarding",
            REGARDING,
            navigation="{attribute}_{target}_task",
            name_length=4000,
            yomi=True,
            type_column="RegardingObjectTypeCode",
        ),
        named(boolean("IsBilled", "Is Billed", "Yes", "No")),
        named(boolean("IsRegularActivity", "Is Regular Activity", "Yes", "No", default=True, create=False)),
        state_status(
            [
                state(0, "Open", 2, "Offen"),
                state(1, "Completed", 5, "Abgeschlossen"),
                state(2, "Canceled", 6, "Abgebrochen"),
            ],
            [
                status(2, "Not Started", 0),
                status(3, "In Progress", 0),
                status(4, "Waiting on someone else", 0),
                status(7, "Deferred", 0),
                status(5, "Completed", 1),
                status(6, "Canceled", 2),
            ],
        ),
        system_columns.standard("task", "tasks"),
        is_activity=True,
        de="Aufgabe",
        de_plural="Aufgaben",
    )
