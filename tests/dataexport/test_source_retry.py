"""The retry loop and the facade's edges, over scripted HTTP answers (``httpx.MockTransport``).

These are the cases the emulator cannot produce on demand: a link loop, a redirect, a read timeout
raised by the transport, a throttle that never ends, links to another host.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_source_support import FakeTime

from dataexport.domain.schema import Attribute, AttributeKind, EntitySchema
from dataexport.source.base import Link
from dataexport.source.dataverse import DataverseSource, SourceConfig, StaticToken
from dataexport.source.errors import (
    DeltaTokenExpired,
    InvalidPage,
    LinkRejected,
    RetriesExhausted,
    SourceRequestRefused,
    SourceThrottled,
    SourceUnauthorized,
)

ORG = "https://org.example"
ROOT = ORG + "/api/data/v9.2/"
A = "1f0e2d3c-4b5a-4697-8877-66554433221a"
SCHEMA = EntitySchema(
    logical_name="account",
    entity_set_name="accounts",
    primary_id="accountid",
    attributes=(Attribute(logical_name="accountid", kind=AttributeKind.UNIQUEIDENTIFIER),),
)
Answer = httpx.Response | Exception


def page_body(**links: str) -> dict[str, Any]:
    body: dict[str, Any] = {"value": [{"@odata.etag": 'W/"5"', "accountid": A, "versionnumber": 5}]}
    body.update({f"@odata.{name}": link for name, link in links.items()})
    return body


def ok(body: object = None, **headers: str) -> httpx.Response:
    content = json.dumps(body if body is not None else page_body(deltaLink=ROOT + "accounts?$deltatoken=9")).encode()
    return httpx.Response(200, content=content, headers={"content-type": "application/json", **headers})


def error(status: int, code: str = "", message: str = "", **headers: str) -> httpx.Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return httpx.Response(status, content=body, headers={"content-type": "application/json", **headers})


class Script:
    """Answers requests in order and records them."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else ok()
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_source(script: Callable[[httpx.Request], httpx.Response], fake: FakeTime, **settings: Any) -> DataverseSource:
    config = SourceConfig.model_validate({"org_url": ORG, "auth": StaticToken(access_token="tok-1"), **settings})
    return DataverseSource(
        config,
        http=httpx.Client(transport=httpx.MockTransport(script)),
        clock=fake.clock,
        sleep=fake.sleep,
        wall_clock=fake.wall_clock,
        jitter=fake.jitter,
    )


def test_requests_carry_the_token_the_odata_headers_and_two_prefer_headers() -> None:
    script = Script(ok())
    make_source(script, FakeTime(), pages={"size": 250}).read_page(SCHEMA)
    request = script.requests[0]
    assert str(request.url) == ROOT + "accounts"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["odata-version"] == "4.0" and request.headers["accept"] == "application/json"
    prefer = request.headers.get_list("prefer")
    assert prefer[0] == "odata.track-changes, odata.maxpagesize=250" and "include-annotations" in prefer[1]


def test_links_are_followed_verbatim() -> None:
    link = ROOT + "accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E&$odd=%2b"
    script = Script(ok())
    make_source(script, FakeTime()).read_page(SCHEMA, Link.next(link))
    assert str(script.requests[0].url) == link


def test_timeouts_and_resets_are_retried_with_backoff() -> None:
    fake = FakeTime()
    script = Script(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("cut"), ok())
    make_source(script, fake).read_page(SCHEMA)
    assert fake.sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_capped_at_the_maximum_delay() -> None:
    fake = FakeTime()
    make_source(Script(*[error(503)] * 9), fake).read_page(SCHEMA)
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_after_the_last_attempt_at_the_floor_the_error_says_what_was_seen() -> None:
    fake = FakeTime()
    script = Script(*[error(500, "0x80040216", "boom", **{"x-ms-service-request-id": "req-7"})] * 3)
    source = make_source(script, fake, retry={"attempts": 3}, pages={"size": 100, "floor": 100})
    with pytest.raises(RetriesExhausted) as caught:
        source.read_page(SCHEMA)
    assert len(script.requests) == 3 and fake.sleeps == [1.0, 2.0]
    assert "0x80040216" in str(caught.value) and "req-7" in str(caught.value) and caught.value.entity == "account"


def test_a_throttle_that_never_ends_gives_up_as_transient() -> None:
    fake = FakeTime()
    script = Script(*[error(429, "0x80072322", **{"Retry-After": "100"})] * 20)
    source = make_source(script, fake, throttle={"max_throttled_wait": 500})
    with pytest.raises(SourceThrottled):
        source.read_page(SCHEMA)
    assert len(script.requests) == 5 and sum(fake.sleeps) == pytest.approx(440.0)


def test_a_static_token_refused_is_not_refreshed() -> None:
    script = Script(error(401))
    with pytest.raises(SourceUnauthorized):
        make_source(script, FakeTime()).read_page(SCHEMA)
    assert len(script.requests) == 1


def test_a_link_loop_gives_up_at_once() -> None:
    link = ROOT + "accounts?$skiptoken=2"
    script = Script(ok(page_body(nextLink=link)))
    with pytest.raises(InvalidPage, match="nextLink is the URL just read"):
        make_source(script, FakeTime()).read_page(SCHEMA, Link.next(link))
    assert len(script.requests) == 1


def test_redirects_are_not_followed() -> None:
    script = Script(httpx.Response(302, headers={"location": "https://elsewhere.example/steal"}))
    with pytest.raises(SourceRequestRefused) as caught:
        make_source(script, FakeTime()).read_page(SCHEMA)
    assert caught.value.status == 302 and len(script.requests) == 1


@pytest.mark.parametrize(
    ("link", "error_type"),
    [
        (Link.next("https://elsewhere.example/api/data/v9.2/accounts?$skiptoken=1"), LinkRejected),
        (Link.delta("http://org.example/api/data/v9.2/accounts?$deltatoken=1"), DeltaTokenExpired),
        (Link.delta("https://org.example:8443/api/data/v9.2/accounts?$deltatoken=1"), DeltaTokenExpired),
    ],
)
def test_a_link_to_another_origin_is_never_requested(link: Link, error_type: type[Exception]) -> None:
    script = Script()
    with pytest.raises(error_type):
        make_source(script, FakeTime()).read_page(SCHEMA, link)
    assert script.requests == []


def test_an_ok_answer_that_is_not_json_is_retried() -> None:
    fake = FakeTime()
    html = httpx.Response(200, content=b"<html>maintenance</html>", headers={"content-type": "text/html"})
    script = Script(html, ok())
    make_source(script, fake).read_page(SCHEMA)
    assert fake.sleeps == [1.0]
