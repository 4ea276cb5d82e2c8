"""Leases across engines ("processes"): one holder at a time, expiry, and checkpoints fenced by the token."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from test_store_support import MovableClock, loaded

from dataexport.domain.sync import EntityPhase
from dataexport.store import ControlStore, Counters, Lease, LeaseLost, LinkKind, SyncKey, open_store

pytest_plugins = ["test_store_support"]

KEY = SyncKey("profile-1", "contact")
TTL = timedelta(seconds=30)


def take(control_store: ControlStore, owner: str, key: SyncKey = KEY) -> Lease:
    lease = control_store.leases.acquire(key, owner, TTL)
    assert lease is not None, f"{owner} did not get the lease"
    return lease


def test_a_held_lease_is_refused_to_another_process(
    control_store: ControlStore, other_control_store: ControlStore
) -> None:
    lease = take(control_store, "host-a:1")
    assert other_control_store.leases.acquire(KEY, "host-b:2", TTL) is None
    assert other_control_store.leases.current(KEY) == lease


def test_leases_of_different_subjects_are_independent(
    control_store: ControlStore, other_control_store: ControlStore
) -> None:
    take(control_store, "host-a:1")
    take(other_control_store, "host-b:2", SyncKey("profile-1", "account"))
    take(other_control_store, "host-b:2", SyncKey("profile-2", "contact"))


def test_an_expired_lease_can_be_taken_by_another_owner(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    first = take(control_store, "host-a:1")
    store_clock.advance(29)
    assert other_control_store.leases.acquire(KEY, "host-b:2", TTL) is None
    store_clock.advance(1)
    assert first.is_expired(store_clock.now)
    second = take(other_control_store, "host-b:2")
    assert second.token != first.token
    assert control_store.leases.current(KEY) == second


def test_renew_extends_a_live_lease_only(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    lease = take(control_store, "host-a:1")
    store_clock.advance(20)
    renewed = control_store.leases.renew(lease, TTL)
    assert (renewed.token, renewed.expires_at) == (lease.token, store_clock.now + TTL)
    store_clock.advance(20)  # past the first expiry, within the renewed one
    assert other_control_store.leases.acquire(KEY, "host-b:2", TTL) is None
    store_clock.advance(10)
    with pytest.raises(LeaseLost, match="host-a:1"):
        control_store.leases.renew(renewed, TTL)


def test_renew_after_a_takeover_is_refused(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    lease = take(control_store, "host-a:1")
    store_clock.advance(31)
    take(other_control_store, "host-b:2")
    with pytest.raises(LeaseLost):
        control_store.leases.renew(lease, TTL)


def test_reacquiring_by_the_same_owner_fences_its_older_handle(control_store: ControlStore) -> None:
    old = take(control_store, "host-a:1")
    new = take(control_store, "host-a:1")
    assert new.token != old.token
    with pytest.raises(LeaseLost):
        control_store.leases.renew(old, TTL)
    control_store.leases.renew(new, TTL)


def test_release_frees_the_lease_and_is_idempotent(
    control_store: ControlStore, other_control_store: ControlStore
) -> None:
    lease = take(control_store, "host-a:1")
    control_store.leases.release(lease)
    control_store.leases.release(lease)
    assert control_store.leases.current(KEY) is None
    taken = take(other_control_store, "host-b:2")
    control_store.leases.release(lease)  # a stale handle does not release the new holder's lease
    assert control_store.leases.current(KEY) == taken


def test_a_checkpoint_from_a_lost_lease_is_refused(
    control_store: ControlStore, other_control_store: ControlStore, store_clock: MovableClock
) -> None:
    state = control_store.states.ensure(KEY)
    stalled = take(control_store, "host-a:1")
    state = control_store.states.set_phase(
        KEY, EntityPhase.INITIAL_SYNC, expected_revision=state.revision, lease=stalled
    )
    store_clock.advance(31)
    successor = take(other_control_store, "host-b:2")
    with pytest.raises(LeaseLost, match="host-a:1"):
        control_store.states.save_page_checkpoint(
            stalled, link="stale-next", link_kind=LinkKind.NEXT, counters=Counters(pages=1),
            expected_revision=state.revision,
        )  # fmt: skip
    state = other_control_store.states.save_page_checkpoint(
        successor, link="next", link_kind=LinkKind.NEXT, counters=Counters(pages=1), expected_revision=state.revision
    )
    assert (state.link, state.counters.pages) == ("next", 1)


def test_a_checkpoint_after_expiry_is_refused_even_if_nobody_took_over(
    control_store: ControlStore, store_clock: MovableClock
) -> None:
    state = control_store.states.ensure(KEY)
    lease = take(control_store, "host-a:1")
    state = control_store.states.set_phase(KEY, EntityPhase.INITIAL_SYNC, expected_revision=state.revision)
    store_clock.advance(30)
    with pytest.raises(LeaseLost):
        control_store.states.save_page_checkpoint(
            lease, link="n", link_kind=LinkKind.NEXT, counters=Counters(), expected_revision=state.revision
        )
    assert loaded(control_store, KEY).link is None


def test_concurrent_acquisitions_from_many_processes_have_one_winner(
    control_db_url: str, control_store: ControlStore, store_clock: MovableClock
) -> None:
    stores = [open_store(control_db_url, clock=store_clock) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    winners: list[Lease] = []
    errors: list[BaseException] = []

    def contend(index: int, contender: ControlStore) -> None:
        barrier.wait()
        try:
            for round_ in range(5):
                lease = contender.leases.acquire(SyncKey("race", f"entity{round_}"), f"worker-{index}", TTL)
                if lease is not None:
                    winners.append(lease)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(i, s)) for i, s in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for opened in stores:
            opened.close()
    assert errors == []
    assert sorted(lease.key.name for lease in winners) == [f"entity{i}" for i in range(5)]
    for lease in winners:
        assert control_store.leases.current(lease.key) == lease
