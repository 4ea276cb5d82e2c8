"""The fault engine (spec §6.4, §9.3): rule parsing, pure decisions, and the ASGI shell acting on them.

The shell is exercised around a tiny fake ASGI app (one JSON page), so these tests do not depend on
the Web API; ``test_admin_faults.py`` runs the same faults against the real emulator.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient
from test_admin_support import serve_http

from dataverse_emulator.admin.facts import RequestFacts, request_facts
from dataverse_emulator.admin.fault_rules import parse_plan
from dataverse_emulator.admin.faults import RuleState, decide
from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.admin.middleware import AdminMiddleware, InjectedConnectionReset
from dataverse_emulator.admin.state import AdminState
from dataverse_emulator.clock import Clock
from dataverse_emulator.webapi.context import TrackingSettings
from dataverse_emulator.webapi.paging import PageState, decode_skiptoken, encode_skiptoken, quote_skiptoken

NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
PAGE_TWO = encode_skiptoken(PageState(mode="baseline", page=2, snapshot=10, after_id="2"))
PAGE_THREE = encode_skiptoken(PageState(mode="baseline", page=3, snapshot=10, after_id="4"))


def states(*rules: dict[str, Any], seed: int = 7) -> list[RuleState]:
    plan = parse_plan(Fields({"seed": seed, "rules": list(rules)}))
    return [RuleState(rule, plan.seed, index) for index, rule in enumerate(plan.rules)]


def facts(**changes: Any) -> RequestFacts:
    values: dict[str, Any] = {"method": "GET", "path": "/api/data/v9.2/accounts", "now": NOW}
    values.update(api_version="v9.2", entity_set="accounts")
    values.update(changes)
    return RequestFacts(**values)


def fired(rule_states: list[RuleState], request: RequestFacts) -> int | None:
    decision = decide(rule_states, request)
    return None if decision is None else decision.rule_index


def unsigned_token(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


# ----- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"match": {"entity": "accounts"}, "action": {"status": 500}}, "entity"),
        ({"match": {}, "action": {"status": 500, "reset": "before"}}, "reset"),
        ({"match": {}, "action": {}}, "delay_ms"),
        ({"match": {"path_regex": "("}, "action": {"status": 500}}, "path_regex"),
        ({"match": {"probability": 1.5}, "action": {"status": 500}}, "probability"),
        ({"match": {}, "action": {"malform": "sideways"}}, "malform"),
        ({"match": {}, "action": {"reset": "later"}}, "reset"),
        ({"match": {"nth": "2"}, "action": {"status": 500}}, "nth"),
        ({"match": {"after": "yesterday"}, "action": {"status": 500}}, "after"),
        ({"match": {}, "action": {"status": 500}, "times": -1}, "times"),
    ],
)
def test_an_invalid_rule_is_refused_naming_the_field(rule: dict[str, Any], named: str) -> None:
    with pytest.raises(AdminRequestError, match=named):
        parse_plan(Fields({"rules": [rule]}))


# ----- match keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"method": "POST"}, {"method": "POST"}, {"method": "GET"}),
        ({"method": ["GET", "patch"]}, {"method": "PATCH"}, {"method": "DELETE"}),
        ({"path_regex": r"^/api/data/v9\.2/"}, {}, {"path": "/api/data/v9.1/accounts"}),
        ({"entity_set": "accounts"}, {}, {"entity_set": "contacts"}),
        ({"entity_set": ["contacts", "Accounts"]}, {}, {"entity_set": "leads"}),
        ({"has_query": "$deltatoken"}, {"query": (("$DeltaToken", "1!x"),)}, {"query": (("$select", "name"),)}),
        ({"header": "If-None-Match"}, {"headers": {"if-none-match": "null"}}, {"headers": {}}),
        ({"header": {"prefer": "track-changes"}}, {"headers": {"prefer": "odata.track-changes"}}, {"headers": {}}),
        ({"page": 3}, {"page": 3}, {"page": 1}),
        ({"page": [1, 2]}, {"page": 2}, {"page": None}),
        ({"min_pagesize": 1001}, {"pagesize": 5000}, {"pagesize": 1000}),
        ({"after": "2024-05-02T07:00:00Z"}, {}, {"now": NOW - timedelta(hours=2)}),
        ({"before": "2024-05-02T09:00:00Z"}, {}, {"now": NOW + timedelta(hours=2)}),
        ({"any": True}, {}, None),
    ],
)
def test_each_match_key_selects_requests(
    match: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any] | None
) -> None:
    rule_states = states({"match": match, "action": {"status": 503}})
    assert fired(rule_states, facts(**hit)) == 0
    if miss is not None:
        assert fired(rule_states, facts(**miss)) is None


def test_identity_matches_the_tokens_oid_or_app_id() -> None:
    token = unsigned_token({"oid": "AAAA-1", "appid": "app-9"})
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"authorization", f"Bearer {token}".encode())]}
    caller_facts = request_facts(scope, NOW)
    assert fired(states({"match": {"identity": "aaaa-1"}, "action": {"status": 401}}), caller_facts) == 0
    assert fired(states({"match": {"identity": "app-9"}, "action": {"status": 401}}), caller_facts) == 0
    assert fired(states({"match": {"identity": "someone"}, "action": {"status": 401}}), caller_facts) is None


def test_nth_counts_requests_matching_the_rest_of_the_rule() -> None:
    rule_states = states({"match": {"entity_set": "accounts", "nth": [2, 3]}, "action": {"status": 429}})
    outcomes = []
    for entity_set in ["accounts", "contacts", "accounts", "accounts", "accounts"]:
        outcomes.append(fired(rule_states, facts(entity_set=entity_set)))
    assert outcomes == [None, None, 0, 0, None]
    assert rule_states[0].matched == 4
    assert rule_states[0].fired == 2


def test_times_limits_firing_and_then_later_rules_apply() -> None:
    rule_states = states(
        {"match": {"any": True}, "action": {"delay_ms": 1}, "times": 2},
        {"match": {"entity_set": "accounts"}, "action": {"status": 500}},
    )
    assert [fired(rule_states, facts()) for _ in range(4)] == [0, 0, 1, 1]
    assert rule_states[1].matched == 4, "a later rule still counts requests an earlier rule took"


def test_the_first_matching_rule_wins() -> None:
    rule_states = states(
        {"match": {"entity_set": "contacts"}, "action": {"status": 500}},
        {"match": {"method": "GET"}, "action": {"status": 502}},
        {"match": {"any": True}, "action": {"status": 503}},
    )
    assert fired(rule_states, facts(entity_set="contacts")) == 0
    assert fired(rule_states, facts()) == 1
    assert fired(rule_states, facts(method="POST")) == 2


def test_probability_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[int | None]:
        rule_states = states({"match": {"probability": 0.3}, "action": {"status": 503}}, seed=seed)
        return [fired(rule_states, facts()) for _ in range(200)]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert 30 < first.count(0) < 90
    never = states({"match": {"probability": 0}, "action": {"status": 503}})
    assert all(fired(never, facts()) is None for _ in range(50))


def test_one_rules_draws_do_not_shift_anothers() -> None:
    alone = states({"match": {"entity_set": "accounts", "probability": 0.5}, "action": {"status": 503}})
    together = states(
        {"match": {"entity_set": "accounts", "probability": 0.5}, "action": {"status": 503}},
        {"match": {"entity_set": "contacts", "probability": 0.5}, "action": {"status": 500}},
    )
    sequence = ["accounts", "contacts"] * 50
    alone_hits = [fired(alone, facts(entity_set=s)) is not None for s in sequence if s == "accounts"]
    together_hits = [fired(together, facts(entity_set=s)) == 0 for s in sequence][::2]
    assert any(alone_hits) and not all(alone_hits)
    assert alone_hits == together_hits


# ----- facts -----------------------------------------------------------------------------------------


def test_request_facts_decode_the_path_query_paging_and_caller() -> None:
    token = unsigned_token({"oid": "o-1", "azp": "c-1", "upn": "someone@example.test"})
    scope = {
        "type": "http",
        "method": "get",
        "path": "/contoso/api/data/v9.1/accounts(00000000-0000-0000-0000-000000000001)/contact_customer_accounts",
        "query_string": f"%24select=name%2Crevenue&$skiptoken={quote_skiptoken(PAGE_THREE)}&x=a+b".encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"prefer", b"odata.maxpagesize=250")],
    }
    request = request_facts(scope, NOW)
    assert (request.org, request.api_version, request.entity_set) == ("contoso", "v9.1", "accounts")
    assert request.option("$SELECT") == "name,revenue"
    assert request.option("x") == "a b"
    assert request.page == 3
    assert request.pagesize == 250
    assert (request.caller.oid, request.caller.app_id, request.caller.upn) == ("o-1", "c-1", "someone@example.test")
    assert request.method == "GET"


def test_request_facts_of_other_paths_and_bad_skiptokens() -> None:
    scope = {"type": "http", "method": "GET", "path": "/tenant/oauth2/v2.0/token", "query_string": b"$skiptoken=zz"}
    request = request_facts(scope, NOW)
    assert (request.is_web_api, request.entity_set, request.page, request.pagesize) == (False, None, None, 5000)
    assert request.caller.key is None


# ----- the ASGI shell around a fake app ----------------------------------------------------------------

PAGE = {
    "@odata.context": "http://testserver/api/data/v9.2/$metadata#accounts",
    "value": [{"accountid": str(i), "name": f"row {i}"} for i in range(1, 5)],
}


class FakeEmulator:
    """What the middleware needs from an emulator, without organizations."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.admin = AdminState()
        self.public_url = None
        self.tracking = TrackingSettings()

    def org(self, name: str | None = None) -> None:
        return None


