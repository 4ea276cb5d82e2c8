"""Faults only a real socket shows: timeouts, a stalled body, a dropped connection (webapi §6.4, R8).

The emulator is served by uvicorn on a loopback port over plain HTTP (allowed for loopback hosts only,
R10), with a static token minted for that origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from test_source_support import FakeTime

from dataexport.source.dataverse import DataverseSource, SourceConfig, StaticToken
from dataexport.source.dataverse.classify import Failure
from dataexport.source.dataverse.transport import ExchangeFailed, Transport
from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator
from dataverse_emulator.settings import Settings
from support.servers import serve_on_loopback


@dataclass
class Served:
    url: str
    admin: httpx.Client
    fake: FakeTime

    def faults(self, *rules: dict[str, Any]) -> None:
        response = self.admin.post("/_emulator/faults", json={"seed": 1, "rules": list(rules)})
        assert response.status_code < 300, response.text

    def source(self, **settings: Any) -> DataverseSource:
        token = self.admin.post("/_emulator/tokens", json={"aud": self.url}).json()["access_token"]
        config = SourceConfig.model_validate(
            {"org_url": self.url, "auth": StaticToken(access_token=token), "timeouts": {"read": 0.4}, **settings}
        )
        fake = self.fake
        return DataverseSource(
            config, clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall_clock, jitter=fake.jitter
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    emulator = Emulator(Settings(data_dir=tmp_path_factory.mktemp("socket")))
    with serve_on_loopback(create_app(emulator.settings, emulator)) as port:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as admin:
            created = admin.post("/_emulator/orgs", json={"unique_name": "contoso", "scale": 2, "seed": 1})
            assert created.status_code == 201, created.text
            yield Served(url, admin, FakeTime())


@pytest.fixture(autouse=True)
def clean(served: Served) -> Iterator[None]:
    served.fake.sleeps.clear()
    yield
    served.admin.delete("/_emulator/faults")


def test_a_slow_answer_times_out_and_is_retried(served: Served) -> None:
    source = served.source()
    schema = source.entity_schema("account")
    served.faults({"match": {"entity_set": "accounts"}, "action": {"delay_ms": 1500}, "times": 1})
    assert len(source.read_page(schema).upserts) == 2
    assert served.fake.sleeps == [1.0]


def test_a_body_stalled_midway_times_out_and_is_retried(served: Served) -> None:
    source = served.source()
    schema = source.entity_schema("account")
    stall = {"stall_after_bytes": 300, "delay_ms": 1500}
    served.faults({"match": {"entity_set": "accounts"}, "action": stall, "times": 1})
    assert len(source.read_page(schema).upserts) == 2
    assert served.fake.sleeps == [1.0]


@pytest.mark.parametrize(
    ("action", "failure"),
    [({"reset": "mid_body"}, Failure.TRUNCATED), ({"malform": "truncate", "at_bytes": 64}, Failure.TRUNCATED)],
)
def test_a_connection_dropped_mid_body_is_a_truncated_body(
    served: Served, action: dict[str, Any], failure: Failure
) -> None:
    served.faults({"match": {"entity_set": "accounts"}, "action": action, "times": 1})
    token = served.admin.post("/_emulator/tokens", json={"aud": served.url}).json()["access_token"]
    with httpx.Client(timeout=5) as client:
        transport = Transport(client)
        with pytest.raises(ExchangeFailed) as caught:
            transport.get(f"{served.url}/api/data/v9.2/accounts", [("Authorization", f"Bearer {token}")])
    assert caught.value.failure is failure


def test_a_refused_connection_is_a_reset() -> None:
    with httpx.Client(timeout=2) as client, pytest.raises(ExchangeFailed) as caught:
        Transport(client).get("http://127.0.0.1:9/api/data/v9.2/", [])
    assert caught.value.failure is Failure.RESET
