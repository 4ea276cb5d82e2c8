"""Shared pieces for the REST API tests (no tests here).

:func:`emulator_process` runs a real ``dataverse-emulator`` process (HTTPS, port 0) with the org ``contoso``.
:func:`service_env` builds the real service runtime from a TOML configuration written like an operator would,
pointed at that emulator, and calls its API in-process through Starlette's ``TestClient`` (the service's own
calls to Dataverse, the issuer's JWKS and the destination are real). Tokens are minted by the emulator.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dataexport.cli.demo import demo_service_text, write_secret
from dataexport.cli.emulator_process import EmulatorInfo, EmulatorProcess
from dataexport.config.loading import load_service_config
from dataexport.config.service import ServiceConfig
from dataexport.runtime import API_AUDIENCE, ServiceRuntime, build_runtime

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PROFILES = "/crm/exporter/profiles"
METADATA = "/crm/exporter/metadata"
ORG_SECRET = "secrets/org-client-secret"
DESTINATION_SECRET = "secrets/destination"
TEST_SERVER = "http://localhost"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def emulator_process(root: Path, *, scale: int = 5, seed: int = 3) -> Iterator[EmulatorInfo]:
    """A real emulator process with the org ``contoso``; stopped when the block ends."""
    with EmulatorProcess(root / "emulator", port=0, org="contoso", scale=scale, seed=seed) as info:
        yield info


def emulator_admin(info: EmulatorInfo, method: str, path: str, body: Any = None) -> Any:
    """An emulator admin call (``/_emulator/<path>``) that must succeed; its JSON (None for 204)."""
    verify = ssl.create_default_context(cafile=str(info.ca_path)) if info.ca_path else True
    response = httpx.request(
        method,
        f"{info.base_url}/_emulator/{path}",
        json=body,
        headers={"X-Emulator-Admin-Key": info.admin_key},
        verify=verify,
        timeout=60,
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return None if response.status_code == 204 or not response.content else response.json()


def write_service_config(
    root: Path,
    info: EmulatorInfo,
    *,
    port: int = 8080,
    public_url: str | None = TEST_SERVER,
    destination: str = "sqlite:///replica.db",
    extra: str = "",
) -> ServiceConfig:
    """Write the secrets and ``dataexport.toml`` under ``root`` and load it as ``serve`` would."""
    root.mkdir(parents=True, exist_ok=True)
    write_secret(root / ORG_SECRET, info.client_secret)
    write_secret(root / DESTINATION_SECRET, destination)
    path = root / "dataexport.toml"
    text = demo_service_text(info, port, data_dir="var", public_url=public_url, org_secret=ORG_SECRET, extra=extra)
    path.write_text(text, encoding="utf-8")
    return load_service_config(path, environ={})


class SecretWatch(logging.Handler):
    """Collects every log record while a service runs; :meth:`check` fails on any secret value in a record or
    a response body (DES §1.7: a secret never appears in a response, a log line or an exception message)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.secrets = [secret for secret in secrets if secret]
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(str(record.msg))

    def check(self, text: str, where: str) -> None:
        for secret in self.secrets:
            assert secret not in text, f"a secret value appears in {where}"

    def check_logs(self) -> None:
        for line in self.lines:
            self.check(line, "a log line")


@dataclass
class ServiceEnv:
    """A built (and optionally started) service runtime and an in-process client to its API.

    Every response :meth:`call` returns has been checked for secret values (``watch``).
    """

    info: EmulatorInfo
    root: Path
    runtime: ServiceRuntime
    client: TestClient
    watch: SecretWatch

    @property
    def org_id(self) -> str:
        organizations = self.runtime.organizations.list()
        assert organizations, "the emulator's organization is registered"
        return organizations[0].id

    def token(self, user: str = "admin", **fields: Any) -> str:
        """A token the emulator signs (``user``: admin, teamadmin, user, disabled, app)."""
        body = {"user": user, "aud": API_AUDIENCE, **fields}
        return str(emulator_admin(self.info, "POST", "tokens", body)["access_token"])

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "admin",
        params: dict[str, str] | None = None,
        json_body: Any = None,
        content: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One API call; ``token`` is a sample user's key (minted), a raw token (contains dots) or None."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token if '.' in token else self.token(token)}"
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
            response = self.client.request(method, path, params=params, content=content, headers=sent)
        else:
            response = self.client.request(method, path, params=params, json=json_body, headers=sent)
        self.watch.check(response.text, f"the response to {method} {path}")
        self.watch.check(str(response.headers), f"the headers of the response to {method} {path}")
        return response

    def accept_terms(self) -> None:
        response = self.call("POST", f"{METADATA}/acceptprivacyterms", params={"organizationId": self.org_id})
        assert response.status_code == 204, response.text

    def profile_body(self, **fields: Any) -> dict[str, Any]:
        """A valid §2.1 body (name ``p1``, ``account`` and ``contact``), with ``fields`` replacing its keys."""
        body: dict[str, Any] = {
            "Name": "p1",
            "KeyVaultUri": f"file:{DESTINATION_SECRET}",
            "RetryCount": 3,
            "RetryInterval": 5,
            "WriteDeleteLog": True,
            "Entities": [{"Name": "account"}, {"Name": "contact"}],
            "Relationships": [],
        }
        body.update(fields)
        return body

    def create_profile(self, **fields: Any) -> dict[str, Any]:
        response = self.call(
            "POST", PROFILES, params={"organizationId": self.org_id}, json_body=self.profile_body(**fields)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@contextmanager
def service_env(
    root: Path,
    info: EmulatorInfo,
    *,
    start: bool = False,
    extra: str = "",
    destination: str = "sqlite:///replica.db",
    secrets: tuple[str, ...] = (),
) -> Iterator[ServiceEnv]:
    """The service over ``info``'s emulator; ``start`` also starts the scheduler (profiles really sync).

    Log records of every logger are captured while it runs and checked for the organization's client secret,
    the destination connection string and ``secrets`` when the block ends.
    """
    config = write_service_config(root, info, extra=extra, destination=destination)
    watched = [info.client_secret, *secrets] + ([destination] if "://" in destination else [])
    watch = SecretWatch(watched)
    logger = logging.getLogger()
    logger.addHandler(watch)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        runtime = build_runtime(config)
        try:
            if start:
                runtime.start()
            with TestClient(runtime.app(), base_url=TEST_SERVER, raise_server_exceptions=False) as client:
                yield ServiceEnv(info, root, runtime, client, watch)
        finally:
            runtime.close()
    finally:
        logger.removeHandler(watch)
        logger.setLevel(previous)
    watch.check_logs()


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a response (asserting it is one)."""
    parsed = json.loads(response.text)
    assert isinstance(parsed, dict), response.text
    return parsed