async def page_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """One page per request: its nextLink names the following page by ``$skiptoken``."""
    state = PageState(mode="baseline", page=2, snapshot=10, after_id="4")
    page = dict(PAGE)
    if "skiptoken" in scope["query_string"].decode():
        page["value"] = [{"accountid": str(i), "name": f"row {i}"} for i in range(5, 9)]
        state = PageState(mode="baseline", page=3, snapshot=10, after_id="8")
    page["@odata.nextLink"] = (
        f"http://testserver/api/data/v9.2/accounts?$skiptoken={quote_skiptoken(encode_skiptoken(state))}"
    )
    body = orjson.dumps(page)
    headers = [
        (b"content-type", b"application/json; odata.metadata=minimal"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture()
def shell() -> Iterator[tuple[FakeEmulator, TestClient]]:
    emulator = FakeEmulator()
    client = TestClient(AdminMiddleware(page_app, emulator))  # type: ignore[arg-type]
    yield emulator, client
    client.close()


def install(emulator: FakeEmulator, *rules: dict[str, Any]) -> None:
    emulator.admin.faults.install(parse_plan(Fields({"seed": 1, "rules": list(rules)})))


URL = "/api/data/v9.2/accounts"


def test_a_status_fault_answers_with_the_dataverse_error_body(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {"any": True}, "action": {"status": 429, "code": "0x80072321", "retry_after": 3}})
    response = client.get(URL)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.headers["OData-Version"] == "4.0"
    assert response.json()["error"]["code"] == "0x80072321"
    assert response.json()["error"]["message"].startswith("Combined execution time of incoming requests exceeded")


def test_a_status_fault_can_send_a_gateway_html_page(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"status": 502, "html": True, "headers": {"X-Hop": "gw"}}})
    response = client.get(URL)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    assert response.headers["x-hop"] == "gw"


