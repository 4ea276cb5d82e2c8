"""Initial sync throughput: read only, write only and the full sync of one entity, and the sync's peak RSS.

For each size, starts a real emulator (HTTPS from its private CA: the product's token client, MSAL, insists
on an https authority) whose organization holds that many rows of the table (generated before anything is
measured), then runs three phases, each in a fresh child process so that one phase's memory is not
counted in another's, while the parent samples the child's RSS every 50 ms (``maxrss``: the kernel's
figure, a cross-check):

(a) read only: the product's ``DataverseSource.read_page`` from the baseline start to the deltaLink, exactly
    as the engine reads (change tracking, 5,000-row pages, both annotations, rows parsed and mapped), rows
    then discarded. The raw rows are also saved to a JSON-lines file for (b), outside the timed calls.
(b) write only: the rows saved by (a), mapped again (not timed), written into a fresh SQLite destination
    with ``SqlDestination.apply_upserts`` in batches of the engine's batch size (only those calls timed).
(c) full sync: ``ProfileRunner.run_once()`` of a profile selecting only the table into a fresh SQLite
    destination and control database, built like ``dataexport sync`` builds it (``build_runtime``).

A second table says where the time goes: the child's CPU time, the emulator's CPU time and serving time
(from its request log), and the wall time spent inside product calls (wrapped by the benchmark): the HTTP
exchange, JSON decoding, page validation with row mapping, ``apply_upserts``, tombstone lookups and
checkpoints.

Goals: (c) takes at most 1.2 x the slower of (a) and (b) (the reader thread overlaps reading and
writing); the peak RSS of (c) at the largest size is within 20 % of the figure at the smallest.

    .venv/bin/python bench/initial_sync.py                    # account, 100,000 and 400,000 rows
    .venv/bin/python bench/initial_sync.py --sizes 20000      # quick
    .venv/bin/python bench/initial_sync.py --repeat 2         # best of two runs per phase (a noisy machine)
    .venv/bin/python bench/initial_sync.py --sizes 20000 --cprofile 25   # profile (a) and (b) (slows them)
    .venv/bin/python bench/initial_sync.py --sizes 100000 --switch-interval 1   # GIL switch experiment
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from dataexport.cli.bootstrap import build_runtime, build_source
from dataexport.config.profile_file import load_profile_file
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.destination.sql.urls import absolute_sqlite_url
from dataexport.domain.changes import Delete, Upsert, row_to_values
from dataexport.engine import EngineSettings
from dataexport.secrets.local import LocalSecretStore
from dataexport.source.dataverse import client as source_client
from dataexport.source.dataverse.client import DataverseSource
from dataexport.source.dataverse.responses import parse_json
from harness import Emulator, RssSampler, product_revision, start_emulator, write_profile

PHASES = ("read", "write", "full")
LABELS = {"read": "(a) read only", "write": "(b) write only", "full": "(c) full sync"}
Result = dict[str, Any]


# ----- child process: one phase ----------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS so far, from the kernel (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class BusyTimes:
    """Seconds spent inside chosen methods, per label, over all threads (wall time, GIL waits included)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[label] += time.perf_counter() - started

        setattr(owner, attribute, timed)


def time_source_internals(busy: BusyTimes, source: DataverseSource) -> None:
    """Split ``read_page`` into the HTTP exchange, the JSON decoding and the page validation with row mapping.

    Benchmark instrumentation only: it reaches the source's transport and the module functions its page
    reader calls.
    """
    busy.wrap(source._transport, "get", "http")
    busy.wrap(source_client, "parse_json", "json")
    busy.wrap(source_client, "parse_page", "validate+map")


def cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_read(profile: Path, table: str, pages_file: Path) -> Result:
    loaded = load_profile_file(profile)
    source = build_source(loaded, LocalSecretStore(loaded.base_dir))
    try:
        schema = source.entity_schema(table)
        busy = BusyTimes()
        time_source_internals(busy, source)
        rows = pages = 0
        reading = 0.0
        page = None
        with pages_file.open("wb") as out:
            while page is None or not page.is_last:
                started = time.perf_counter()
                page = source.read_page(schema, page.following if page is not None else None)
                reading += time.perf_counter() - started
                rows, pages = rows + len(page.upserts), pages + 1
                rows_read = [dict(entry) for entry in page.entries if not isinstance(entry, Delete)]
                out.write(orjson.dumps(rows_read, default=float) + b"\n")
        return {
            "rows": rows,
            "pages": pages,
            "seconds": reading,
            "columns": len(schema.attributes),
            "entity_set": schema.entity_set_name,
            "busy": dict(busy.seconds),
        }
    finally:
        source.close()


