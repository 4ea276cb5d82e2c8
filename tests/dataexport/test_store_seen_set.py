"""Re-baseline seen-sets in the control database: idempotent batches, membership, crash survival."""

from __future__ import annotations

from test_store_support import MovableClock

from dataexport.store import ControlStore, SyncKey, open_store
from dataexport.store.transactions import CHUNK_SIZE

pytest_plugins = ["test_store_support"]

KEY = SyncKey("profile-1", "account")


def ids(count: int, start: int = 0) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(start, start + count)]


def test_recording_is_idempotent_and_membership_is_batched(control_store: ControlStore) -> None:
    seen = ids(CHUNK_SIZE + 50)
    control_store.seen.record(KEY, seen)
    control_store.seen.record(KEY, seen[:10] + seen[:10])
    assert control_store.seen.count(KEY) == len(seen)
    probe = ids(20, start=CHUNK_SIZE + 40)  # 10 seen, 10 not
    assert control_store.seen.contains(KEY, probe) == set(probe[:10])
    assert control_store.seen.contains(KEY, []) == set()


def test_sets_are_per_subject(control_store: ControlStore) -> None:
    control_store.seen.record(KEY, ids(3))
    assert control_store.seen.count(SyncKey("profile-1", "contact")) == 0
    assert control_store.seen.contains(SyncKey("profile-2", "account"), ids(3)) == set()


def test_clear_empties_only_this_set(control_store: ControlStore) -> None:
    other = SyncKey("profile-1", "contact")
    control_store.seen.record(KEY, ids(3))
    control_store.seen.record(other, ids(2))
    control_store.seen.clear(KEY)
    control_store.seen.clear(KEY)
    assert (control_store.seen.count(KEY), control_store.seen.count(other)) == (0, 2)


def test_the_set_survives_a_crash(control_db_url: str, control_store: ControlStore, store_clock: MovableClock) -> None:
    control_store.seen.record(KEY, ids(25))
    control_store.close()  # the process dies; its connections go away
    with open_store(control_db_url, clock=store_clock) as restarted:
        assert restarted.seen.count(KEY) == 25
        assert restarted.seen.contains(KEY, ids(30)) == set(ids(25))
