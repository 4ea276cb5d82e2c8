"""Intersect (N:N) tables and the many-to-many relationships they implement.

An intersect table exposes its own key and the two related ids as plain Uniqueidentifier columns
(spec §2.6), plus ``versionnumber``. Entity set names are Dataverse's (``systemuserrolescollection``),
which clients must read from metadata rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataverse_emulator.catalog.columns import uniqueidentifier
from dataverse_emulator.catalog.model import ManyToManyDef
from dataverse_emulator.catalog.system_columns import version_number
from dataverse_emulator.catalog.tables import TablePart, table


@dataclass(frozen=True)
class Intersect:
    """One N:N relationship: its intersect table's names and the two sides (table, id column)."""

    relationship: str
    schema: str
    entity_set: str
    object_type_code: int
    key: str
    first: tuple[str, str]
    second: tuple[str, str]
    tracked: bool = True


INTERSECTS = (
    Intersect(
        "systemuserroles_association",
        "SystemUserRoles",
        "systemuserrolescollection",
        15,
        "SystemUserRoleId",
        ("systemuser", "SystemUserId"),
        ("role", "RoleId"),
    ),
    Intersect(
        "teammembership_association",
        "TeamMembership",
        "teammemberships",
        23,
        "TeamMembershipId",
        ("systemuser", "SystemUserId"),
        ("team", "TeamId"),
    ),
    Intersect(
        "teamroles_association",
        "TeamRoles",
        "teamrolescollection",
        40,
        "TeamRoleId",
        ("team", "TeamId"),
        ("role", "RoleId"),
    ),
    Intersect(
        "accountleads_association",
        "AccountLeads",
        "accountleadscollection",
        16,
        "AccountLeadId",
        ("account", "AccountId"),
        ("lead", "LeadId"),
    ),
    Intersect(
        "contactleads_association",
        "ContactLeads",
        "contactleadscollection",
        22,
        "ContactLeadId",
        ("contact", "ContactId"),
        ("lead", "LeadId"),
    ),
    Intersect(
        "new_widget_contact",
        "new_widget_contact",
        "new_widget_contactset",
        10003,
        "new_widget_contactId",
        ("new_widget", "new_widgetid"),
        ("contact", "contactid"),
        tracked=False,
    ),
)


def intersect_table(spec: Intersect) -> TablePart:
    return table(
        spec.schema,
        spec.entity_set,
        spec.object_type_code,
        ("", ""),
        uniqueidentifier(spec.key, "", primary=True),
        uniqueidentifier(spec.first[1], "", update=False),
        uniqueidentifier(spec.second[1], "", update=False),
        version_number(),
        ownership="None",
        is_intersect=True,
        change_tracking=spec.tracked,
        is_valid_for_advanced_find=False,
        is_optimistic_concurrency_enabled=False,
    )


def many_to_many(spec: Intersect) -> ManyToManyDef:
    return ManyToManyDef(
        schema_name=spec.relationship,
        intersect_entity=spec.schema.lower(),
        entity1=spec.first[0],
        entity1_attribute=spec.first[1].lower(),
        entity1_navigation=spec.relationship,
        entity2=spec.second[0],
        entity2_attribute=spec.second[1].lower(),
        entity2_navigation=spec.relationship,
        is_custom=spec.relationship.startswith("new_"),
    )
