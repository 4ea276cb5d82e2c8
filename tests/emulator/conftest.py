"""Shared fixtures for tests that run the emulator as a real process.

``emulator_process`` starts ``dataverse-emulator serve`` once per test session (HTTPS from its private
CA, free port, a small generated sample org) and stops it at the end; ``emulator_credentials`` hands a
test the contents of the ``credentials.json`` it wrote. ``start_emulator`` does the same for any other
command line, e.g. a test that needs its own org or options.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import httpx
import orjson
import pytest

#: Options of the session emulator: one sample org, ``contoso``, with 5 accounts (25 contacts, ...).
SAMPLE_SERVE_ARGS: tuple[str, ...] = (
    "--tls",
    "--port",
    "0",
    "--sample-org",
    "contoso",
    "--scale",
    "5",
    "--seed",
    "1",
)
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmulatorCredentials:
    """What ``serve`` writes to ``DATA_DIR/credentials.json``."""

    base_url: str
    web_api: str
    tenant_id: str
    authority: str
    token_endpoint: str
    client_id: str
    client_secret: str
    scope: str
    admin_key: str
    ca_path: Path | None
    orgs: tuple[Mapping[str, object], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> EmulatorCredentials:
        ca_path = data.get("ca_path")
        orgs = data.get("orgs") or []
        assert isinstance(orgs, list), f"credentials.json: 'orgs' is not a list: {orgs!r}"
        return cls(
            base_url=str(data["base_url"]),
            web_api=str(data["web_api"]),
            tenant_id=str(data["tenant_id"]),
            authority=str(data["authority"]),
            token_endpoint=str(data["token_endpoint"]),
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            scope=str(data["scope"]),
            admin_key=str(data["admin_key"]),
            ca_path=Path(str(ca_path)) if ca_path else None,
            orgs=tuple(MappingProxyType(dict(org)) for org in orgs),
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What to pass as httpx ``verify=``: a context trusting the private CA (or default checks)."""
        return ssl.create_default_context(cafile=str(self.ca_path)) if self.ca_path else True


@dataclass(frozen=True)
class RunningEmulator:
    """An emulator process started by :func:`start_emulator`."""

    data_dir: Path
    credentials: EmulatorCredentials
    pid: int


def emulator_command() -> list[str]:
    """The ``dataverse-emulator`` console script next to this interpreter.

    Without an installed script (the project not installed, only ``PYTHONPATH=src``), the same entry
    point run by this interpreter.
    """
    bin_dir = Path(sys.executable).parent
    for name in ("dataverse-emulator", "dataverse-emulator.exe"):
        script = bin_dir / name
        if script.is_file():
            return [str(script)]
    return [sys.executable, "-c", "from dataverse_emulator.cli import main; main()"]


def _child_environment() -> dict[str, str]:
    """This process's environment, with the directory ``dataverse_emulator`` is imported from on the path."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("dataverse_emulator")
    if spec is not None and spec.submodule_search_locations:
        package_root = str(Path(next(iter(spec.submodule_search_locations))).parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def _read_credentials(path: Path) -> EmulatorCredentials | None:
    """The credentials file once it is completely written (it is not written atomically)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or "base_url" not in data:
        return None
    return EmulatorCredentials.from_json(data)


def _answers(credentials: EmulatorCredentials) -> bool:
    """Whether the server answers HTTP(S) at its base URL (any status will do)."""
    try:
        httpx.get(f"{credentials.base_url}/", verify=credentials.ssl_context(), timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def start_emulator(
    data_dir: Path, serve_args: Sequence[str] = SAMPLE_SERVE_ARGS, *, timeout_s: float = START_TIMEOUT_S
) -> Iterator[RunningEmulator]:
    """Run ``dataverse-emulator serve --data-dir DATA_DIR SERVE_ARGS`` until the block ends.

    Ready means ``credentials.json`` is written and the port answers; the process dying first, or the
    deadline passing, fails the test with the process's output.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    credentials_path = data_dir / "credentials.json"
    credentials_path.unlink(missing_ok=True)
    stdout_path = data_dir.parent / f"{data_dir.name}.stdout.log"
    stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"
    command = [*emulator_command(), "serve", "--data-dir", str(data_dir), *serve_args]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=_child_environment()
        )
    try:
        deadline = time.monotonic() + timeout_s
        credentials: EmulatorCredentials | None = None
        while True:
            code = process.poll()
            if code is not None:
                pytest.fail(
                    f"the emulator exited with status {code} before it was ready: {' '.join(command)}\n"
                    f"--- stderr ---\n{_tail(stderr_path)}\n--- stdout ---\n{_tail(stdout_path)}",
                    pytrace=False,
                )
            if credentials is None:
                credentials = _read_credentials(credentials_path)
            if credentials is not None and _answers(credentials):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the emulator was not ready after {timeout_s:g} s "
                    f"(credentials.json {'written' if credentials else 'missing'}): {' '.join(command)}\n"
                    f"--- stderr ---\n{_tail(stderr_path)}\n--- stdout ---\n{_tail(stdout_path)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield RunningEmulator(data_dir=data_dir, credentials=credentials, pid=process.pid)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator for the whole session: HTTPS, free port, sample org ``contoso`` (scale 5, seed 1).

    Tests share it, so a test that writes should create its own rows and clean them up.
    """
    with start_emulator(tmp_path_factory.mktemp("emulator") / "data") as running:
        yield running


@pytest.fixture
def emulator_credentials(emulator_process: RunningEmulator) -> EmulatorCredentials:
    """The session emulator's ``credentials.json``."""
    return emulator_process.credentials


@pytest.fixture
def emulator_trusted_ca(emulator_credentials: EmulatorCredentials, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make requests, azure-core and httpx/aiohttp trust (only) the emulator's CA for this test."""
    ca_path = emulator_credentials.ca_path
    if ca_path is None:
        pytest.fail("the emulator serves without TLS: no CA to trust")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_path))
    return ca_path


def fetch_app_token(credentials: EmulatorCredentials, scope: str | None = None) -> str:
    """An app-only access token from the emulator's v2 token endpoint (OAuth2 client credentials)."""
    response = httpx.post(
        credentials.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "scope": scope or credentials.scope,
        },
        verify=credentials.ssl_context(),
        timeout=10.0,
    )
    assert response.status_code == 200, f"token request failed: {response.status_code} {response.text}"
    return str(response.json()["access_token"])


@pytest.fixture
def emulator_http(emulator_credentials: EmulatorCredentials) -> Iterator[httpx.Client]:
    """A raw httpx client for the default org's Web API root (``web_api``), with an app token."""
    token = fetch_app_token(emulator_credentials)
    with httpx.Client(
        base_url=emulator_credentials.web_api,
        verify=emulator_credentials.ssl_context(),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30.0,
    ) as client:
        yield client
