"""Deterministic workloads (spec §9.3 ``POST /_emulator/orgs/<name>/workload``).

A workload is ``creates`` + ``updates`` + ``deletes`` + ``associations`` steps in an order shuffled by
``seed``. Every step is one ``OrgStore.write()`` transaction, so it takes versions exactly like a Web
API write (a delete also removes the row's intersect links, each with its own tombstone). Rows to
update, delete or link, and lookup targets, are chosen by probing the table's id order at a random
GUID; the same seed on the same data therefore gives the same ids and versions.

* ``tables``: logical names for creates, updates and deletes (default: the sample business tables the
  org has). A step whose table has no rows is skipped.
* associations: new rows of the org's M:N intersect tables other than the security ones, never
  repeating an existing pair.
* ``spread_seconds``: the steps are spread over this much **wall** time (the worker sleeps between
  steps), so a client can sync while the workload runs; the emulator clock is not moved.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.catalog.model import Catalog, ManyToManyDef, TableDef
from dataverse_emulator.generator import RowFactory, SampleIdentities
from dataverse_emulator.storage import OrgStore, StoredRow
from dataverse_emulator.webapi.writes import delete_with_links

DEFAULT_TABLES = ("account", "contact", "lead", "opportunity", "incident", "task", "new_widget")
SECURITY_INTERSECTS = frozenset({"systemuserroles", "teammembership", "teamroles"})
_FIELDS = ("seed", "creates", "updates", "deletes", "associations", "tables", "spread_seconds")
_PAIR_ATTEMPTS = 5


@dataclass(frozen=True)
class WorkloadRequest:
    seed: int
    creates: int
    updates: int
    deletes: int
    associations: int
    tables: tuple[str, ...]
    spread_seconds: float


def parse_workload(fields: Fields, catalog: Catalog) -> WorkloadRequest:
    """The workload of a request body, its tables checked against ``catalog``.

    Raises:
        AdminRequestError: a field is invalid or names a table the org lacks (or an intersect table).
    """
    fields.reject_unknown(_FIELDS)
    tables = fields.strings("tables") or tuple(t for t in DEFAULT_TABLES if catalog.table(t))
    for name in tables:
        table = catalog.table(name)
        if table is None or table.is_intersect:
            raise AdminRequestError(f"'tables': {name!r} is not a non-intersect table of this org")
    return WorkloadRequest(
        seed=fields.integer("seed", 1),
        creates=fields.integer("creates", 0, minimum=0),
        updates=fields.integer("updates", 0, minimum=0),
        deletes=fields.integer("deletes", 0, minimum=0),
        associations=fields.integer("associations", 0, minimum=0),
        tables=tables,
        spread_seconds=fields.number("spread_seconds", 0.0, minimum=0.0),
    )


@dataclass
class WorkloadResult:
    from_version: int
    to_version: int = 0
    created: list[dict[str, object]] = field(default_factory=list)
    updated: list[dict[str, object]] = field(default_factory=list)
    deleted: list[dict[str, object]] = field(default_factory=list)
    associated: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class Workload:
    """Runs one :class:`WorkloadRequest` against a store (blocking; call it from a worker thread)."""

    def __init__(self, store: OrgStore, request: WorkloadRequest, identities: SampleIdentities | None) -> None:
        self.store = store
        self.request = request
        self.catalog = store.catalog
        self.rng = random.Random(f"workload:{request.seed}")
        self.factory = RowFactory(self.catalog)
        self.currencies = identities.currency_rates if identities else None
        self.result = WorkloadResult(from_version=store.counter)

    def run(self) -> WorkloadResult:
        request = self.request
        steps = (
            [self.create] * request.creates
            + [self.update] * request.updates
            + [self.delete] * request.deletes
            + [self.associate] * request.associations
        )
        self.rng.shuffle(steps)
        pause = request.spread_seconds / len(steps) if steps else 0.0
        for index, step in enumerate(steps):
            if pause and index:
                time.sleep(pause)
            step()
        self.result.to_version = self.store.counter
        return self.result

    def pick(self, table: str) -> str | None:
        """The id of a live row of ``table`` at a random point of its id order (``None``: no rows)."""
        probe = str(uuid.UUID(int=self.rng.getrandbits(128)))
        rows = self.store.page_by_id(table, probe, 1) or self.store.page_by_id(table, None, 1)
        return rows[0].id if rows else None

    def create(self) -> None:
        table = self.catalog.table(self.rng.choice(self.request.tables))
        assert table is not None
        data = self.factory.make_row(table.logical_name, self.rng, lookup_pool=self.pick, currencies=self.currencies)
        row = self._create_fresh(table, data)
        self.result.created.append({"table": table.logical_name, "id": row.id, "version": row.version})

    def _create_fresh(self, table: TableDef, data: dict[str, object]) -> StoredRow:
        """Create the row; a seed used before on this org draws the same ids again, so take the next free one."""
        record_id = str(data[table.primary_id])
        with self.store.write() as tx:
            while tx.get(table.logical_name, record_id) is not None:
                record_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            data[table.primary_id] = record_id
            return tx.create(table.logical_name, record_id, data)

    def update(self) -> None:
        table = self.rng.choice(self.request.tables)
        record_id = self.pick(table)
        if record_id is None:
            return
        changes = self.factory.mutate_row(table, self.rng, lookup_pool=self.pick)
        with self.store.write() as tx:
            row = tx.update(table, record_id, changes)
        self.result.updated.append({"table": table, "id": row.id, "version": row.version})

    def delete(self) -> None:
        table = self.catalog.table(self.rng.choice(self.request.tables))
        assert table is not None
        record_id = self.pick(table.logical_name)
        if record_id is None:
            return
        with self.store.write() as tx:
            delete_with_links(self.catalog, tx, table, record_id)
            version = tx.counter
        self.result.deleted.append({"table": table.logical_name, "id": record_id, "version": version})

    def associate(self) -> None:
        relationships = [r for r in self.catalog.many_to_many if r.intersect_entity not in SECURITY_INTERSECTS]
        if not relationships:
            return
        relationship = self.rng.choice(relationships)
        for _ in range(_PAIR_ATTEMPTS):
            data = self.factory.make_row(relationship.intersect_entity, self.rng, lookup_pool=self.pick)
            if self._is_new_pair(relationship, data):
                self._link(relationship, data)
                return

    def _is_new_pair(self, relationship: ManyToManyDef, data: dict[str, object]) -> bool:
        first, second = data.get(relationship.entity1_attribute), data.get(relationship.entity2_attribute)
        if not isinstance(first, str) or not isinstance(second, str):
            return False
        existing = self.store.find_by_value(relationship.intersect_entity, relationship.entity1_attribute, first)
        return all(row.data.get(relationship.entity2_attribute) != second for row in existing)

    def _link(self, relationship: ManyToManyDef, data: dict[str, object]) -> None:
        intersect = self.catalog.table(relationship.intersect_entity)
        assert intersect is not None
        row = self._create_fresh(intersect, data)
        self.result.associated.append(
            {
                "table": intersect.logical_name,
                "id": row.id,
                "version": row.version,
                "relationship": relationship.schema_name,
            }
        )
