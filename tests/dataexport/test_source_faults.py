"""Scripted emulator faults and the decisions the client takes (webapi §6.3-6.4, §8 R4, R6, R8, R12, R13).

Time is a :class:`FakeTime`: every wait the client takes is recorded instead of slept. Its jitter source
returns 1.0, so a ``Retry-After: 3`` wait is 3 s + 10 % and backoff waits are their ceilings (1, 2, 4 s ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_source_support import EmulatorEnv, FakeTime, emulator_env, read_all

from dataexport.errors import SourceUnavailable
from dataexport.source.base import LinkKind
from dataexport.source.dataverse import DataverseSource
from dataexport.source.errors import (
    ChangeTrackingDisabled,
    DeltaTokenExpired,
    LinkRejected,
    RetriesExhausted,
    SourceRequestRefused,
    SourceUnauthorized,
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path / "emulator", scale=3) as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def source(env: EmulatorEnv, fake: FakeTime) -> DataverseSource:
    return env.source(fake, pages={"size": 4, "floor": 1})


def account_reads(env: EmulatorEnv) -> list[dict[str, Any]]:
    return [entry for entry in env.requests() if entry["entity_set"] == "accounts"]


# ----- 429 -----------------------------------------------------------------------------------------


def test_a_429_storm_waits_each_retry_after_retries_the_same_request_and_halves_concurrency(
    env: EmulatorEnv, source: DataverseSource, fake: FakeTime
) -> None:
    schema = source.entity_schema("account")
    rule = {"match": {"entity_set": "accounts", "nth": [1, 2, 3]}, "action": {"status": 429, "retry_after": 3}}
    env.faults({**rule, "action": {**rule["action"], "code": "0x80072322"}})
    page = source.read_page(schema)
    assert len(page.upserts) == 3
    assert fake.sleeps == pytest.approx([3.3, 3.3, 3.3])
    assert source.gate.concurrency == 1  # 8 -> 4 -> 2 -> 1
    reads = account_reads(env)
    assert [entry["status"] for entry in reads] == [429, 429, 429, 200]
    assert len({(entry["path"], entry["query"]) for entry in reads}) == 1  # the same request each time
    fake.sleep(120)
    assert source.gate.concurrency == 3  # one slot back per quiet minute


@pytest.mark.parametrize(("retry_after", "wait"), [("1.5", 1.65), ("Thu, 02 May 2024 08:17:00 GMT", 19.0 * 1.1)])
def test_retry_after_in_decimal_seconds_or_as_an_http_date(
    env: EmulatorEnv, source: DataverseSource, fake: FakeTime, retry_after: str, wait: float
) -> None:
    # FakeTime's wall clock starts at 08:00:00 + 1000 s = 08:16:40, so the date is 20 s ahead.
    fake.now = 1001.0
    schema = source.entity_schema("account")
    env.faults(
        {
            "match": {"entity_set": "accounts"},
            "action": {"status": 429, "headers": {"Retry-After": retry_after}},
            "times": 1,
        }
    )
    source.read_page(schema)
    assert fake.sleeps == pytest.approx([wait])


def test_a_429_without_retry_after_uses_the_backoff(env: EmulatorEnv, source: DataverseSource, fake: FakeTime) -> None:
    schema = source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts"}, "action": {"status": 429}, "times": 1})
    source.read_page(schema)
    assert fake.sleeps == pytest.approx([1.1])


def test_the_emulators_service_protection_limits_are_respected(env: EmulatorEnv, fake: FakeTime) -> None:
    env.admin("POST", "clock", {"now": "2024-05-02T08:00:00Z", "frozen": True})
    fake.on_sleep = lambda seconds: env.admin("POST", "clock", {"advance_seconds": seconds})
    env.admin(
        "POST", "throttling", {"enabled": True, "requests": 3, "window_s": 10, "exec_ms": 600000, "concurrent": 4}
    )
    source = env.source(fake, pages={"size": 2, "floor": 1})
    schema = source.entity_schema("contact")
    pages, final = read_all(source, schema)
    assert sum(len(page.upserts) for page in pages) == env.store.count("contact") and final is not None
    throttled = [entry for entry in env.requests() if entry["status"] == 429]
    assert throttled and len(fake.sleeps) == len(throttled)
    assert all(wait >= 1.0 for wait in fake.sleeps)


# ----- 5xx, resets, bodies --------------------------------------------------------------------------


def test_a_503_burst_is_retried_with_exponential_backoff(
    env: EmulatorEnv, source: DataverseSource, fake: FakeTime
) -> None:
    schema = source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts", "nth": [1, 2, 3]}, "action": {"status": 503}})
    assert len(source.read_page(schema).upserts) == 3
    assert fake.sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "action",
    [
        {"status": 502, "html": True},
        {"status": 500, "code": "0x80040216"},
        {"status": 504},
        {"reset": "before"},
        {"reset": "mid_body"},
        {"malform": "truncate", "at_bytes": 200},
        {"malform": "invalid_json"},
        {"malform": "wrong_content_type"},
        {"malform": "no_value"},
        {"malform": "drop_pk"},
    ],
)
def test_a_broken_answer_is_retried_and_none_of_its_rows_escape(
    env: EmulatorEnv, source: DataverseSource, fake: FakeTime, action: dict[str, Any]
) -> None:
    schema = source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts"}, "action": action, "times": 1})
    page = source.read_page(schema)
    assert len(page.upserts) == 3 and len(set(page.record_ids)) == 3
    assert fake.sleeps == [1.0]
    assert len(account_reads(env)) == 2


def test_a_page_that_keeps_failing_halves_the_page_size_down_to_the_floor(env: EmulatorEnv, fake: FakeTime) -> None:
    source = env.source(fake, pages={"size": 8, "floor": 2}, retry={"attempts": 2})
    schema = source.entity_schema("contact")
    env.faults({"match": {"entity_set": "contacts"}, "action": {"status": 503}})
    with pytest.raises(RetriesExhausted) as caught:
        source.read_page(schema)
    assert caught.value.reason == "status 503" and isinstance(caught.value, SourceUnavailable)
    sizes = [entry["prefer"].split("maxpagesize=")[1].split(",")[0] for entry in env.requests()[-6:]]
    assert sizes == ["8", "8", "4", "4", "2", "2"]
    assert source.page_size("contact") == 2
    assert fake.sleeps == [1.0, 1.0, 1.0]


def test_a_page_too_large_fault_is_read_again_smaller_and_the_size_is_reported(
    env: EmulatorEnv, fake: FakeTime
) -> None:
    source = env.source(fake, pages={"size": 16, "floor": 2, "regrow_after": 2}, retry={"attempts": 2})
    schema = source.entity_schema("contact")
    env.faults({"match": {"entity_set": "contacts", "min_pagesize": 5}, "action": {"reset": "mid_body"}})
    page = source.read_page(schema)
    assert page.page_size == 4 and len(page.upserts) == 4
    assert source.page_size("contact") == 4
    assert source.read_page(schema, page.following).page_size == 4
    assert source.page_size("contact") == 8  # two good pages in a row: doubled again


def test_a_body_over_the_byte_cap_shrinks_the_page_at_once(env: EmulatorEnv, fake: FakeTime) -> None:
    source = env.source(fake, pages={"size": 8, "floor": 1, "max_bytes": 6000})
    schema = source.entity_schema("contact")
    page = source.read_page(schema)
    assert page.page_size < 8 and source.page_size("contact") == page.page_size
    assert fake.sleeps == []  # no backoff: the size alone was the problem


def test_a_duplicated_row_is_accepted(env: EmulatorEnv, source: DataverseSource) -> None:
    schema = source.entity_schema("contact")
    env.faults({"match": {"entity_set": "contacts", "page": 2}, "action": {"malform": "duplicate_row"}})
    first = source.read_page(schema)
    assert first.following is not None
    second = source.read_page(schema, first.following)
    assert second.upserts[0].record_id == first.upserts[-1].record_id


# ----- links, expiry, tracking ---------------------------------------------------------------------


def test_a_rejected_next_link_asks_for_a_restart_from_the_last_delta_link(
    env: EmulatorEnv, source: DataverseSource
) -> None:
    schema = source.entity_schema("contact")
    env.faults({"match": {"entity_set": "contacts", "page": 1}, "action": {"malform": "bad_skiptoken"}, "times": 1})
    first = source.read_page(schema)
    assert first.following is not None and first.following.kind is LinkKind.NEXT
    with pytest.raises(LinkRejected):
        source.read_page(schema, first.following)


@pytest.mark.parametrize("style", ["400", "410"])
def test_an_expired_delta_token_in_either_style_asks_for_a_rebaseline(
    env: EmulatorEnv, source: DataverseSource, style: str
) -> None:
    env.admin("POST", "change-tracking", {"expired_style": style})
    schema = source.entity_schema("account")
    _, link = read_all(source, schema)
    env.faults({"match": {"has_query": "$deltatoken", "entity_set": "accounts"}, "action": {"expire_token": True}})
    with pytest.raises(DeltaTokenExpired):
        source.read_page(schema, link)
    assert account_reads(env)[-1]["status"] == int(style)


def test_a_token_older_than_the_retention_window_expires(env: EmulatorEnv, source: DataverseSource) -> None:
    env.admin("POST", "change-tracking", {"expire_days": 7})
    schema = source.entity_schema("account")
    _, link = read_all(source, schema)
    env.admin("POST", "clock", {"advance_seconds": 8 * 86400})
    env.admin("POST", "orgs/contoso/workload", {"seed": 1, "updates": 1, "tables": ["account"]})
    with pytest.raises(DeltaTokenExpired):
        source.read_page(schema, link)


def test_an_untracked_table_read_with_tracking_is_a_terminal_error(source: DataverseSource) -> None:
    schema = source.entity_schema("new_untracked")
    assert not schema.change_tracking
    with pytest.raises(ChangeTrackingDisabled) as caught:
        source.read_page(schema.model_copy(update={"change_tracking": True}))
    assert caught.value.status == 400 and "enable it" in str(caught.value)


def test_tracking_lost_after_a_restore_stops_the_delta(env: EmulatorEnv, source: DataverseSource) -> None:
    schema = source.entity_schema("account")
    _, link = read_all(source, schema)
    env.faults({"match": {"entity_set": "accounts"}, "action": {"disable_tracking": True}, "times": 1})
    with pytest.raises(ChangeTrackingDisabled):
        source.read_page(schema, link)


# ----- 401 and other 4xx -----------------------------------------------------------------------------


def test_a_401_refreshes_the_token_once_and_retries(env: EmulatorEnv, source: DataverseSource) -> None:
    schema = source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts"}, "action": {"status": 401}, "times": 1})
    assert len(source.read_page(schema).upserts) == 3
    env.faults({"match": {"entity_set": "accounts"}, "action": {"status": 401}})
    with pytest.raises(SourceUnauthorized):
        source.read_page(schema)
    token_requests = [e for e in env.admin("GET", "requests")["entries"] if e["path"].endswith("/oauth2/v2.0/token")]
    assert len(token_requests) == 3  # the first token, one refresh per 401 episode


def test_a_403_is_final_for_the_request_without_retries(
    env: EmulatorEnv, source: DataverseSource, fake: FakeTime
) -> None:
    schema = source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts"}, "action": {"status": 403, "code": "0x80040220"}})
    with pytest.raises(SourceRequestRefused) as caught:
        source.read_page(schema)
    assert (caught.value.status, caught.value.code) == (403, "0x80040220")
    assert fake.sleeps == [] and len(account_reads(env)) == 1


def test_an_unknown_entity_is_refused_with_404(source: DataverseSource) -> None:
    with pytest.raises(SourceRequestRefused) as caught:
        source.entity_schema("new_nothing")
    assert caught.value.status == 404
