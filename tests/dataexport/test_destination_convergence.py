"""Property: any order of versioned upserts and deletes converges to the highest version per id.

This is the no-resurrection rule (DES §7.5) as designed: the destination applies the version guard, the
engine keeps tombstones (here a dict standing in for the control database) and passes them in as a
``TombstoneGuard``; each applied delete's removed version becomes a tombstone.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st
from test_destination_support import dump_table, guid, make_destination, read_rows, simple_schema

from dataexport.destination.base import Destination
from dataexport.destination.memory import MemoryDestination
from dataexport.domain.changes import ChangeBatch, Delete, Upsert
from dataexport.domain.guards import Tombstone, TombstoneGuard, merge_tombstones

SCHEMA = simple_schema()
NOW = datetime(2025, 3, 7, tzinfo=UTC)


@dataclass
class TombstoneStore:
    """The control database's tombstones, as the engine would keep them."""

    tombstones: dict[str, Tombstone]

    def guard(self, record_ids: list[str]) -> TombstoneGuard:
        found = [self.tombstones[i] for i in record_ids if i in self.tombstones]
        return TombstoneGuard.resolve(found, read_started_at=NOW)

    def record(self, tombstone: Tombstone) -> None:
        current = self.tombstones.get(tombstone.record_id)
        self.tombstones[tombstone.record_id] = merge_tombstones(current, tombstone)


def apply(destination: Destination, store: TombstoneStore, batch: ChangeBatch) -> None:
    """What the engine does with one write batch: runs in stream order, guards in, tombstones out."""
    for run in batch.runs():
        if isinstance(run[0], Upsert):
            upserts = [change for change in run if isinstance(change, Upsert)]
            destination.apply_upserts(SCHEMA, upserts, guard=store.guard([u.record_id for u in upserts]))
            continue
        deletes = [change for change in run if isinstance(change, Delete)]
        for removed in destination.apply_deletes(SCHEMA, deletes, write_delete_log=True).removed:
            store.record(removed.tombstone(NOW))


operations = st.lists(st.tuples(st.sampled_from(["upsert", "delete"]), st.integers(1, 4)), min_size=1, max_size=24)


@st.composite
def shuffled_changes(draw: st.DrawFn) -> tuple[list[Upsert | Delete], list[int]]:
    """Changes with distinct versions (1..n, as Dataverse's global counter), in a random order, cut in batches."""
    ops = draw(operations)
    changes: list[Upsert | Delete] = [
        Upsert(guid(n), version, {"fullname": f"v{version}"}) if kind == "upsert" else Delete(guid(n), version)
        for version, (kind, n) in enumerate(ops, start=1)
    ]
    order = draw(st.permutations(changes))
    cuts = draw(st.lists(st.integers(1, 5), min_size=len(order), max_size=len(order)))
    return order, cuts


def batches(order: list[Upsert | Delete], cuts: list[int]) -> list[ChangeBatch]:
    result, start = [], 0
    for size in cuts:
        if start >= len(order):
            break
        result.append(ChangeBatch("contact", tuple(order[start : start + size])))
        start += size
    return result


def expected_rows(changes: list[Upsert | Delete]) -> dict[str, tuple[str, int]]:
    latest: dict[str, Upsert | Delete] = {}
    for change in changes:
        current = latest.get(change.record_id)
        if current is None or (change.version or 0) > (current.version or 0):
            latest[change.record_id] = change
    return {i: (f"v{c.version}", c.version) for i, c in latest.items() if isinstance(c, Upsert)}


def stored_rows(path: Path) -> dict[str, tuple[str, int]]:
    rows = read_rows(path, 'SELECT "Id", fullname, versionnumber FROM crm_contact')
    return {str(i): (str(name), int(str(version))) for i, name, version in rows}


def prepare(destination: Destination) -> TombstoneStore:
    destination.ensure_entity_table(SCHEMA)
    destination.ensure_metadata_tables(delete_log=True)
    return TombstoneStore({})


def apply_all(destination: Destination, store: TombstoneStore, order: list[Upsert | Delete], cuts: list[int]) -> None:
    for batch in batches(order, cuts):
        apply(destination, store, batch)


def shuffled(order: list[Upsert | Delete], replay: Random) -> list[Upsert | Delete]:
    again = list(order)
    replay.shuffle(again)
    return again


@settings(max_examples=100, deadline=None)
@given(scenario=shuffled_changes(), replay=st.randoms(use_true_random=False))
def test_sql_destination_converges_to_the_highest_version_per_id(
    scenario: tuple[list[Upsert | Delete], list[int]], replay: Random
) -> None:
    order, cuts = scenario
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rep.db"
        destination = make_destination(path)
        store = prepare(destination)
        apply_all(destination, store, order, cuts)
        assert stored_rows(path) == expected_rows(order)
        snapshot = dump_table(path, "crm_contact")
        apply_all(destination, store, shuffled(order, replay), cuts)  # replays, in any order, change nothing
        assert dump_table(path, "crm_contact") == snapshot


@settings(max_examples=100, deadline=None)
@given(scenario=shuffled_changes(), replay=st.randoms(use_true_random=False))
def test_memory_destination_converges_the_same_way(
    scenario: tuple[list[Upsert | Delete], list[int]], replay: Random
) -> None:
    order, cuts = scenario
    destination = MemoryDestination()
    store = prepare(destination)
    apply_all(destination, store, order, cuts)
    apply_all(destination, store, shuffled(order, replay), cuts)
    rows = destination.rows("contact")
    assert {i: (str(row["fullname"]), row["versionnumber"]) for i, row in rows.items()} == expected_rows(order)