def test_delay_waits_then_answers_normally(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"delay_ms": 150}, "times": 1})
    started = time.monotonic()
    assert client.get(URL).json()["value"] == PAGE["value"]
    assert time.monotonic() - started >= 0.15
    client.get(URL)
    first, second = emulator.admin.log.since(0)
    assert (first.fault, second.fault) == ("rule 0: delay_ms 150", None)
    assert first.duration_ms >= 150


def test_reset_before_drops_the_request_without_a_response(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"reset": "before"}})
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(URL)
    entry = emulator.admin.log.since(0)[-1]
    assert (entry.status, entry.bytes, entry.fault) == (0, 0, "rule 0: reset_before")


@pytest.mark.parametrize(
    ("action", "expected_bytes"), [({"reset": "mid_body"}, None), ({"malform": "truncate", "at_bytes": 40}, 40)]
)
def test_mid_body_faults_cut_the_transfer(
    shell: tuple[FakeEmulator, TestClient], action: dict[str, Any], expected_bytes: int | None
) -> None:
    emulator, client = shell
    full = len(client.get(URL).content)
    install(emulator, {"match": {}, "action": action})
    with pytest.raises(InjectedConnectionReset):
        client.get(URL)
    entry = emulator.admin.log.since(0)[-1]
    assert entry.status == 200
    assert entry.bytes == (full // 2 if expected_bytes is None else expected_bytes)


def test_stall_sends_part_of_the_body_waits_and_completes(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"stall_after_bytes": 10, "delay_ms": 200}})
    started = time.monotonic()
    response = client.get(URL)
    assert response.json()["value"] == PAGE["value"]
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("kind", ["invalid_json", "no_value", "wrong_content_type", "bad_skiptoken"])
def test_malformed_pages(shell: tuple[FakeEmulator, TestClient], kind: str) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"malform": kind}})
    response = client.get(URL)
    assert response.status_code == 200
    if kind == "invalid_json":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(response.content)
    elif kind == "no_value":
        assert "value" not in response.json()
    elif kind == "wrong_content_type":
        assert response.headers["content-type"].startswith("text/html")
        assert response.json()["value"] == PAGE["value"]
    else:
        link = httpx.URL(response.json()["@odata.nextLink"])
        with pytest.raises(Exception, match="skiptoken"):
            decode_skiptoken(link.params["$skiptoken"])


