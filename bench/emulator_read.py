"""Emulator read throughput: baseline and delta reads from a sequential client, and the emulator's peak RSS.

Starts a real emulator process per size (plain HTTP on loopback by default), reads the table's change-
tracking baseline with 5,000-row pages, applies N updates through the admin workload endpoint, then
reads the delta. Prints rows/s and the emulator's peak RSS for each size; the smallest size is the
baseline the larger ones are compared against (memory must not grow with table size).

    .venv/bin/python bench/emulator_read.py                       # 10,000 and 100,000 rows, 10,000 changes
    .venv/bin/python bench/emulator_read.py --sizes 20000 --changes 2000 --tls
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psutil

SCRIPTS = Path(sys.executable).parent
ANNOTATIONS = (
    'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"'
)


class RssSampler:
    """Samples a process's resident set size every 50 ms and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def start_emulator(
    data_dir: Path, table: str, rows: int, tls: bool
) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    command = [
        str(SCRIPTS / "dataverse-emulator"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        "0",
        "--sample-org",
        "bench",
        "--scale",
        "1",
        "--seed",
        "1",
        "--count",
        f"{table}={rows}",
        *(["--tls"] if tls else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    credentials = data_dir / "credentials.json"
    deadline = time.monotonic() + 600
    while not credentials.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"emulator did not start: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.2)
    time.sleep(0.5)
    return process, orjson.loads(credentials.read_bytes())


def client_for(credentials: dict[str, object]) -> httpx.Client:
    verify: str | bool = str(credentials["ca_path"]) if credentials.get("ca_path") else True
    client = httpx.Client(verify=verify, timeout=120)
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "scope": credentials["scope"],
    }
    token = client.post(str(credentials["token_endpoint"]), data=form).raise_for_status().json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def read_sequence(client: httpx.Client, url: str, annotate: bool) -> tuple[int, float, str]:
    """Follow a tracked sequence to its deltaLink; returns rows, seconds and the deltaLink.

    With ``annotate`` it sends the replication client's request (spec R1): tracking, page size and
    both annotations (formatted values and lookup logical names).
    """
    headers = [("Prefer", "odata.track-changes, odata.maxpagesize=5000")]
    if annotate:
        headers.append(("Prefer", ANNOTATIONS))
    rows, started = 0, time.perf_counter()
    while True:
        body = orjson.loads(client.get(url, headers=headers).raise_for_status().content)
        rows += len(body["value"])
        if "@odata.nextLink" not in body:
            return rows, time.perf_counter() - started, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def run_size(table: str, rows: int, changes: int, tls: bool, annotate: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # Generate in a first process, measure in a second: generation's memory is not the reader's.
        process, _ = start_emulator(Path(tmp), table, rows, tls)
        process.terminate()
        process.wait(timeout=30)
        (Path(tmp) / "credentials.json").unlink()
        process, credentials = start_emulator(Path(tmp), table, rows, tls)
        client = client_for(credentials)
        try:
            root = str(credentials["web_api"])
            entity_set = client.get(f"{root}EntityDefinitions(LogicalName='{table}')?$select=EntitySetName").json()[
                "EntitySetName"
            ]
            columns = len(client.get(f"{root}{entity_set}?$top=1").json()["value"][0]) - 1
            with RssSampler(process.pid) as sampler:
                baseline_rows, baseline_s, delta_link = read_sequence(client, f"{root}{entity_set}", annotate)
            baseline_rss = sampler.peak
            admin = {"X-Emulator-Admin-Key": str(credentials["admin_key"])}
            workload = {"seed": 7, "updates": changes, "tables": [table]}
            base = str(credentials["base_url"])
            client.post(
                f"{base}/_emulator/orgs/bench/workload", json=workload, headers=admin, timeout=600
            ).raise_for_status()
            with RssSampler(process.pid) as sampler:
                delta_rows, delta_s, _ = read_sequence(client, delta_link, annotate)
            return {
                "rows": baseline_rows,
                "columns": columns,
                "baseline_rows_s": baseline_rows / baseline_s,
                "baseline_rss_mb": baseline_rss / 2**20,
                "delta_rows": delta_rows,
                "delta_rows_s": delta_rows / delta_s if delta_s else 0.0,
                "delta_rss_mb": sampler.peak / 2**20,
            }
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="new_widget", help="new_widget has 40 row columns of every type")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts; the first is the baseline")
    parser.add_argument("--changes", type=int, default=10000)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--annotations", action="store_true", help="ask for both annotations, as the replicator does")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"emulator read benchmark: table={args.table} changes={args.changes} tls={args.tls} "
        f"annotations={args.annotations} cpus={os.cpu_count()}"
    )
    results = [run_size(args.table, size, min(args.changes, size), args.tls, args.annotations) for size in sizes]
    header = (
        f"{'rows':>8} {'cols':>5} {'baseline rows/s':>16} {'peak RSS MB':>12} {'delta rows':>10} "
        f"{'delta rows/s':>13} {'peak RSS MB':>12}"
    )
    print(header)
    for r in results:
        print(
            f"{r['rows']:>8.0f} {r['columns']:>5.0f} {r['baseline_rows_s']:>16,.0f} {r['baseline_rss_mb']:>12.1f} "
            f"{r['delta_rows']:>10.0f} {r['delta_rows_s']:>13,.0f} {r['delta_rss_mb']:>12.1f}"
        )
    first, last = results[0], results[-1]
    growth = last["baseline_rss_mb"] / first["baseline_rss_mb"] - 1
    print(
        f"peak RSS growth from {first['rows']:.0f} to {last['rows']:.0f} rows: {growth:+.1%} "
        f"(goal: flat); slowest baseline: {min(r['baseline_rows_s'] for r in results):,.0f} rows/s (goal: >= 20,000)"
    )


if __name__ == "__main__":
    main()
