"""Admin clock and change-tracking settings (spec §3.6, §3.7, §9.3 ``/clock``, ``/change-tracking``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_admin_support import AdminEnv, admin_env

EXPIRED = "0x80044352"
EIGHT_DAYS = 8 * 86400


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        built.ok("POST", "clock", {"now": "2024-05-02T08:00:00Z", "frozen": True})
        yield built


def create_account(env: AdminEnv, name: str) -> str:
    response = env.api("POST", "accounts", json={"name": name}, headers={"Prefer": "return=representation"})
    assert response.status_code == 201, response.text
    return str(response.json()["accountid"])


def test_the_clock_can_be_read_frozen_advanced_and_released(tmp_path: Path) -> None:
    with admin_env(tmp_path) as env:
        assert env.ok("GET", "clock")["frozen"] is False
        assert env.ok("POST", "clock", {"now": "2024-05-02T08:00:00Z", "frozen": True}) == {
            "now": "2024-05-02T08:00:00Z",
            "frozen": True,
        }
        assert env.ok("POST", "clock", {"advance_seconds": 90})["now"] == "2024-05-02T08:01:30Z"
        released = env.ok("POST", "clock", {"frozen": False})
        assert released["frozen"] is False
        assert released["now"].startswith("2024-05-02T08:01")
        assert env.ok("POST", "clock", {"reset": True})["now"] > "2025"


def test_writes_take_modifiedon_from_the_clock(env: AdminEnv) -> None:
    account_id = create_account(env, "Clockwork")
    env.ok("POST", "clock", {"advance_seconds": 3600})
    assert env.api("PATCH", f"accounts({account_id})", json={"name": "Clockwork 2"}).status_code == 204
    row = env.api("GET", f"accounts({account_id})?$select=createdon,modifiedon").json()
    assert row["createdon"] == "2024-05-02T08:00:00Z"
    assert row["modifiedon"] == "2024-05-02T09:00:00Z"


def test_advancing_past_the_expiry_window_expires_delta_links(env: AdminEnv) -> None:
    _, delta_link = env.baseline("accounts")
    assert env.api("GET", delta_link).status_code == 200
    env.ok("POST", "clock", {"advance_seconds": EIGHT_DAYS})
    expired = env.api("GET", delta_link)
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == EXPIRED
    env.ok("POST", "change-tracking", {"expired_style": "410"})
    gone = env.api("GET", delta_link)
    assert gone.status_code == 410
    assert gone.headers["Location"].endswith("/api/data/v9.2/accounts")


def test_a_shorter_window_expires_tokens_sooner(env: AdminEnv) -> None:
    assert env.ok("POST", "change-tracking", {"expire_days": 1}) == {"expire_days": 1.0, "expired_style": "400"}
    _, delta_link = env.baseline("contacts")
    env.ok("POST", "clock", {"advance_seconds": 2 * 86400})
    assert env.api("GET", delta_link).json()["error"]["code"] == EXPIRED


def test_purging_expired_tombstones_raises_the_horizon(env: AdminEnv) -> None:
    doomed = create_account(env, "Soon gone")
    _, old_link = env.baseline("accounts")
    assert env.api("DELETE", f"accounts({doomed})").status_code == 204
    env.ok("POST", "clock", {"advance_seconds": EIGHT_DAYS})
    _, fresh_link = env.baseline("accounts")
    outcome = env.ok("POST", "change-tracking", {"purge": "expired"})
    assert outcome["purged"]["contoso"]["purged"] == 1
    assert outcome["purged"]["contoso"]["purge_horizon"] == env.store.counter
    assert env.store.tombstones("account", 0, env.store.counter, 10) == []
    assert env.api("GET", old_link).status_code == 400
    assert env.api("GET", fresh_link).status_code == 200, "tokens at the horizon stay valid"


def test_purging_up_to_a_version_expires_older_tokens(env: AdminEnv) -> None:
    _, old_link = env.baseline("accounts")
    doomed = create_account(env, "Gone")
    assert env.api("DELETE", f"accounts({doomed})").status_code == 204
    outcome = env.ok("POST", "change-tracking", {"purge": env.store.counter, "org": "contoso"})
    assert outcome["purged"] == {"contoso": {"purged": 1, "purge_horizon": env.store.counter}}
    assert env.api("GET", old_link).json()["error"]["code"] == EXPIRED


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"expired_style": "500"}, "expired_style"),
        ({"expire_days": 400}, "expire_days"),
        ({"purge": "everything"}, "purge"),
        ({"expire": 3}, "expire"),
        ({"purge": 1, "org": "nowhere"}, "nowhere"),
    ],
)
def test_change_tracking_settings_are_validated(env: AdminEnv, body: dict[str, object], named: str) -> None:
    response = env.admin("POST", "change-tracking", body)
    assert response.status_code in (400, 404)
    assert named in response.json()["error"]["message"]


def test_clock_fields_are_validated(env: AdminEnv) -> None:
    response = env.admin("POST", "clock", {"now": "soon"})
    assert response.status_code == 400
    assert "'now'" in response.json()["error"]["message"]