def test_duplicate_row_repeats_the_last_row_of_the_previous_page(shell: tuple[FakeEmulator, TestClient]) -> None:
    emulator, client = shell
    install(emulator, {"match": {"page": 2}, "action": {"malform": "duplicate_row"}})
    first = client.get(URL).json()
    second = client.get(first["@odata.nextLink"]).json()
    assert second["value"][0] == first["value"][-1]
    assert [row["accountid"] for row in second["value"]] == ["4", "5", "6", "7", "8"]


def test_duplicate_row_without_a_known_previous_page_repeats_a_row_of_this_page(
    shell: tuple[FakeEmulator, TestClient],
) -> None:
    emulator, client = shell
    install(emulator, {"match": {}, "action": {"malform": "duplicate_row"}})
    rows = client.get(URL).json()["value"]
    assert rows[-1] == rows[0]
    assert len(rows) == 5


def test_admin_paths_bypass_faults() -> None:
    emulator = FakeEmulator()
    install(emulator, {"match": {}, "action": {"status": 500}})
    client = TestClient(AdminMiddleware(page_app, emulator))  # type: ignore[arg-type]
    assert client.get("/_emulator/anything").status_code == 200
    assert emulator.admin.log.since(0) == []


# ----- over a real socket -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"reset": "before"}, "without sending"),
        ({"reset": "mid_body"}, "incomplete|complete message body"),
        ({"malform": "truncate", "at_bytes": 20}, "incomplete|complete message body"),
    ],
)
def test_connection_faults_close_a_real_connection(action: dict[str, Any], message: str) -> None:
    emulator = FakeEmulator()
    install(emulator, {"match": {}, "action": action})
    with serve_http(AdminMiddleware(page_app, emulator)) as port:  # type: ignore[arg-type]
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            httpx.get(f"http://127.0.0.1:{port}{URL}", timeout=5)
        install(emulator)
        assert httpx.get(f"http://127.0.0.1:{port}{URL}", timeout=5).status_code == 200


def test_a_stall_ends_early_when_the_client_gives_up() -> None:
    emulator = FakeEmulator()
    install(emulator, {"match": {}, "action": {"stall_after_bytes": 10, "delay_ms": 5000}})
    with serve_http(AdminMiddleware(page_app, emulator)) as port:  # type: ignore[arg-type]
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"http://127.0.0.1:{port}{URL}", timeout=httpx.Timeout(5, read=0.3))
        deadline = time.monotonic() + 3
        while not emulator.admin.log.since(0) and time.monotonic() < deadline:
            time.sleep(0.02)
    entry = emulator.admin.log.since(0)[-1]
    assert (entry.status, entry.bytes) == (200, 10)
    assert entry.duration_ms < 3000, "the server stopped waiting when the client left"
