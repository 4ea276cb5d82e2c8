"""``$expand`` on rows (spec §2.5, §7.7): single-valued lookups and N:N / 1:N collections.

Not needed for replication, but the System Administrator check expands
``systemuserroles_association``, ``teammembership_association`` and ``teamroles_association``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataverse_emulator.catalog.model import Catalog, TableDef
from dataverse_emulator.errors import bad_request, unknown_property
from dataverse_emulator.odata.options import ExpandItem, parse_expand
from dataverse_emulator.storage import OrgStore, StoredRow
from dataverse_emulator.webapi.context import ApiRequest
from dataverse_emulator.webapi.rows import RowRenderer, resolve_select, type_name


@dataclass(frozen=True)
class Navigation:
    """How to reach related rows from a row of the source table."""

    name: str
    target: str
    kind: str  # "single", "many_to_many", "one_to_many"
    attribute: str  # lookup on the source (single), on the target (one_to_many), or own side (N:N)
    intersect: str = ""
    other_attribute: str = ""


def find_navigation(catalog: Catalog, table: TableDef, name: str) -> Navigation | None:
    """The navigation property ``name`` of ``table``, if any."""
    for rel in catalog.one_to_many:
        if rel.referencing_entity == table.logical_name and rel.referencing_navigation == name:
            return Navigation(name, rel.referenced_entity, "single", rel.referencing_attribute)
        if rel.referenced_entity == table.logical_name and rel.referenced_navigation == name:
            return Navigation(name, rel.referencing_entity, "one_to_many", rel.referencing_attribute)
    for m2m in catalog.many_to_many:
        if m2m.entity1 == table.logical_name and m2m.entity1_navigation == name:
            return Navigation(
                name,
                m2m.entity2,
                "many_to_many",
                m2m.entity1_attribute,
                m2m.intersect_entity,
                m2m.entity2_attribute,
            )
        if m2m.entity2 == table.logical_name and m2m.entity2_navigation == name:
            return Navigation(
                name,
                m2m.entity1,
                "many_to_many",
                m2m.entity2_attribute,
                m2m.intersect_entity,
                m2m.entity1_attribute,
            )
    return None


class ExpandPlan:
    """The parsed ``$expand`` of one request, applied to each rendered page."""

    def __init__(self, request: ApiRequest, table: TableDef, items: Sequence[ExpandItem]) -> None:
        self._request = request
        self._store: OrgStore = request.store
        self._table = table
        self._parts: list[tuple[Navigation, RowRenderer]] = []
        catalog = self._store.catalog
        for item in items:
            navigation = find_navigation(catalog, table, item.name)
            if navigation is None:
                raise unknown_property(item.name, type_name(table))
            if item.expand:
                raise bad_request("Nested $expand is not supported by the emulator.")
            target = catalog.table(navigation.target)
            if target is None:
                raise unknown_property(item.name, type_name(table))
            attributes = resolve_select(target, item.select)
            renderer = RowRenderer(self._store, target, attributes, request.prefs.wants_annotation)
            self._parts.append((navigation, renderer))

    @classmethod
    def parse(cls, request: ApiRequest, table: TableDef) -> ExpandPlan:
        items = parse_expand(request.query.expand) if request.query.expand else ()
        return cls(request, table, items)

    def apply(self, rows: Sequence[StoredRow], rendered: Sequence[dict[str, object]]) -> None:
        """Add the expanded navigation properties to each rendered row, in place."""
        for navigation, renderer in self._parts:
            for row, out in zip(rows, rendered, strict=True):
                out[navigation.name] = self.related(navigation, renderer, row)

    def related(self, navigation: Navigation, renderer: RowRenderer, row: StoredRow) -> object:
        store = self._store
        if navigation.kind == "single":
            value = row.data.get(navigation.attribute)
            if not isinstance(value, list) or value[0] != navigation.target:
                return None
            related = store.get(navigation.target, str(value[1]))
            return renderer.render([related])[0] if related else None
        if navigation.kind == "one_to_many":
            related_rows = store.find_by_value(navigation.target, navigation.attribute, row.id)
            return renderer.render(related_rows)
        links = store.find_by_value(navigation.intersect, navigation.attribute, row.id)
        ids = [str(link.data.get(navigation.other_attribute)) for link in links]
        found = store.get_many(navigation.target, ids)
        return renderer.render([found[i] for i in sorted(found)])
