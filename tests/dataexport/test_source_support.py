"""Shared pieces for the source tests (no tests here).

:func:`emulator_env` runs a fresh emulator in-process behind Starlette's ``TestClient`` at
``https://localhost`` (no socket; the client host is not loopback, so admin calls carry the admin key), with
the org ``contoso`` generated. :class:`FakeTime` is a clock that only ``sleep`` moves, recording every
wait, so throttling and backoff are asserted without waiting. :func:`support.servers.serve_on_loopback` runs an ASGI app
on a real loopback socket for the faults only a socket shows (timeouts, stalls).
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from dataexport.source.dataverse import ClientCredentials, DataverseSource, SourceConfig
from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator
from dataverse_emulator.settings import Settings
from dataverse_emulator.storage import OrgStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORG = "contoso"
BASE = "https://localhost"
START = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@dataclass
class FakeTime:
    """A monotonic clock moved by :meth:`sleep` only; ``on_sleep`` lets a test move other clocks too."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[float], None] | None = None

    def clock(self) -> float:
        return self.now

    def wall_clock(self) -> datetime:
        return START + timedelta(seconds=self.now)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    def jitter(self) -> float:
        """The largest jitter (full delays), so waits are predictable."""
        return 1.0


@dataclass
class EmulatorEnv:
    emulator: Emulator
    client: TestClient

    @property
    def store(self) -> OrgStore:
        store = self.emulator.org(ORG)
        assert store is not None
        return store

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """An admin call that must succeed; its JSON (None for 204)."""
        headers = {"X-Emulator-Admin-Key": self.emulator.persistent.admin_key}
        response = self.client.request(method, f"/_emulator/{path}", json=body, headers=headers)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return None if response.status_code == 204 else response.json()

    def faults(self, *rules: dict[str, Any], seed: int = 7) -> None:
        self.admin("POST", "faults", {"seed": seed, "rules": list(rules)})

    def credentials(self, secret: str | None = None) -> ClientCredentials:
        identity = self.emulator.persistent
        return ClientCredentials(
            tenant_id=identity.tenant_id,
            client_id=identity.client_id,
            client_secret=secret or identity.client_secret,
            authority_host=BASE,
        )

    def config(self, **settings: Any) -> SourceConfig:
        """A config for the in-process org; ``settings`` override fields (``pages={"size": 5}``...)."""
        values: dict[str, Any] = {"org_url": BASE, "auth": self.credentials()}
        values.update(settings)
        return SourceConfig.model_validate(values)

    def source(self, fake: FakeTime | None = None, **settings: Any) -> DataverseSource:
        fake = fake or FakeTime()
        return DataverseSource(
            self.config(**settings),
            http=self.client,
            clock=fake.clock,
            sleep=fake.sleep,
            wall_clock=fake.wall_clock,
            jitter=fake.jitter,
        )

    def requests(self) -> list[dict[str, Any]]:
        """The emulator's request log (Web API requests only)."""
        entries = self.admin("GET", "requests")
        items = entries["entries"] if isinstance(entries, dict) else entries
        return [entry for entry in items if "/api/data/" in str(entry.get("path", ""))]


@contextmanager
def emulator_env(data_dir: Path, *, scale: int = 3, seed: int = 1, **org: Any) -> Iterator[EmulatorEnv]:
    """A fresh in-process emulator with the org ``contoso``."""
    emulator = Emulator(Settings(data_dir=data_dir))
    with TestClient(create_app(emulator.settings, emulator), base_url=BASE) as client:
        env = EmulatorEnv(emulator, client)
        env.admin("POST", "orgs", {"unique_name": ORG, "scale": scale, "seed": seed, **org})
        yield env


def read_all(source: DataverseSource, schema: Any, link: Any = None) -> tuple[list[Any], Any]:
    """Every page of a sequence from ``link``: (pages, the final link)."""
    pages = []
    while True:
        page = source.read_page(schema, link)
        pages.append(page)
        if page.is_last:
            return pages, page.following
        link = page.following


def no_http() -> httpx.Client:
    """A client whose every request fails (for tests that must not reach the network)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    return httpx.Client(transport=httpx.MockTransport(refuse))


def emulator_process_module() -> Any:
    """``tests/emulator/conftest.py`` as a module: its ``start_emulator`` runs a real emulator process."""
    path = Path(__file__).resolve().parents[1] / "emulator" / "conftest.py"
    spec = importlib.util.spec_from_file_location("source_tests_emulator_process", path)
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
