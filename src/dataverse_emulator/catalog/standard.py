"""The ``standard`` profile's metadata (spec §9.2): the sample organization every test starts from.

:func:`standard_catalog` assembles the tables of the ``tables_*`` modules, the relationships their
lookups declare, the N:N relationships and the global option sets. Same code, same catalog: every
MetadataId is a uuid5 of a name, nothing depends on time or randomness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dataverse_emulator.catalog import tables_custom, tables_sales, tables_security, tables_service
from dataverse_emulator.catalog.choices import option
from dataverse_emulator.catalog.model import Catalog, OptionSetDef, OptionSetType
from dataverse_emulator.catalog.tables import TablePart
from dataverse_emulator.catalog.tables_intersect import INTERSECTS, intersect_table, many_to_many

CatalogFactory = Callable[[], Catalog]

_TABLES: tuple[Callable[[], TablePart], ...] = (
    tables_sales.account,
    tables_sales.contact,
    tables_sales.lead,
    tables_sales.opportunity,
    tables_service.incident,
    tables_service.task,
    tables_security.systemuser,
    tables_security.businessunit,
    tables_security.team,
    tables_security.role,
    tables_security.roletemplate,
    tables_security.owner,
    tables_security.transactioncurrency,
    tables_custom.new_widget,
    tables_custom.new_wide,
    tables_custom.new_untracked,
)


def standard_catalog() -> Catalog:
    """The ``standard`` profile: sales, service, security and custom tables with full metadata."""
    parts = [build() for build in _TABLES] + [intersect_table(spec) for spec in INTERSECTS]
    return Catalog(
        tables=tuple(part.table for part in parts),
        one_to_many=tuple(relationship for part in parts for relationship in part.relationships),
        many_to_many=tuple(many_to_many(spec) for spec in INTERSECTS),
        global_option_sets=global_option_sets(),
    )


def global_option_sets() -> tuple[OptionSetDef, ...]:
    """Global option sets of the profile: one standard, two custom (one of them Boolean)."""
    return (
        OptionSetDef(
            name="new_region",
            is_global=True,
            is_custom=True,
            display_name={1033: "Region", 1031: "Region"},
            options=(
                option(100000000, "North", "Nord"),
                option(100000001, "South", "Süd"),
                option(100000002, "East", "Ost"),
                option(100000003, "West", "West"),
                option(100000004, "Central"),
            ),
        ),
        OptionSetDef(
            name="new_yesno",
            type=OptionSetType.BOOLEAN,
            is_global=True,
            is_custom=True,
            display_name={1033: "Yes or No", 1031: "Ja oder Nein"},
            true_option=option(1, "Yes", "Ja"),
            false_option=option(0, "No", "Nein"),
        ),
        OptionSetDef(
            name="incident_caseorigincode",
            is_global=True,
            display_name={1033: "Origin"},
            options=(
                option(1, "Phone", "Telefon"),
                option(2, "Email", "E-Mail"),
                option(3, "Web"),
                option(2483, "Facebook"),
                option(3986, "Twitter"),
                option(700610000, "IoT"),
            ),
        ),
    )


def catalog_profiles() -> Mapping[str, CatalogFactory]:
    """Profile name → catalog factory; ``POST /_emulator/orgs`` picks one by name."""
    return {"standard": standard_catalog}
