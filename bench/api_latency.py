"""Latency of the REST API of ``dataexport serve`` while a profile syncs, against ``/healthz`` as the baseline.

Starts a real emulator (HTTPS, sample organization) and the real service (``build_runtime`` from a configuration
written like ``dataexport demo`` writes it, uvicorn on a free loopback port, in a thread of this process), creates
and activates a profile through the API (timing the activation, whose §5 pre-flight reads Dataverse and the
destination), waits until every table is in ``Delta``, then calls each route ``--requests`` times in a row over
one keep-alive connection and prints p50/p90/p99 and requests/s per route. ``/healthz`` (no token, no database)
is the floor in the same run; the authenticated routes add token validation (JWKS cached), the cached System
Administrator check and their own work. ``POST profiles/validate`` runs every check and is called
``--requests / 10`` times.

    .venv/bin/python bench/api_latency.py                 # 300 requests per route
    .venv/bin/python bench/api_latency.py --requests 100  # quick
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from dataexport.cli.demo import DEFAULT_DESTINATION, demo_profile_body, prepare_service
from dataexport.cli.emulator_process import EmulatorInfo, EmulatorProcess
from dataexport.cli.serve import RunningService
from dataexport.runtime import API_AUDIENCE, build_runtime
from harness import RssSampler, percentile, product_revision

PROFILES = "/crm/exporter/profiles"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(call: Callable[[], httpx.Response], count: int) -> list[float]:
    """Milliseconds of ``count`` calls in a row; each must succeed."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, f"{response.request.url}: {response.status_code} {response.text}"
    return samples


def report(name: str, samples: list[float], baseline: float | None) -> None:
    p50, p90, p99 = (percentile(samples, fraction) for fraction in (0.5, 0.9, 0.99))
    rate = 1000 * len(samples) / sum(samples)
    versus = f"  {p50 / baseline:5.1f}x healthz p50" if baseline else ""
    print(f"  {name:<44} {p50:8.1f} {p90:8.1f} {p99:8.1f} {rate:9.0f}{versus}")


def wait_for_delta(api: httpx.Client, profile_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(f"{PROFILES}/{profile_id}", params={"status": "true"}).json()["Status"]
        states = {subject["State"] for subject in status["Entities"] + status["Relationships"]}
        if states == {"Delta"}:
            return
        assert "Failed" not in states, status
        time.sleep(0.5)
    raise TimeoutError("the initial sync did not finish")


def run(info: EmulatorInfo, work: Path, requests: int) -> None:
    port = free_port()
    runtime = build_runtime(prepare_service(work, info, DEFAULT_DESTINATION, port))
    service = RunningService(runtime)
    server = threading.Thread(target=service.run, daemon=True)
    server.start()
    token = info.mint_token(user="admin", audience=API_AUDIENCE)
    headers = {"Authorization": f"Bearer {token}"}
    sampler = RssSampler(os.getpid())
    sampler.__enter__()
    try:
        with httpx.Client(base_url=service.url, headers=headers, timeout=120) as api:
            while not service.server.started:
                time.sleep(0.05)
            organization = api.get("/crm/exporter/metadata/organizations").json()[0]["OrganizationId"]
            query = {"organizationId": organization}
            api.post("/crm/exporter/metadata/acceptprivacyterms", params=query).raise_for_status()
            created = api.post(PROFILES, params=query, json=demo_profile_body())
            created.raise_for_status()
            profile_id = created.json()["Id"]
            started = time.perf_counter()
            api.post(f"{PROFILES}/{profile_id}/activate").raise_for_status()
            activation = time.perf_counter() - started
            wait_for_delta(api, profile_id)
            print(f"activation (pre-flight included): {activation * 1000:.0f} ms; initial sync done")
            print(f"  {'route':<44} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'req/s':>9}")
            baseline = timed(lambda: api.get("/healthz"), requests)
            report("GET /healthz (baseline)", baseline, None)
            floor = percentile(baseline, 0.5)
            routes: list[tuple[str, Callable[[], httpx.Response], int]] = [
                ("GET metadata/organizations", lambda: api.get("/crm/exporter/metadata/organizations"), requests),
                ("GET metadata/entities", lambda: api.get("/crm/exporter/metadata/entities", params=query), requests),
                ("GET profiles", lambda: api.get(PROFILES, params=query), requests),
                (
                    "GET profiles/{id}?status=true",
                    lambda: api.get(f"{PROFILES}/{profile_id}", params={"status": "true"}),
                    requests,
                ),
                ("GET profiles/{id}/failures", lambda: api.get(f"{PROFILES}/{profile_id}/failures"), requests),
                (
                    "POST profiles/validate (every check)",
                    lambda: api.post(f"{PROFILES}/validate", params=query, json={**demo_profile_body(), "Name": "v"}),
                    max(1, requests // 10),
                ),
            ]
            for name, call, count in routes:
                report(name, timed(call, count), floor)
            api.post(f"{PROFILES}/{profile_id}/deactivate").raise_for_status()
    finally:
        service.stop()
        server.join(timeout=60)
        sampler.__exit__()
    print(f"peak RSS of this process (service + sync + client): {sampler.peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="calls per route (validate: a tenth)")
    parser.add_argument("--scale", type=int, default=50, help="accounts in the sample organization")
    args = parser.parse_args()
    print(f"dataexport {product_revision()}: REST API latency, {args.requests} calls per route, one connection")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as temp:
        work = Path(temp)
        with EmulatorProcess(work / "emulator", port=0, org="contoso", scale=args.scale, seed=1) as info:
            run(info, work, args.requests)


if __name__ == "__main__":
    main()
