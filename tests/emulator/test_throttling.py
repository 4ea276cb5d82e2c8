"""Service-protection limits simulation (spec §6.3): the pure decision, the windows, and the Web API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_admin_support import AdminEnv, admin_env

from dataverse_emulator.admin.throttling import (
    CONCURRENCY_CODE,
    EXECUTION_TIME_CODE,
    REQUESTS_CODE,
    Admission,
    Rejection,
    Throttle,
    ThrottleSettings,
    limit_message,
)

SETTINGS = ThrottleSettings(enabled=True, requests=3, window_s=10, exec_ms=1000, concurrent=2)


def test_the_default_messages_are_dataverses() -> None:
    real = ThrottleSettings()
    assert limit_message(REQUESTS_CODE, real) == (
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
    )
    assert limit_message(EXECUTION_TIME_CODE, real) == (
        "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time "
        "window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests "
        "and try again later."
    )
    assert limit_message(CONCURRENCY_CODE, real) == "Number of concurrent requests exceeded the limit of 52."


def test_off_by_default() -> None:
    assert Throttle().admit("someone", 0.0) is None


def test_request_count_limit_and_retry_after_until_the_window_admits() -> None:
    throttle = Throttle()
    throttle.configure(SETTINGS)
    for moment in (100.0, 101.0, 102.5):
        outcome = throttle.admit("u", moment)
        assert isinstance(outcome, Admission)
        throttle.finish("u", moment, 1.0)
    rejected = throttle.admit("u", 103.0)
    assert isinstance(rejected, Rejection)
    assert rejected.code == REQUESTS_CODE
    assert rejected.retry_after == 7, "the first arrival (100) leaves the 10 s window at 110"
    assert isinstance(throttle.admit("other", 103.0), Admission), "windows are per caller"
    assert isinstance(throttle.admit("u", 110.5), Admission)


def test_execution_time_limit() -> None:
    throttle = Throttle()
    throttle.configure(ThrottleSettings(enabled=True, requests=100, window_s=10, exec_ms=1000, concurrent=5))
    for moment, duration in ((0.0, 400.0), (1.0, 400.0), (2.0, 300.0)):
        assert isinstance(throttle.admit("u", moment), Admission)
        throttle.finish("u", moment + 0.5, duration)
    rejected = throttle.admit("u", 3.0)
    assert isinstance(rejected, Rejection)
    assert rejected.code == EXECUTION_TIME_CODE
    assert rejected.retry_after == 8, "dropping the first finish (0.5 s) frees enough time at 10.5 s"


def test_concurrency_is_checked_on_arrival() -> None:
    throttle = Throttle()
    throttle.configure(SETTINGS)
    assert isinstance(throttle.admit("u", 0.0), Admission)
    assert isinstance(throttle.admit("u", 0.0), Admission)
    rejected = throttle.admit("u", 0.0)
    assert isinstance(rejected, Rejection)
    assert (rejected.code, rejected.retry_after) == (CONCURRENCY_CODE, 1)
    throttle.finish("u", 0.1, 5.0)
    assert isinstance(throttle.admit("u", 0.2), Admission)


def test_admissions_report_what_is_left() -> None:
    throttle = Throttle()
    throttle.configure(SETTINGS)
    first = throttle.admit("u", 0.0)
    assert first == Admission(burst_remaining=2, time_remaining_ms=1000)
    throttle.finish("u", 0.1, 250.0)
    assert throttle.admit("u", 0.2) == Admission(burst_remaining=1, time_remaining_ms=750)


# ----- through the Web API ---------------------------------------------------------------------------


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        built.ok("POST", "clock", {"now": "2024-05-02T08:00:00Z", "frozen": True})
        yield built


def test_web_api_requests_are_throttled_per_caller(env: AdminEnv) -> None:
    env.ok("POST", "throttling", {"enabled": True, "requests": 2, "window_s": 60})
    app, user = env.token(), env.token(user="admin")
    first = env.api("GET", "accounts", token=app)
    assert first.status_code == 200
    assert first.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"
    assert "x-ms-ratelimit-time-remaining-xrm-requests" in first.headers
    assert env.api("GET", "accounts", token=app).status_code == 200
    throttled = env.api("GET", "accounts", token=app)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "60"
    assert throttled.json()["error"] == {
        "code": REQUESTS_CODE,
        "message": "Number of requests exceeded the limit of 2 over time window of 60 seconds.",
    }
    assert env.api("GET", "accounts", token=user).status_code == 200, "another user has its own window"
    env.ok("POST", "clock", {"advance_seconds": 59})
    assert env.api("GET", "accounts", token=app).headers["Retry-After"] == "1"
    env.ok("POST", "clock", {"advance_seconds": 1.5})
    assert env.api("GET", "accounts", token=app).status_code == 200
    logged = env.ok("GET", "requests")["entries"]
    assert [e["fault"] for e in logged].count(f"throttled {REQUESTS_CODE}") == 2


def test_execution_time_is_counted_from_slow_requests(env: AdminEnv) -> None:
    env.ok("POST", "throttling", {"requests": 100, "window_s": 30, "exec_ms": 100})
    env.ok("POST", "faults", {"rules": [{"match": {"entity_set": "accounts"}, "action": {"delay_ms": 120}}]})
    token = env.token()
    assert env.api("GET", "accounts", token=token).status_code == 200
    throttled = env.api("GET", "contacts", token=token)
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == EXECUTION_TIME_CODE
    assert throttled.headers["Retry-After"] == "30"


def test_throttling_settings_round_trip_and_are_validated(env: AdminEnv) -> None:
    assert env.ok("GET", "throttling")["enabled"] is False
    env.ok("POST", "throttling", {"requests": 5, "concurrent": 1})
    assert env.ok("GET", "throttling") == {
        "enabled": True,
        "requests": 5,
        "window_s": 300.0,
        "exec_ms": 1_200_000,
        "concurrent": 1,
    }
    response = env.admin("POST", "throttling", {"requests": 0})
    assert response.status_code == 400
    assert "'requests'" in response.json()["error"]["message"]
    env.ok("POST", "throttling", {"enabled": False})
    token = env.token()
    assert all(env.api("GET", "accounts", token=token).status_code == 200 for _ in range(8))
