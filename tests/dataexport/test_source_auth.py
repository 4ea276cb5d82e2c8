"""Tokens (webapi §7.1, §7.3, §7.5, R10): MSAL client credentials in-process and against an HTTPS emulator
process with its private CA, static tokens, the cache margin, and secrets kept out of logs and errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_source_support import BASE, EmulatorEnv, FakeTime, emulator_env, emulator_process_module

from dataexport.errors import SourceUnavailable
from dataexport.source.dataverse import ClientCredentials, DataverseSource, SourceConfig, StaticToken
from dataexport.source.errors import SourceCredentialsRejected

WRONG_SECRET = "Wr0ng-Secret-Value-9f8e7d"
TOKEN_LIFETIME = 3599  # the emulator's default ``expires_in``


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EmulatorEnv]:
    with emulator_env(tmp_path / "emulator", scale=1) as running:
        yield running


def token_requests(env: EmulatorEnv) -> list[dict[str, Any]]:
    entries = env.admin("GET", "requests")["entries"]
    return [entry for entry in entries if str(entry["path"]).endswith("/oauth2/v2.0/token")]


def test_client_credentials_through_msal_read_the_organization(env: EmulatorEnv) -> None:
    source = env.source()
    organization = source.organization()
    assert organization.organization_id == env.store.info.organization_id
    assert (organization.friendly_name, organization.geo) == ("Contoso (emulated)", "NA")
    assert source.who_am_i().organization_id == organization.organization_id
    source.check_connection()
    assert len(token_requests(env)) == 1


def test_the_token_is_reused_until_five_minutes_before_it_expires(env: EmulatorEnv) -> None:
    fake = FakeTime()
    source = env.source(fake)
    for _ in range(3):
        source.who_am_i()
    fake.sleep(TOKEN_LIFETIME - 300 - 1)
    source.who_am_i()
    assert len(token_requests(env)) == 1
    fake.sleep(2)
    source.who_am_i()
    assert len(token_requests(env)) == 2


def test_a_static_token_is_sent_as_is(env: EmulatorEnv) -> None:
    token = env.admin("POST", "tokens", {})["access_token"]
    source = DataverseSource(SourceConfig(org_url=BASE, auth=StaticToken(access_token=token)), http=env.client)
    assert source.who_am_i().user_id
    assert token_requests(env) == []


def test_a_refused_secret_is_terminal_and_named_without_the_secret(env: EmulatorEnv) -> None:
    source = DataverseSource(env.config(auth=env.credentials(WRONG_SECRET)), http=env.client)
    with pytest.raises(SourceCredentialsRejected) as caught:
        source.check_connection()
    text = str(caught.value)
    assert env.emulator.persistent.client_id in text and "invalid_client" in text
    assert WRONG_SECRET not in text and WRONG_SECRET not in repr(caught.value)
    assert env.requests() == []  # the Web API was never called


def test_neither_secret_nor_token_reaches_any_log_record(env: EmulatorEnv, caplog: pytest.LogCaptureFixture) -> None:
    secret = env.emulator.persistent.client_secret
    sent: set[str] = set()
    env.client.event_hooks["request"].append(lambda request: sent.add(request.headers.get("authorization", "")))
    caplog.set_level(logging.DEBUG)
    source = env.source()
    source.entity_schema("account")
    env.faults({"match": {"entity_set": "accounts"}, "action": {"status": 401}, "times": 1})
    source.read_page(source.entity_schema("account"))
    with pytest.raises(SourceCredentialsRejected):
        DataverseSource(env.config(auth=env.credentials(WRONG_SECRET)), http=env.client).who_am_i()
    tokens = {value.removeprefix("Bearer ") for value in sent if value.startswith("Bearer ")}
    assert len(tokens) == 2  # the first token and the one fetched after the 401
    ours = [record for record in caplog.records if not record.name.startswith(("dataverse_emulator", "uvicorn"))]
    assert any(record.name.startswith("msal") for record in ours)  # MSAL did log, at DEBUG
    texts = [record.getMessage() for record in ours] + [repr(record.args) for record in ours]
    for text in texts:
        assert secret not in text and WRONG_SECRET not in text
        assert not any(token in text for token in tokens)
        assert "Bearer ey" not in text


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    process = emulator_process_module()
    args = ("--tls", "--port", "0", "--sample-org", "contoso", "--scale", "1", "--seed", "1")
    with process.start_emulator(tmp_path_factory.mktemp("https") / "data", args) as running:
        yield running.credentials


def https_config(credentials: Any, *, ca_file: Path | None) -> SourceConfig:
    auth = ClientCredentials(
        tenant_id=credentials.tenant_id,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        authority_host=credentials.base_url,
    )
    return SourceConfig(org_url=credentials.base_url, auth=auth, ca_file=ca_file, retry={"attempts": 1})


def test_msal_client_credentials_against_an_https_emulator_with_its_ca(https_emulator: Any) -> None:
    assert https_emulator.base_url.startswith("https://") and https_emulator.ca_path is not None
    source = DataverseSource(https_config(https_emulator, ca_file=https_emulator.ca_path))
    try:
        assert source.organization().unique_name
        schema = source.entity_schema("account")
        page = source.read_page(schema)
        assert page.upserts and page.is_last
    finally:
        source.close()


def test_a_private_ca_is_trusted_only_through_configuration(https_emulator: Any) -> None:
    source = DataverseSource(https_config(https_emulator, ca_file=None))
    try:
        with pytest.raises(SourceUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            source.who_am_i()
    finally:
        source.close()
