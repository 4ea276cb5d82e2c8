"""Deterministic workloads (spec §9.3 ``POST /_emulator/orgs/<name>/workload``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_admin_support import AdminEnv, admin_env

WORKLOAD = {"seed": 11, "creates": 6, "updates": 6, "deletes": 3, "associations": 3}


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        built.ok("POST", "clock", {"now": "2024-05-02T08:00:00Z", "frozen": True})
        yield built


def run(env: AdminEnv, **body: Any) -> dict[str, Any]:
    return env.ok("POST", "orgs/contoso/workload", {**WORKLOAD, **body})  # type: ignore[no-any-return]


def test_the_same_seed_gives_the_same_ids_and_versions(tmp_path: Path) -> None:
    results = []
    for name in ("one", "two"):
        with admin_env(tmp_path / name) as env:
            results.append(run(env))
    assert results[0] == results[1]
    with admin_env(tmp_path / "three") as env:
        other = run(env, seed=12)
    assert other["created"] != results[0]["created"]


def test_a_workload_reports_its_version_range_and_writes(env: AdminEnv) -> None:
    before = env.store.counter
    result = run(env)
    assert result["from_version"] == before
    assert result["to_version"] == env.store.counter
    assert len(result["created"]) == 6
    assert len(result["updated"]) == 6
    assert len(result["deleted"]) == 3
    assert len(result["associated"]) == 3
    versions = [e["version"] for kind in ("created", "updated", "deleted", "associated") for e in result[kind]]
    assert all(before < v <= result["to_version"] for v in versions)
    deleted_ids = {e["id"] for e in result["deleted"]}
    for entry in result["created"] + result["updated"]:
        row = env.store.get(entry["table"], entry["id"])
        if entry["id"] in deleted_ids:
            assert row is None
        else:
            assert row is not None and row.version >= entry["version"]
    for entry in result["deleted"]:
        assert env.store.get(entry["table"], entry["id"]) is None
    assert {e["table"] for e in result["associated"]} <= {"accountleads", "contactleads", "new_widget_contact"}


def test_workload_changes_show_up_in_the_next_delta(env: AdminEnv) -> None:
    _, delta_link = env.baseline("accounts")
    result = run(env, tables=["account"], associations=0)
    delta = env.api("GET", delta_link).json()["value"]
    upserts = {row["accountid"] for row in delta if "accountid" in row}
    tombstones = {row["id"] for row in delta if row.get("reason") == "deleted"}
    deleted = {e["id"] for e in result["deleted"]}
    assert tombstones == deleted
    assert {e["id"] for e in result["created"] + result["updated"]} - deleted == upserts


def test_associations_add_tracked_intersect_rows(env: AdminEnv) -> None:
    _, delta_link = env.baseline("accountleadscollection")
    result = run(env, creates=0, updates=0, deletes=0, associations=8)
    added = [e for e in result["associated"] if e["table"] == "accountleads"]
    delta = env.api("GET", delta_link).json()["value"]
    assert {row["accountleadid"] for row in delta} == {e["id"] for e in added}


def test_spread_seconds_spaces_the_steps_in_wall_time(env: AdminEnv) -> None:
    started = time.monotonic()
    run(env, creates=3, updates=0, deletes=0, associations=0, spread_seconds=0.3)
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"tables": ["nothing"]}, "'tables'"),
        ({"tables": ["accountleads"]}, "'tables'"),
        ({"creates": -1}, "'creates'"),
        ({"seed": "x"}, "'seed'"),
        ({"spread": 1}, "spread"),
    ],
)
def test_invalid_workloads_are_400(env: AdminEnv, body: dict[str, Any], named: str) -> None:
    response = env.admin("POST", "orgs/contoso/workload", {**WORKLOAD, **body})
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_a_seed_used_twice_creates_new_records_instead_of_failing(env: AdminEnv) -> None:
    body = {"seed": 4, "creates": 5, "tables": ["account"]}
    first = env.ok("POST", "orgs/contoso/workload", body)
    second = env.ok("POST", "orgs/contoso/workload", body)
    first_ids = {entry["id"] for entry in first["created"]}
    second_ids = {entry["id"] for entry in second["created"]}
    assert len(first_ids) == len(second_ids) == 5 and not first_ids & second_ids
