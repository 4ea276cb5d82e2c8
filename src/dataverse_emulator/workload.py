"""A write workload through the public Web API, recording when each change committed.

Each change is one request (``POST``, ``PATCH`` or ``DELETE``) sent at a fixed rate; the answer's time
is the change's commit time (the emulator commits before it answers), and creates and updates ask
for ``return=representation`` so the record's new ``versionnumber`` is recorded too. The JSON-lines
output feeds replication-lag measurements: lag = destination commit time - ``committed_at``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import typer


@dataclass(frozen=True)
class TableTarget:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str


@dataclass(frozen=True)
class ChangeRecord:
    """One committed change."""

    seq: int
    op: str
    table: str
    id: str
    version: int | None
    sent_at: float
    committed_at: float


class WebApiClient:
    """Just enough of a Web API client for workloads: client-credentials token, JSON requests."""

    def __init__(self, credentials: dict[str, object], org_url: str | None = None) -> None:
        self.base = (org_url or str(credentials["base_url"])).rstrip("/")
        verify: str | bool = str(credentials["ca_path"]) if credentials.get("ca_path") else True
        self.http = httpx.Client(verify=verify, timeout=30.0)
        form = {
            "grant_type": "client_credentials",
            "client_id": str(credentials["client_id"]),
            "client_secret": str(credentials["client_secret"]),
            "scope": f"{self.base}/.default",
        }
        answer = self.http.post(str(credentials["token_endpoint"]), data=form)
        answer.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        self.root = f"{self.base}/api/data/v9.2/"

    def target(self, logical_name: str) -> TableTarget:
        url = f"{self.root}EntityDefinitions(LogicalName='{logical_name}')"
        select = "?$select=EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"
        body = self.http.get(url + select).raise_for_status().json()
        return TableTarget(
            logical_name, body["EntitySetName"], body["PrimaryIdAttribute"], body["PrimaryNameAttribute"]
        )

    def ids(self, target: TableTarget, limit: int) -> list[str]:
        url = f"{self.root}{target.entity_set}?$select={target.primary_id}&$top={limit}"
        return [row[target.primary_id] for row in self.http.get(url).raise_for_status().json()["value"]]


def _version_of(response: httpx.Response) -> int | None:
    if response.status_code not in (200, 201):
        return None
    etag = str(response.json().get("@odata.etag", ""))
    digits = "".join(c for c in etag if c.isdigit())
    return int(digits) if digits else None


def run_workload(
    client: WebApiClient,
    tables: list[str],
    *,
    rate: float,
    duration: float,
    seed: int,
    mix: tuple[float, float, float],
) -> Iterator[ChangeRecord]:
    """Yield one record per committed change; paced at ``rate`` changes per second for ``duration`` seconds."""
    rng = random.Random(seed)
    targets = [client.target(t) for t in tables]
    pools = {t.logical_name: client.ids(t, 500) for t in targets}
    representation = {"Prefer": "return=representation"}
    start = time.monotonic()
    total = int(rate * duration)
    for seq in range(total):
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        target = rng.choice(targets)
        pool = pools[target.logical_name]
        op = rng.choices(("create", "update", "delete"), weights=mix)[0] if pool else "create"
        sent = time.time()
        if op == "create":
            record_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            body = {
                target.primary_id: record_id,
                target.primary_name: f"Workload {seq} {rng.randrange(10**6)}",
            }
            response = client.http.post(f"{client.root}{target.entity_set}", json=body, headers=representation)
            pool.append(record_id)
        elif op == "update":
            record_id = rng.choice(pool)
            body = {target.primary_name: f"Updated {seq} {rng.randrange(10**6)}"}
            url = f"{client.root}{target.entity_set}({record_id})"
            response = client.http.patch(url, json=body, headers={**representation, "If-Match": "*"})
        else:
            record_id = pool.pop(rng.randrange(len(pool)))
            response = client.http.delete(f"{client.root}{target.entity_set}({record_id})")
        response.raise_for_status()
        yield ChangeRecord(seq, op, target.logical_name, record_id, _version_of(response), sent, time.time())


def run_workload_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The emulator's data directory (credentials.json).")],
    rate: Annotated[float, typer.Option(help="Changes per second.")] = 10.0,
    duration: Annotated[float, typer.Option(help="Seconds to run.")] = 60.0,
    tables: Annotated[str, typer.Option(help="Comma-separated table logical names.")] = "account,contact",
    seed: Annotated[int, typer.Option(help="Seed of the choices and values.")] = 1,
    mix: Annotated[str, typer.Option(help="Weights of create,update,delete.")] = "0.4,0.4,0.2",
    org: Annotated[str | None, typer.Option(help="Organization URL name (default: the first).")] = None,
    out: Annotated[Path | None, typer.Option(help="JSON-lines file of committed changes (default: stdout).")] = None,
) -> None:
    """Create, update and delete records through the Web API at a steady rate, recording commit times."""
    credentials_path = data_dir / "credentials.json"
    if not credentials_path.exists():
        raise typer.BadParameter(f"{credentials_path} not found: start the emulator with this --data-dir first")
    weights = tuple(float(w) for w in mix.split(","))
    if len(weights) != 3 or any(w < 0 for w in weights) or not any(weights):
        raise typer.BadParameter("use three non-negative weights, e.g. 0.4,0.4,0.2", param_hint="--mix")
    if rate <= 0 or duration <= 0:
        raise typer.BadParameter("--rate and --duration must be positive")
    credentials = orjson.loads(credentials_path.read_bytes())
    org_url = f"{credentials['base_url']}/{org}" if org else None
    client = WebApiClient(credentials, org_url)
    sink = out.open("wb") if out else None
    try:
        records = run_workload(
            client,
            [t.strip() for t in tables.split(",") if t.strip()],
            rate=rate,
            duration=duration,
            seed=seed,
            mix=(weights[0], weights[1], weights[2]),
        )
        for record in records:
            line = orjson.dumps(asdict(record)) + b"\n"
            if sink:
                sink.write(line)
                sink.flush()
            else:
                typer.echo(line.decode().rstrip())
    finally:
        if sink:
            sink.close()