def saved_pages(pages_file: Path) -> Iterator[list[dict[str, object]]]:
    """The raw rows of each saved page, parsed like the source parses a body (floats as ``Decimal``)."""
    with pages_file.open("rb") as lines:
        for line in lines:
            document = parse_json(line)
            assert isinstance(document, list)
            yield document


def phase_write(profile: Path, table: str, pages_file: Path) -> Result:
    loaded = load_profile_file(profile)
    source = build_source(loaded, LocalSecretStore(loaded.base_dir))
    try:
        schema = source.entity_schema(table)
    finally:
        source.close()
    engine = create_destination_engine(absolute_sqlite_url("sqlite:///replica.db", loaded.data_dir))
    destination = SqlDestination(engine)
    destination.ensure_entity_table(schema)
    settings = EngineSettings()
    batch_size = settings.bulk_batch_size if destination.capabilities.bulk_copy else settings.batch_size
    rows, writing, mapping = 0, 0.0, 0.0
    for raw_rows in saved_pages(pages_file):
        started = time.perf_counter()
        upserts: list[Upsert] = [row_to_values(schema, row) for row in raw_rows]
        mapping += time.perf_counter() - started
        for start in range(0, len(upserts), batch_size):
            started = time.perf_counter()
            result = destination.apply_upserts(schema, upserts[start : start + batch_size])
            writing += time.perf_counter() - started
            rows += len(result.applied)
    engine.dispose()
    return {"rows": rows, "seconds": writing, "map_seconds": mapping, "batch_size": batch_size}


def phase_full(profile: Path, table: str) -> Result:
    loaded = load_profile_file(profile)
    runtime = build_runtime(loaded, LocalSecretStore(loaded.base_dir))
    busy = BusyTimes()
    context = runtime.runner.context
    busy.wrap(context.source, "read_page", "read_page")
    time_source_internals(busy, runtime.source)
    busy.wrap(context.destination, "apply_upserts", "apply_upserts")
    busy.wrap(runtime.store.tombstones, "load", "tombstones.load")
    busy.wrap(runtime.store.states, "save_page_checkpoint", "checkpoint")
    try:
        started = time.perf_counter()
        summary = runtime.runner.run_once()
        seconds = time.perf_counter() - started
    finally:
        runtime.close()
    if not summary.ok:
        raise RuntimeError(f"the sync did not complete: {summary.outcomes}")
    return {
        "rows": summary.received,
        "seconds": seconds,
        "busy": dict(busy.seconds),
    }


def run_phase(args: argparse.Namespace) -> None:
    """The child's side: run one phase (optionally under cProfile) and print its result as JSON."""
    work, table, pages_file = Path(args.work), args.table, Path(args.pages)
    profile = work / "profile.toml"
    actions: dict[str, Callable[[], Result]] = {
        "read": lambda: phase_read(profile, table, pages_file),
        "write": lambda: phase_write(profile, table, pages_file),
        "full": lambda: phase_full(profile, table),
    }
    profiler = cProfile.Profile() if args.cprofile and args.phase != "full" else None
    if profiler:
        profiler.enable()
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    result = actions[args.phase]()
    result["cpu_s"], result["phase_s"] = cpu_seconds() - cpu_before, time.perf_counter() - wall_before
    if profiler:
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.cprofile)
        result["cprofile"] = text.getvalue()
    result["maxrss_mb"] = peak_rss_mb()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


# ----- parent: emulator, children, table -------------------------------------------------------------


def spawn_phase(phase: str, work: Path, table: str, pages_file: Path, options: list[str]) -> Result:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--work",
        str(work),
        "--table",
        table,
        "--pages",
        str(pages_file),
        *options,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work)
    with RssSampler(child.pid) as sampler:
        out, err = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"phase {phase} failed ({child.returncode}):\n{err.decode()[-4000:]}")
    result: Result = orjson.loads(out.splitlines()[-1])
    result["rss_mb"] = sampler.peak / 2**20
    return result


