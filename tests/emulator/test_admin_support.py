"""Shared pieces for the admin-surface tests (no tests here).

:func:`admin_env` builds an emulator in a temporary directory, serves it through Starlette's
``TestClient`` (whose client host is ``testclient``, not loopback, so every admin call carries the
admin key), and generates the org ``contoso`` through ``POST /_emulator/orgs``. :func:`serve_http`
runs any ASGI app on a real loopback socket, for faults that must close a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator
from dataverse_emulator.settings import Settings
from dataverse_emulator.storage import OrgStore
from support.servers import serve_on_loopback

ROOT = "/api/data/v9.2/"
ORG = "contoso"


@dataclass
class AdminEnv:
    emulator: Emulator
    client: TestClient

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"X-Emulator-Admin-Key": self.emulator.persistent.admin_key}

    @property
    def store(self) -> OrgStore:
        store = self.emulator.org(ORG)
        assert store is not None
        return store

    def admin(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """An admin call (``path`` relative to ``/_emulator/``) with the admin key."""
        return self.client.request(
            method,
            f"/_emulator/{path}",
            json=body,
            headers={**self.admin_headers, **kwargs.pop("headers", {})},
            **kwargs,
        )

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """An admin call that must succeed; its JSON (``None`` for 204)."""
        response = self.admin(method, path, body)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return None if response.status_code == 204 else response.json()

    def token(self, **body: Any) -> str:
        return str(self.ok("POST", "tokens", body)["access_token"])

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """A Web API call on the default org (``path`` relative to ``ROOT`` unless absolute)."""
        headers = {"Authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        url = path if path.startswith(("http", "/")) else ROOT + path
        return self.client.request(method, url, headers=headers, **kwargs)

    def baseline(self, entity_set: str, *, token: str | None = None, page_size: int = 5000) -> tuple[list[Any], str]:
        """Page through a change-tracking baseline: ``(rows, deltaLink)``."""
        token = token or self.token()
        prefer = {"Prefer": f"odata.track-changes, odata.maxpagesize={page_size}"}
        response = self.api("GET", entity_set, token=token, headers=prefer)
        rows: list[Any] = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            rows += body["value"]
            if "@odata.deltaLink" in body:
                return rows, str(body["@odata.deltaLink"])
            response = self.api("GET", body["@odata.nextLink"], token=token, headers=prefer)


@contextmanager
def admin_env(data_dir: Path, *, scale: int = 3, seed: int = 1, **org: Any) -> Iterator[AdminEnv]:
    """An emulator with the org ``contoso`` (generated through the admin surface)."""
    emulator = Emulator(Settings(data_dir=data_dir))
    with TestClient(create_app(emulator.settings, emulator)) as client:
        env = AdminEnv(emulator, client)
        env.ok("POST", "orgs", {"unique_name": ORG, "scale": scale, "seed": seed, **org})
        yield env


def serve_http(app: ASGIApp) -> AbstractContextManager[int]:
    """Serve ``app`` over plain HTTP on a free loopback port (yielded) until the block ends."""
    return serve_on_loopback(app)
