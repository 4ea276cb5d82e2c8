"""The pure decision table of the Web API client (``source/dataverse/classify.py``) and response parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataexport.source.dataverse.classify import (
    CLASS_VERDICTS,
    CODE_VERDICTS,
    FAILURE_VERDICTS,
    STATUS_VERDICTS,
    Failure,
    Observation,
    Verdict,
    classify,
    classify_token_error,
)
from dataexport.source.dataverse.responses import (
    BodyError,
    is_json_media_type,
    parse_error_body,
    parse_json,
    parse_retry_after,
)

EXPIRED_MESSAGE = "Version stamp associated with the client has expired. Please perform a full sync."
NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failure", "verdict"),
    [
        (Failure.TIMEOUT, Verdict.BACKOFF),
        (Failure.RESET, Verdict.BACKOFF),
        (Failure.TRUNCATED, Verdict.BACKOFF),
        (Failure.INVALID_JSON, Verdict.BACKOFF),
        (Failure.WRONG_CONTENT_TYPE, Verdict.BACKOFF),
        (Failure.INVALID_PAGE, Verdict.BACKOFF),
        (Failure.LINK_LOOP, Verdict.GIVE_UP),
        (Failure.TOO_LARGE, Verdict.SHRINK_PAGE),
    ],
)
def test_every_failure_below_http_has_its_verdict(failure: Failure, verdict: Verdict) -> None:
    assert classify(Observation(failure=failure)) is verdict
    # A failure wins over the status it came with (a 200 whose body is not JSON is retried).
    assert classify(Observation(status=200, failure=failure)) is verdict


def test_the_failure_table_covers_every_failure_kind() -> None:
    assert set(FAILURE_VERDICTS) == set(Failure)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.OK),
        (204, Verdict.OK),
        (301, Verdict.REFUSED),
        (304, Verdict.REFUSED),
        (400, Verdict.REFUSED),
        (401, Verdict.REFRESH_TOKEN),
        (403, Verdict.REFUSED),
        (404, Verdict.NOT_FOUND),
        (405, Verdict.REFUSED),
        (408, Verdict.BACKOFF),
        (410, Verdict.EXPIRED),
        (412, Verdict.REFUSED),
        (413, Verdict.REFUSED),
        (429, Verdict.RETRY_AFTER),
        (500, Verdict.BACKOFF),
        (501, Verdict.REFUSED),
        (502, Verdict.BACKOFF),
        (503, Verdict.BACKOFF),
        (504, Verdict.BACKOFF),
        (507, Verdict.BACKOFF),
        (600, Verdict.REFUSED),
    ],
)
def test_statuses_without_a_telling_body(status: int, verdict: Verdict) -> None:
    assert classify(Observation(status=status)) is verdict


@pytest.mark.parametrize("code", ["0x80044352", "0X80044352", " 0x80044352 ", "-2147204270"])
@pytest.mark.parametrize("status", [400, 403, 404, 409, 410])
def test_the_expired_version_stamp_code_means_rebaseline_on_any_4xx(code: str, status: int) -> None:
    assert classify(Observation(status=status, code=code)) is Verdict.EXPIRED
    assert classify(Observation(status=status, code=code, continuation=True)) is Verdict.EXPIRED


@pytest.mark.parametrize(
    "message",
    [EXPIRED_MESSAGE, "The VERSION STAMP has EXPIRED", "expired: version stamp too old"],
)
def test_a_version_stamp_expired_message_means_rebaseline_whatever_the_code(message: str) -> None:
    assert classify(Observation(status=400, code="0x0", message=message)) is Verdict.EXPIRED
    assert classify(Observation(status=400, message="version stamp is fine")) is Verdict.REFUSED


def test_a_410_is_expired_even_without_a_body() -> None:
    assert classify(Observation(status=410)) is Verdict.EXPIRED


@pytest.mark.parametrize(
    "code", ["0x80072322", "0x80072321", "0x80072326", "-2147015902", "-2147015903", "-2147015898"]
)
def test_the_three_service_protection_codes_wait_for_retry_after(code: str) -> None:
    assert classify(Observation(status=429, code=code)) is Verdict.RETRY_AFTER
    assert classify(Observation(status=400, code=code)) is Verdict.RETRY_AFTER


def test_untracked_table_message_is_its_own_verdict() -> None:
    message = "Change tracking is not enabled for the entity 'new_untracked'."
    assert classify(Observation(status=400, code="0x80040203", message=message)) is Verdict.UNTRACKED
    assert classify(Observation(status=400, message=message, continuation=True)) is Verdict.UNTRACKED


def test_a_400_on_a_next_link_rejects_the_link_but_not_on_a_first_page() -> None:
    assert classify(Observation(status=400, code="0x0", continuation=True)) is Verdict.LINK_REJECTED
    assert classify(Observation(status=400, code="0x0", continuation=False)) is Verdict.REFUSED
    # Other statuses on a nextLink keep their own meaning.
    assert classify(Observation(status=403, continuation=True)) is Verdict.REFUSED
    assert classify(Observation(status=503, continuation=True)) is Verdict.BACKOFF


def test_codes_and_messages_only_decide_for_client_errors() -> None:
    assert classify(Observation(status=503, code="0x80044352")) is Verdict.BACKOFF
    assert classify(Observation(status=200, code="0x80044352")) is Verdict.OK
    assert classify(Observation(status=500, message=EXPIRED_MESSAGE)) is Verdict.BACKOFF


def test_an_unknown_code_falls_back_to_the_status() -> None:
    assert classify(Observation(status=403, code="0x80040220")) is Verdict.REFUSED
    assert classify(Observation(status=401, code="")) is Verdict.REFRESH_TOKEN
    assert classify(Observation(status=429, code="0x12345678")) is Verdict.RETRY_AFTER


def test_tables_are_read_only_and_consistent() -> None:
    assert all(code == code.lower() for code in CODE_VERDICTS)
    assert set(CLASS_VERDICTS) == {2, 4, 5}
    with pytest.raises(TypeError):
        STATUS_VERDICTS[418] = Verdict.OK  # type: ignore[index]


@given(
    status=st.integers(min_value=100, max_value=599),
    code=st.none() | st.text(max_size=12),
    message=st.text(max_size=40),
    continuation=st.booleans(),
)
def test_classify_is_total_and_pure(status: int, code: str | None, message: str, continuation: bool) -> None:
    observation = Observation(status=status, code=code, message=message, continuation=continuation)
    verdict = classify(observation)
    assert verdict is classify(observation)
    assert verdict in set(Verdict) - {Verdict.CREDENTIALS_REJECTED, Verdict.SHRINK_PAGE, Verdict.GIVE_UP}
    assert (verdict is Verdict.OK) == (200 <= status < 300)


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        ("invalid_client", Verdict.CREDENTIALS_REJECTED),
        ("unauthorized_client", Verdict.CREDENTIALS_REJECTED),
        ("INVALID_CLIENT", Verdict.CREDENTIALS_REJECTED),
        ("invalid_scope", Verdict.BACKOFF),
        ("invalid_request", Verdict.BACKOFF),
        ("temporarily_unavailable", Verdict.BACKOFF),
        (None, Verdict.BACKOFF),
    ],
)
def test_only_a_refused_client_is_final_at_the_token_endpoint(error: str | None, verdict: Verdict) -> None:
    assert classify_token_error(error) is verdict


# ----- responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("2.5", 2.5),
        ("Thu, 02 May 2024 08:00:30 GMT", 30.0),
        ("Thu, 02 May 2024 07:59:00 GMT", 0.0),
        ("-1", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_accepts_seconds_decimals_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_json_numbers_are_exact_decimals_and_integers_stay_integers() -> None:
    document = parse_json(b'{"a": 1250000.0000, "b": 12345678901234567890.123456789, "c": 42, "d": 1e2}')
    assert document == {
        "a": Decimal("1250000.0000"),
        "b": Decimal("12345678901234567890.123456789"),
        "c": 42,
        "d": Decimal("1E+2"),
    }
    assert str(document["a"]) == "1250000.0000"  # type: ignore[index]


@pytest.mark.parametrize("body", [b"", b"{", b'{"value": [1,}', b"\xff\xfe", b"<html>502</html>"])
def test_invalid_json_is_a_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        parse_json(body)
    assert caught.value.reason == "invalid_json"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"error":{"code":"0x80044352","message":"expired"}}', "0x80044352", "expired"),
        (b'{"error":{"code":-2147204270,"message":"x"}}', "-2147204270", "x"),
        (b'{"error":{"code":"","message":""}}', "", ""),
        (b"<html><body>502 Bad Gateway</body></html>", None, ""),
        (b"", None, ""),
        (b'{"error":"invalid_client"}', None, ""),
        (b"[1,2]", None, ""),
    ],
)
def test_error_bodies_are_read_leniently(body: bytes, code: str | None, message: str) -> None:
    error = parse_error_body(body)
    assert (error.code, error.message) == (code, message)


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        ("application/json; odata.metadata=minimal", True),
        ("application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/html; charset=utf-8", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_content_type_is_matched_on_the_media_type_only(content_type: str | None, is_json: bool) -> None:
    assert is_json_media_type(content_type) is is_json