class EmulatorMeter:
    """The emulator's side of a phase: its CPU time, and the duration and bytes of the row requests it logged."""

    def __init__(self, emulator: Emulator) -> None:
        verify: str | bool = str(emulator.credentials["ca_path"]) if emulator.credentials.get("ca_path") else True
        self.http = httpx.Client(verify=verify, timeout=60)
        self.http.headers["X-Emulator-Admin-Key"] = str(emulator.credentials["admin_key"])
        self.url = f"{emulator.base_url}/_emulator/requests"
        self.process = psutil.Process(emulator.process.pid)

    def __enter__(self) -> EmulatorMeter:
        self.since = int(self.http.get(self.url, params={"limit": 1}).raise_for_status().json()["last_seq"])
        self.cpu_before = self._cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = self._cpu() - self.cpu_before
        self.entries = self.http.get(self.url, params={"since": self.since}).raise_for_status().json()["entries"]
        self.http.close()

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rows_requests(self, entity_set: str) -> tuple[float, float]:
        """Seconds (arrival to last byte) and megabytes of the GETs of ``entity_set``."""
        mine = [e for e in self.entries if e["method"] == "GET" and e["entity_set"] == entity_set]
        return sum(e["duration_ms"] for e in mine) / 1000, sum(e["bytes"] for e in mine) / 2**20


