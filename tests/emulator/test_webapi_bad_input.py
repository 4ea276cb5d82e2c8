"""Bad input never makes the emulator answer 500 or hang: always the Dataverse error body (spec §6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator, OrgRequest
from dataverse_emulator.identity.tokens import TokenRequest
from dataverse_emulator.settings import Settings

ROOT = "http://testserver/api/data/v9.2/"
FRAGMENTS = [
    "$select=",
    "$filter=",
    "$orderby=",
    "$top=",
    "$count=",
    "$expand=",
    "$skiptoken=",
    "$deltatoken=",
    "$skip=",
    "name",
    "revenue",
    "_ownerid_value",
    "eq",
    "ne",
    "gt",
    " ",
    "'",
    "''",
    "(",
    ")",
    ",",
    "&",
    "=",
    "%",
    "%2",
    "%24",
    "+",
    "null",
    "true",
    "1",
    "-1",
    "99999999999999999999",
    "contains(name,'a')",
    "Microsoft.Dynamics.CRM.In(",
    "and",
    "or",
    "not",
    "/",
    "@p1",
    "2024-01-01",
    "<cookie",
    "!",
    "asc",
    "desc",
    "\u00e9",
    "\U0001f600",
]
PATHS = [
    "accounts",
    "contacts",
    "accounts(",
    "accounts()",
    "accounts(x)",
    "EntityDefinitions",
    "WhoAmI",
    "accounts/$count",
    "nosuch",
    "EntityDefinitions(LogicalName='account')/Attributes",
    "$batch",
    "$metadata",
    "accounts(00000000-0000-0000-0000-000000000001)/name",
    "RetrieveMetadataChanges(Query=@p1)",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    emulator = Emulator(Settings(data_dir=Path(tmp_path_factory.mktemp("bad-input"))))
    emulator.create_org(OrgRequest("contoso", scale=3, seed=5))
    persistent = emulator.persistent
    token = emulator.issuer.mint(
        TokenRequest(persistent.tenant_id, "app", persistent.client_id, persistent.app_object_id, "http://testserver"),
        base_url="http://testserver",
    )
    with TestClient(create_app(emulator.settings, emulator), raise_server_exceptions=True) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def assert_dataverse_error_or_success(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status != 500, response.text  # type: ignore[attr-defined]
    if status >= 400 and status != 401:
        error = response.json()["error"]  # type: ignore[attr-defined]
        assert isinstance(error["code"], str) and error["message"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), query=st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
def test_random_query_strings(client: TestClient, path: str, query: str) -> None:
    assert_dataverse_error_or_success(client.get(f"{ROOT}{path}?{query}"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["POST", "PATCH", "PUT", "DELETE"]),
    path=st.sampled_from(PATHS),
    body=st.one_of(
        st.binary(max_size=200),
        st.from_regex(r'\{"[a-z_]{1,12}": ?(1|"x"|null|\[\]|\{\})\}', fullmatch=True).map(str.encode),
    ),
)
def test_random_write_bodies(client: TestClient, method: str, path: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    assert_dataverse_error_or_success(client.request(method, f"{ROOT}{path}", content=body, headers=headers))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.text(max_size=80))
def test_random_authorization_headers_are_401(client: TestClient, header: str) -> None:
    try:
        response = client.get(ROOT + "WhoAmI", headers={"Authorization": header})
    except (ValueError, UnicodeEncodeError):
        return  # not a sendable header value
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
