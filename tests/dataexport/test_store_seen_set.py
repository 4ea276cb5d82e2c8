"""Re-baseline seen-sets in the control database: idempotent batches, membership, crash survival."""

from __future__ import annotations

from test_store_support import MovableClock

from dataexport.store import ControlStore, SyncKey, open_store
from dataexport.store.transactions import CHUNK_SIZE

pytest_plugins = ["test_store_support"]

KEY = SyncKey("profile-1", "account")


def ids(count: int, start: int = 0) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(start, start + count)]


def test_recording_is_idempotent_and_membership_is_batched(store: ControlStore) -> None:
    seen = ids(CHUNK_SIZE + 50)
    store.seen.record(KEY, seen)
    store.seen.record(KEY, seen[:10] + seen[:10])
    assert store.seen.count(KEY) == len(seen)
    probe = ids(20, start=CHUNK_SIZE + 40)  # 10 seen, 10 not
    assert store.seen.contains(KEY, probe) == set(probe[:10])
    assert store.seen.contains(KEY, []) == set()


def test_sets_are_per_subject(store: ControlStore) -> None:
    store.seen.record(KEY, ids(3))
    assert store.seen.count(SyncKey("profile-1", "contact")) == 0
    assert store.seen.contains(SyncKey("profile-2", "account"), ids(3)) == set()


def test_clear_empties_only_this_set(store: ControlStore) -> None:
    other = SyncKey("profile-1", "contact")
    store.seen.record(KEY, ids(3))
    store.seen.record(other, ids(2))
    store.seen.clear(KEY)
    store.seen.clear(KEY)
    assert (store.seen.count(KEY), store.seen.count(other)) == (0, 2)


def test_the_set_survives_a_crash(control_db_url: str, store: ControlStore, clock: MovableClock) -> None:
    store.seen.record(KEY, ids(25))
    store.close()  # the process dies; its connections go away
    with open_store(control_db_url, clock=clock) as restarted:
        assert restarted.seen.count(KEY) == 25
        assert restarted.seen.contains(KEY, ids(30)) == set(ids(25))
