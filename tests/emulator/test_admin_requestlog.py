"""The request log (spec §9.3 ``GET /_emulator/requests``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from test_admin_support import AdminEnv, admin_env

from dataverse_emulator.admin.requestlog import LogEntry, RequestLog


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        yield built


def entry(path: str) -> LogEntry:
    return LogEntry("2024-05-02T08:00:00Z", "GET", path, "", None, None, None, None, 200, 0, 0.0, None)


def test_the_log_is_bounded_and_keeps_numbering_across_clears() -> None:
    log = RequestLog(capacity=3)
    for index in range(5):
        log.record(entry(f"/{index}"))
    assert [e.seq for e in log.since(0)] == [3, 4, 5]
    log.clear()
    assert log.since(0) == []
    assert log.record(entry("/next")) == 6


def test_web_api_requests_are_logged_with_what_happened(env: AdminEnv) -> None:
    token = env.token()
    response = env.api(
        "GET",
        "accounts?%24select=name&$filter=name+ne+%27x%27",
        token=token,
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    log = env.ok("GET", "requests")
    assert len(log["entries"]) == 1, "admin calls are not logged"
    logged = log["entries"][0]
    assert logged["seq"] == log["last_seq"]
    assert (logged["method"], logged["path"], logged["query"]) == (
        "GET",
        "/api/data/v9.2/accounts",
        "$select=name&$filter=name ne 'x'",
    )
    assert logged["prefer"] == "odata.maxpagesize=2"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (logged["identity"], logged["app_id"]) == (payload["oid"], payload["appid"])
    assert logged["entity_set"] == "accounts"
    assert (logged["status"], logged["bytes"]) == (200, len(response.content))
    assert logged["duration_ms"] >= 0
    assert logged["fault"] is None
    assert logged["time"].endswith("Z")


def test_since_returns_only_later_entries(env: AdminEnv) -> None:
    token = env.token()
    env.api("GET", "accounts", token=token)
    seen = env.ok("GET", "requests")["last_seq"]
    assert env.ok("GET", f"requests?since={seen}")["entries"] == []
    env.ok("POST", "faults", {"rules": [{"match": {"entity_set": "contacts"}, "action": {"status": 503}}]})
    env.api("GET", "contacts", token=token)
    env.api("GET", "leads", token=token)
    later = env.ok("GET", f"requests?since={seen}")["entries"]
    assert [(e["entity_set"], e["status"], e["fault"]) for e in later] == [
        ("contacts", 503, "rule 0: status 503"),
        ("leads", 200, None),
    ]
    assert len(env.ok("GET", f"requests?since={seen}&limit=1")["entries"]) == 1
    bad = env.admin("GET", "requests?since=last")
    assert bad.status_code == 400
    assert "'since'" in bad.json()["error"]["message"]


def test_requests_without_a_token_are_logged_too(env: AdminEnv) -> None:
    assert env.client.get("/api/data/v9.2/accounts").status_code == 401
    logged = env.ok("GET", "requests")["entries"][-1]
    assert (logged["status"], logged["identity"]) == (401, None)
