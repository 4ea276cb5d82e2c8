"""The columns Dataverse adds to tables by itself: audit, ownership, currency and housekeeping.

Relationship names follow the platform's patterns: ``lk_<base>_createdby`` for the audit lookups
(``<base>`` is ``accountbase`` for standard tables, the logical name for custom ones) and
``owner_<suffix>``, ``business_unit_<suffix>``, ``user_<suffix>``, ``team_<suffix>`` for ownership.
"""

from __future__ import annotations

from dataverse_emulator.catalog.columns import Columns, Common, bigint, datetime, decimal, group, integer, lookup, owner
from dataverse_emulator.catalog.model import AttributeDef, DateTimeBehavior

READ_ONLY: Common = {"create": False, "update": False}


def audit(base: str) -> Columns:
    """``createdon``/``modifiedon`` and the four user lookups that record who did it."""
    return group(
        datetime("CreatedOn", "Created On", de="Erstellt am", create=False, update=False),
        _user("CreatedBy", "Created By", f"lk_{base}_createdby", de="Erstellt von"),
        _user("CreatedOnBehalfBy", "Created By (Delegate)", f"lk_{base}_createdonbehalfby"),
        datetime("ModifiedOn", "Modified On", de="Geändert am", create=False, update=False),
        _user("ModifiedBy", "Modified By", f"lk_{base}_modifiedby", de="Geändert von"),
        _user("ModifiedOnBehalfBy", "Modified By (Delegate)", f"lk_{base}_modifiedonbehalfby"),
    )


def _user(schema: str, display: str, relationship: str, de: str | None = None) -> Columns:
    options: Common = {**READ_ONLY}
    if de:
        options["de"] = de
    return lookup(schema, display, {"systemuser": relationship}, yomi=True, **options)


def ownership(suffix: str) -> Columns:
    """``ownerid`` and the ``owning*`` lookups of a user-owned table."""
    return group(
        owner(f"owner_{suffix}"),
        lookup(
            "OwningBusinessUnit",
            "Owning Business Unit",
            {"businessunit": f"business_unit_{suffix}"},
            name_length=160,
            **READ_ONLY,
        ),
        lookup("OwningUser", "Owning User", {"systemuser": f"user_{suffix}"}, name_length=None, **READ_ONLY),
        lookup("OwningTeam", "Owning Team", {"team": f"team_{suffix}"}, name_length=None, **READ_ONLY),
    )


def currency(logical: str) -> Columns:
    """``transactioncurrencyid`` and ``exchangerate``, carried by every table with Money columns."""
    return group(
        lookup(
            "TransactionCurrencyId",
            "Currency",
            {"transactioncurrency": f"transactioncurrency_{logical}"},
            de="Währung",
        ),
        decimal("ExchangeRate", 10, "Exchange Rate", minimum=0, maximum=100_000_000_000, **READ_ONLY),
    )


def version_number() -> AttributeDef:
    """``versionnumber``: the row version, on every table including intersects."""
    return bigint("VersionNumber", "Version Number", **READ_ONLY)


def housekeeping() -> Columns:
    """Version, import and time-zone columns every table carries."""
    return group(
        version_number(),
        integer("ImportSequenceNumber", "Import Sequence Number", update=False),
        datetime("OverriddenCreatedOn", "Record Created On", DateTimeBehavior.DATE_ONLY, update=False),
        integer("TimeZoneRuleVersionNumber", "Time Zone Rule Version Number", minimum=-1),
        integer("UTCConversionTimeZoneCode", "UTC Conversion Time Zone Code", minimum=-1),
    )


def standard(base: str, suffix: str) -> Columns:
    """Everything a user-owned table carries besides its own columns."""
    return group(audit(base), ownership(suffix), housekeeping())
