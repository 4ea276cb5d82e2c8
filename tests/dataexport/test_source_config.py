"""``SourceConfig``: the https rule (R10), defaults from DES §7.7, and secrets kept out of every text."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from dataexport.source.dataverse import ClientCredentials, SourceConfig, StaticToken
from dataexport.source.dataverse.auth import StaticTokenProvider

SECRET = "s3cr3t-Value-0f-the-Client"


def credentials(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {"mode": "client_credentials", "tenant_id": "t", "client_id": "c"}
    values["client_secret"] = SECRET
    values.update(changes)
    return values


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com/",
        "https://localhost:8443/contoso",
        "http://localhost:8080",
        "http://127.0.0.1:5555/org",
        "http://127.1.2.3",
        "http://[::1]:8080",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    config = SourceConfig(org_url=url, auth=StaticToken(access_token="t"))
    assert not config.org_url.endswith("/")
    assert config.web_api_root == config.org_url + "/api/data/v9.2/"
    assert config.scope == config.org_url + "/.default"


@pytest.mark.parametrize(
    "url",
    [
        "http://contoso.crm.dynamics.com",
        "http://10.0.0.5:8080",
        "http://localhost.example.com",
        "ftp://localhost",
        "contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com?x=1",
        "https://",
    ],
)
def test_other_urls_are_refused_with_the_rule_named(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SourceConfig(org_url=url, auth=StaticToken(access_token="t"))
    assert "org_url" in str(caught.value)


def test_the_authority_host_follows_the_same_rule_and_defaults_to_entra() -> None:
    config = SourceConfig(org_url="https://o.example", auth=credentials())
    assert isinstance(config.auth, ClientCredentials)
    assert config.auth.authority == "https://login.microsoftonline.com/t"
    with pytest.raises(ValidationError, match="must use https"):
        SourceConfig(org_url="https://o.example", auth=credentials(authority_host="http://idp.example"))


def test_defaults_are_the_des_numbers() -> None:
    config = SourceConfig(org_url="https://o.example", auth=StaticToken(access_token="t"))
    assert (config.pages.size, config.pages.floor, config.pages.regrow_after) == (5000, 100, 10)
    assert (config.retry.attempts, config.retry.initial_delay, config.retry.max_delay) == (10, 1.0, 60.0)
    throttle = config.throttle
    assert (throttle.concurrency, throttle.requests, throttle.server_seconds, throttle.window) == (8, 6000, 1200, 300)
    assert (throttle.regain_after, throttle.retry_after_jitter) == (60.0, 0.1)
    with pytest.raises(ValidationError):
        SourceConfig(org_url="https://o.example", auth=StaticToken(access_token="t"), throttle={"concurrency": 53})
    with pytest.raises(ValidationError):
        SourceConfig(org_url="https://o.example", auth=StaticToken(access_token="t"), pages={"size": 5001})


def test_the_throttle_identity_is_organization_and_client() -> None:
    config = SourceConfig(org_url="https://Contoso.example", auth=credentials(client_id="App-1"))
    assert config.identity == "https://contoso.example|app-1"


def test_secrets_never_appear_in_reprs_dumps_or_validation_errors() -> None:
    config = SourceConfig(org_url="https://o.example", auth=credentials())
    texts = [repr(config), str(config), config.model_dump_json(), repr(config.model_dump())]
    token_config = SourceConfig(org_url="https://o.example", auth=StaticToken(access_token=SECRET))
    texts += [repr(token_config), repr(StaticTokenProvider(StaticToken(access_token=SECRET)))]
    for broken in (
        credentials(tenant_id=""),
        {"client_secret": SECRET},
        credentials(authority_host="http://x.example"),
    ):
        with pytest.raises(ValidationError) as caught:
            SourceConfig(org_url="https://o.example", auth=broken)
        texts.append(str(caught.value))
    assert all(SECRET not in text for text in texts)
    assert config.auth.client_secret.get_secret_value() == SECRET  # type: ignore[union-attr]


def test_a_config_survives_pickling_with_its_secret() -> None:
    config = SourceConfig(org_url="https://o.example", auth=credentials())
    assert pickle.loads(pickle.dumps(config)) == config
