"""How the API commands show the service's answers: Rich tables, the raw JSON, and the DES error body as sent.

Every value from the service is rendered as plain text (never as Rich markup), so a name containing brackets
prints as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dataexport.cli.client import ApiError, JsonValue

CHECK_STYLES = {"Passed": "green", "Failed": "bold red", "Warning": "yellow", "Skipped": "dim"}
STATE_STYLES = {"Active": "green", "Delta": "green", "InitialSync": "cyan", "Failed": "bold red", "Removed": "dim"}
PROFILE_FIELDS = (
    "Id",
    "Name",
    "OrganizationId",
    "State",
    "ActivationMode",
    "KeyVaultUri",
    "SchemaName",
    "TablePrefix",
    "RetryCount",
    "RetryInterval",
    "WriteDeleteLog",
    "Entities",
    "Relationships",
    "CreatedOn",
    "ModifiedOn",
)
STATUS_FIELDS = ("FailedNotificationsCount", "LastSynchronizedOn", "LagSeconds", "LastError")


def dump_json(value: JsonValue) -> str:
    """The response exactly as JSON, indented for reading (what ``--json`` prints)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def member(value: JsonValue, name: str) -> JsonValue:
    """``value[name]`` for an object, else None."""
    return value.get(name) if isinstance(value, dict) else None


def items(value: JsonValue) -> list[JsonValue]:
    """The elements of an array, or none."""
    return value if isinstance(value, list) else []


def cell(value: JsonValue, style: str = "") -> Text:
    """One value as table text: ``-`` for null, yes/no for booleans, names for ``[{"Name": ...}]``."""
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style=style)
    if isinstance(value, list):
        return Text(", ".join(str(member(item, "Name") or item) for item in value), style=style)
    return Text(str(value), style=style)


def state_cell(value: JsonValue) -> Text:
    """A profile or entity state, coloured by what it means."""
    return cell(value, STATE_STYLES.get(str(value), ""))


def lag(value: JsonValue) -> Text:
    """Seconds as ``45s``, ``3m05s`` or ``2h07m``."""
    if not isinstance(value, int) or isinstance(value, bool):
        return cell(value)
    if value < 60:
        return Text(f"{value}s")
    if value < 3600:
        return Text(f"{value // 60}m{value % 60:02d}s")
    return Text(f"{value // 3600}h{value % 3600 // 60:02d}m")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Text]]) -> Table:
    """A table whose cells fold rather than truncate, so identifiers stay whole."""
    result = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result


def fields_table(value: JsonValue, names: Sequence[str], title: str | None = None) -> Table:
    """A two-column table of the named members of an object, in the order given."""
    result = Table(title=title, title_justify="left", show_header=False)
    result.add_column("Field", style="bold")
    result.add_column("Value", overflow="fold")
    for name in names:
        if isinstance(value, dict) and name in value:
            result.add_row(name, cell(value[name]))
    return result


def organizations_table(orgs: JsonValue) -> Table:
    """``GET metadata/organizations``."""
    columns = ("OrganizationId", "FriendlyName", "OrganizationUrl", "UniqueName", "Region", "PrivacyTermsAccepted")
    return table("Organizations", columns, ([cell(member(org, name)) for name in columns] for org in items(orgs)))


def organization_table(org: JsonValue) -> Table:
    """``GET metadata/discover``."""
    names = ("OrganizationId", "OrganizationUrl", "FriendlyName", "UniqueName", "TenantId", "Region")
    return fields_table(org, (*names, "PrivacyTermsAccepted"), "Organization")


def entities_table(entities: JsonValue) -> Table:
    """``GET metadata/entities``."""
    columns = ("LogicalName", "DisplayName", "EntitySetName", "PrimaryIdAttribute", "IsChangeTrackingEnabled")
    rows = ([cell(member(entity, name)) for name in columns] for entity in items(entities))
    return table("Exportable entities", columns, rows)


def relationships_table(relationships: JsonValue) -> Table:
    """``GET metadata/relationships``."""
    columns = ("SchemaName", "IntersectEntityName", "Entity1LogicalName", "Entity2LogicalName")
    rows = ([cell(member(rel, name)) for name in columns] for rel in items(relationships))
    return table("Many-to-many relationships", columns, rows)