def run_size(table: str, rows: int, options: list[str], repeat: int) -> dict[str, Result]:
    """Every phase ``repeat`` times (a, b, c, a, b, c, ...); per phase the fastest run, with the highest peak RSS."""
    with tempfile.TemporaryDirectory(prefix="initial-sync-") as tmp:
        root = Path(tmp)
        emulator = start_emulator(root / "emulator", scale=1, counts={table: rows}, tls=True)
        try:
            print(f"  {rows:,} rows: emulator ready in {emulator.started_in:.1f} s (generation included)", flush=True)
            pages_file = root / "pages.jsonl"
            runs: dict[str, list[Result]] = defaultdict(list)
            for run in range(repeat):
                for phase in PHASES:
                    work = root / f"{phase}-{run}"
                    work.mkdir()
                    write_profile(work, emulator, [table])
                    with EmulatorMeter(emulator) as meter:
                        result = spawn_phase(phase, work, table, pages_file, options)
                    runs[phase].append(result)
                    result["emulator_cpu_s"] = meter.cpu
                    result["server_s"], result["mb"] = meter.rows_requests(runs["read"][0]["entity_set"])
                    print(
                        f"  {rows:,} rows: {LABELS[phase]}: {result['rows']:,} rows in {result['seconds']:.1f} s, "
                        f"peak RSS {result['rss_mb']:.0f} MB; load average {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
                    if "cprofile" in result:
                        print(result["cprofile"], flush=True)
            return {phase: best_of(found) for phase, found in runs.items()}
        finally:
            emulator.stop()


def best_of(runs: list[Result]) -> Result:
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["rss_mb"] = max(r["rss_mb"] for r in runs)
    best["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
    return best


def print_table(sizes: list[int], results: list[dict[str, Result]]) -> None:
    print(f"{'rows':>8} {'phase':<15} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12} {'maxrss MB':>10}  detail")
    for size, by_phase in zip(sizes, results, strict=True):
        for phase in PHASES:
            r = by_phase[phase]
            print(
                f"{size:>8} {LABELS[phase]:<15} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>8,.0f} "
                f"{r['rss_mb']:>12.1f} {r['maxrss_mb']:>10.1f}  {detail(phase, r)}"
            )


def detail(phase: str, r: Result) -> str:
    if phase == "read":
        return f"{r['pages']} pages, {r['columns']} attributes, {r['mb']:.0f} MB of JSON"
    if phase == "write":
        return f"batches of {r['batch_size']}; mapping the saved rows took {r['map_seconds']:.1f} s more (untimed)"
    return "profile with this table only, fresh SQLite destination and control DB"


SPLITS = (
    ("read_page", "read"),
    ("http", "http"),
    ("json", "json"),
    ("validate+map", "map"),
    ("apply_upserts", "upserts"),
    ("tombstones.load", "tombst"),
    ("checkpoint", "ckpt"),
)


def print_splits(sizes: list[int], results: list[dict[str, Result]]) -> None:
    """Where the seconds went: CPU of both processes, the emulator's serving time, time inside product calls."""
    print(
        "where the time goes, seconds. 'phase': the child's whole phase (setup and untimed work included); 'cpu': "
        "its CPU time; 'emu cpu': the emulator's; 'serve': the emulator's arrival-to-last-byte time of the row "
        "requests; then wall time inside product calls (GIL waits included; 'map' = page validation and mapping)"
    )
    names = " ".join(f"{short:>7}" for _label, short in SPLITS)
    print(f"{'rows':>8} {'phase':<15} {'phase':>6} {'cpu':>6} {'emu cpu':>7} {'serve':>6} {names}")
    for size, by_phase in zip(sizes, results, strict=True):
        for phase in PHASES:
            r = by_phase[phase]
            busy = r.get("busy", {})
            if phase == "write":
                busy = {"apply_upserts": r["seconds"], "validate+map": r["map_seconds"]}
            if phase == "read":
                busy = {**busy, "read_page": r["seconds"]}
            cells = " ".join(f"{busy[label]:>7.1f}" if label in busy else f"{'-':>7}" for label, _short in SPLITS)
            print(
                f"{size:>8} {LABELS[phase]:<15} {r['phase_s']:>6.1f} {r['cpu_s']:>6.1f} {r['emulator_cpu_s']:>7.1f} "
                f"{r['server_s']:>6.1f} {cells}"
            )


def print_goals(sizes: list[int], results: list[dict[str, Result]]) -> None:
    for size, by_phase in zip(sizes, results, strict=True):
        slower = max(by_phase["read"]["seconds"], by_phase["write"]["seconds"])
        full = by_phase["full"]["seconds"]
        verdict = "met" if full <= 1.2 * slower else "MISSED"
        print(
            f"goal (c) <= 1.2 x max(a, b) at {size:,} rows: {full:.1f} s vs 1.2 x {slower:.1f} s = "
            f"{1.2 * slower:.1f} s ({full / slower:.2f} x): {verdict}"
        )
    if len(sizes) > 1:
        first, last = results[0]["full"]["rss_mb"], results[-1]["full"]["rss_mb"]
        growth = last / first - 1
        verdict = "met" if growth <= 0.2 else "MISSED"
        print(
            f"goal peak RSS of (c) at {sizes[-1]:,} rows within 20 % of {sizes[0]:,} rows: "
            f"{last:.0f} MB vs {first:.0f} MB ({growth:+.1%}): {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="account", help="the emulator table (account; new_widget is lighter)")
    parser.add_argument("--sizes", default="100000,400000", help="comma-separated row counts; first = baseline")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print the top N functions of (a), (b)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run every phase N times; report the fastest (noisy machines)"
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        metavar="MS",
        help="sys.setswitchinterval in the measured processes (an experiment; Python's default is 5 ms)",
    )
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--pages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        if args.switch_interval:
            sys.setswitchinterval(args.switch_interval / 1000)
        run_phase(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"initial sync benchmark: table={args.table} (scale 1, --count {args.table}=N) sizes={sizes} https "
        f"cpus={os.cpu_count()} load average {os.getloadavg()[0]:.2f} product {product_revision()}; "
        "one fresh child process per phase"
        + (f"; best of {args.repeat} runs per phase (peak RSS: the highest)" if args.repeat > 1 else "")
        + (f"; switch interval {args.switch_interval:g} ms" if args.switch_interval else ""),
        flush=True,
    )
    options = [*(["--cprofile", str(args.cprofile)] if args.cprofile else [])]
    if args.switch_interval:
        options += ["--switch-interval", str(args.switch_interval)]
    results = [run_size(args.table, size, options, args.repeat) for size in sizes]
    print_table(sizes, results)
    print_splits(sizes, results)
    if args.cprofile:
        print("(a) and (b) ran under cProfile, which slows them down: the goals below do not apply to this run")
    print_goals(sizes, results)


if __name__ == "__main__":
    main()