def profiles_table(profiles: JsonValue, *, status: bool) -> Table:
    """``GET profiles``: one row per profile; with the status block, its failures, lag and last sync."""
    columns = ["Id", "Name", "State", "ActivationMode", "Entities", "ModifiedOn"]
    if status:
        columns += ["Failed", "Lag", "LastSynchronizedOn"]
    return table("Export profiles", columns, (_profile_row(profile, status=status) for profile in items(profiles)))


def _profile_row(profile: JsonValue, *, status: bool) -> list[Text]:
    row = [cell(member(profile, "Id")), cell(member(profile, "Name")), state_cell(member(profile, "State"))]
    row += [cell(member(profile, name)) for name in ("ActivationMode", "Entities", "ModifiedOn")]
    if status:
        block = member(profile, "Status")
        row += [cell(member(block, "FailedNotificationsCount")), lag(member(block, "LagSeconds"))]
        row.append(cell(member(block, "LastSynchronizedOn")))
    return row


def profile_view(profile: JsonValue) -> list[Table]:
    """``GET profiles/{id}``: its fields, then (with ``?status=true``) the status summary and per-entity tables."""
    views = [fields_table(profile, PROFILE_FIELDS, "Export profile")]
    block = member(profile, "Status")
    if isinstance(block, dict):
        views.append(fields_table(block, STATUS_FIELDS, "Status"))
        views.append(entity_status_table("Entities", member(block, "Entities")))
        if items(member(block, "Relationships")):
            views.append(entity_status_table("Relationships", member(block, "Relationships")))
        if isinstance(member(block, "Resync"), dict):
            names = ("RunId", "State", "QueuedRecords", "Succeeded", "Failed", "StartedOn", "CompletedOn")
            views.append(fields_table(member(block, "Resync"), names, "Last resync of failed records"))
    return views


def entity_status_table(title: str, statuses: JsonValue) -> Table:
    """The per-entity status (§4.4): Name, State, Total, Synced, Failed, Lag, LastError."""
    columns = ("Name", "State", "Total", "Synced", "Failed", "Lag", "LastError")
    return table(title, columns, (_status_row(status) for status in items(statuses)))


def _status_row(status: JsonValue) -> list[Text]:
    state = state_cell(member(status, "State"))
    reason = member(status, "StateReason")
    if reason:
        state.append(f" ({reason})", style="dim")
    failed = member(status, "FailedRecords")
    return [
        cell(member(status, "Name")),
        state,
        cell(member(status, "TotalRecords")),
        cell(member(status, "SyncedRecords")),
        cell(failed, "red" if isinstance(failed, int) and failed > 0 else ""),
        lag(member(status, "LagSeconds")),
        cell(member(status, "LastError")),
    ]


def test_result_table(result: JsonValue) -> Table:
    """A §5 result: one row per check, its status coloured, each detail on its own line under the message."""
    succeeded = member(result, "Succeeded") is True
    title = "Checks: all passed" if succeeded else "Checks: FAILED"
    return table(
        title, ("Check", "Status", "Message"), (_check_row(check) for check in items(member(result, "Results")))
    )


def _check_row(check: JsonValue) -> list[Text]:
    status = member(check, "Status")
    message = cell(member(check, "Message"))
    for detail in items(member(check, "Details")):
        message.append("\n  " + detail_line(member(detail, "Field"), member(detail, "Code"), member(detail, "Message")))
    return [cell(member(check, "Name")), cell(status, CHECK_STYLES.get(str(status), "")), message]


def detail_line(field: JsonValue, code: JsonValue, message: JsonValue) -> str:
    """``Field: Code - Message`` (``Code - Message`` when the detail names no field)."""
    prefix = f"{field}: " if field else ""
    return f"{prefix}{code} - {message}"


def print_api_error(console: Console, error: ApiError) -> None:
    """The DES error body as sent: code and message, each detail, and a pre-flight's check table."""
    console.print(Text(f"Error {error.status} {error.code}: {error.message}", style="bold red"), soft_wrap=True)
    for detail in error.details:
        console.print(Text("  " + detail_line(detail.field, detail.code, detail.message)), soft_wrap=True)
    if isinstance(error.test_result, dict):
        console.print(test_result_table(error.test_result))
