"""Replication lag of the continuous sync: from a change's commit in Dataverse to its visibility in the replica.

Starts a real emulator (HTTPS, sample organization at ``--scale``), runs the product's continuous sync
(``ProfileRunner.run(stop)`` of a profile built like ``dataexport sync`` builds it, in a thread of this
process) for the tables into SQLite, and once every table is in ``Delta`` starts the emulator's
``workload`` command (creates, updates and deletes through the public Web API at ``--rate`` changes/s for
``--duration`` s, one JSON line per committed change with ``committed_at``).

A poller thread reads the replica every ``--poll-ms`` (its own SQLite connection, autocommit reads, WAL)
and records for each change the first poll at which the replica shows it: for a create or an update the
row's ``versionnumber`` is at least the change's version; for a delete the row is gone (and was there
before). A change whose effect is only ever visible through a later change of the same record (an update
overwritten or deleted within one poll of the sync) counts as visible when that later change is; a record
created and deleted without the poller ever seeing it is reported as unobservable. The lag of a change is
the time taken just before that poll's queries minus ``committed_at``: it is rounded up by at most one
poll period, the measurement floor.

Goals: p50 <= 1 s, p99 <= 3 s.

    .venv/bin/python bench/delta_lag.py                          # 10 changes/s for 60 s, account and contact
    .venv/bin/python bench/delta_lag.py --rate 10 --duration 15  # quick
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dataexport.cli.bootstrap import build_runtime
from dataexport.config.profile_file import load_profile_file
from dataexport.domain.sync import EntityPhase
from dataexport.secrets.local import LocalSecretStore
from dataexport.store.values import EntityState, SyncKey
from harness import SCRIPTS, Emulator, percentile, product_revision, start_emulator, write_profile

GOAL_P50_S = 1.0
GOAL_P99_S = 3.0
#: Once only unobservable changes are pending, the poller waits this long (a few sync polls) before it stops.
SETTLE_GRACE_S = 2.0


# ----- the sync, observed ------------------------------------------------------------------------------


class SyncWatcher:
    """A ``SyncObserver``: knows when every subject is in ``Delta``; keeps errors and the engine's own lag."""

    def __init__(self, subjects: int) -> None:
        self.subjects = subjects
        self.phases: dict[SyncKey, EntityPhase] = {}
        self.errors: list[str] = []
        self.engine_lags: list[float] = []
        self.pages = 0
        self.in_delta = threading.Event()
        self._lock = threading.Lock()

    def on_phase(self, key: SyncKey, phase: EntityPhase) -> None:
        with self._lock:
            self.phases[key] = phase
            in_delta = sum(1 for value in self.phases.values() if value is EntityPhase.DELTA)
        if in_delta == self.subjects:
            self.in_delta.set()

    def on_page(self, key: SyncKey, state: EntityState, page_rows: int) -> None:
        with self._lock:
            self.pages += 1

    def on_idle(self, key: SyncKey, lag_seconds: float | None) -> None:
        if lag_seconds is not None and self.in_delta.is_set():
            with self._lock:
                self.engine_lags.append(lag_seconds)

    def on_error(self, key: SyncKey, message: str) -> None:
        with self._lock:
            self.errors.append(f"{key.name}: {message}")


# ----- changes and their visibility ----------------------------------------------------------------------


@dataclass
class Change:
    """One committed change of the workload and when the replica first showed it."""

    seq: int
    op: str
    table: str
    record_id: str
    version: int | None
    committed_at: float
    visible_at: float | None = None
    via_later: bool = False

    @property
    def lag(self) -> float:
        assert self.visible_at is not None
        return self.visible_at - self.committed_at


@dataclass
class RecordTrack:
    """The pending changes of one record, in commit order, and what the poller knows about the record."""

    created: bool = False  # created by the workload (else it existed, and was replicated, before)
    seen_present: bool = False
    pending: list[Change] = field(default_factory=list)

    def shows(self, change: Change, version: int | None, present: bool) -> bool:
        """Whether a replica row in this state reflects ``change``."""
        if change.op == "delete":
            return not present and (self.seen_present or not self.created)
        return present and version is not None and change.version is not None and version >= change.version

    def settle(self, version: int | None, present: bool, now: float) -> None:
        """Mark visible the latest pending change the row reflects, and every earlier one with it."""
        self.seen_present = self.seen_present or present
        shown = [index for index, change in enumerate(self.pending) if self.shows(change, version, present)]
        if not shown:
            return
        last = shown[-1]
        for index, change in enumerate(self.pending[: last + 1]):
            change.visible_at, change.via_later = now, index < last
        del self.pending[: last + 1]

    @property
    def unobservable(self) -> bool:
        """Created and deleted by the workload without the poller ever seeing the row: no state shows it."""
        return self.created and not self.seen_present and any(c.op == "delete" for c in self.pending)


class ChangeFeed:
    """Follows the workload's JSON-lines file as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[Change]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [self._change(orjson.loads(line)) for line in lines if line.strip()]

    def has_unread(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > self._offset

    @staticmethod
    def _change(item: dict[str, object]) -> Change:
        version = item.get("version")
        return Change(
            seq=int(str(item["seq"])),
            op=str(item["op"]),
            table=str(item["table"]),
            record_id=str(item["id"]).lower(),
            version=int(str(version)) if version is not None else None,
            committed_at=float(str(item["committed_at"])),
        )


class VisibilityPoller:
    """Polls the replica every ``period`` seconds for the records with pending changes."""

    def __init__(self, replica: Path, feed: ChangeFeed, period: float) -> None:
        self.replica = replica
        self.feed = feed
        self.period = period
        self.changes: list[Change] = []
        self.records: dict[tuple[str, str], RecordTrack] = defaultdict(RecordTrack)
        self.intervals: list[float] = []
        self.query_seconds: list[float] = []
        self.feed_done = threading.Event()  # the workload has exited: what the file holds is everything
        self.finished = threading.Event()
        self._settled_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def pending(self) -> list[RecordTrack]:
        return [track for track in self.records.values() if track.pending]

    def _run(self) -> None:
        with closing(sqlite3.connect(self.replica, isolation_level=None, check_same_thread=False)) as connection:
            previous: float | None = None
            while not self._stop.is_set():
                started = time.time()
                if previous is not None and self.changes:
                    self.intervals.append(started - previous)
                previous = started
                self._ingest(self.feed.read_new())
                now = time.time()  # the replica's state read next is at least as new as this moment
                self._poll(connection, now)
                self.query_seconds.append(time.time() - now)
                if self.feed_done.is_set() and not self.feed.has_unread() and self._settled(now):
                    self.finished.set()
                self._stop.wait(max(0.0, started + self.period - time.time()))

    def _ingest(self, changes: Iterable[Change]) -> None:
        for change in changes:
            track = self.records[(change.table, change.record_id)]
            track.created = track.created or change.op == "create"
            track.pending.append(change)
            self.changes.append(change)

    def _poll(self, connection: sqlite3.Connection, now: float) -> None:
        by_table: dict[str, list[str]] = defaultdict(list)
        for (table, record_id), track in self.records.items():
            if track.pending:
                by_table[table].append(record_id)
        for table, ids in by_table.items():
            marks = ", ".join("?" * len(ids))
            query = f'SELECT lower("Id"), "versionnumber" FROM "{table}" WHERE lower("Id") IN ({marks})'
            rows = dict(connection.execute(query, ids).fetchall())
            for record_id in ids:
                present = record_id in rows
                self.records[(table, record_id)].settle(rows.get(record_id), present, now)

    def _settled(self, now: float) -> bool:
        """Nothing observable is pending any more, and that has been so for ``SETTLE_GRACE_S``."""
        if not all(track.unobservable for track in self.pending):
            self._settled_since = None
            return False
        self._settled_since = self._settled_since or now
        return now - self._settled_since >= SETTLE_GRACE_S


# ----- the run -------------------------------------------------------------------------------------------


def run_workload(emulator: Emulator, out: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    command = [
        str(SCRIPTS / "dataverse-emulator"),
        "workload",
        "--data-dir",
        str(emulator.data_dir),
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--tables",
        args.tables,
        "--seed",
        str(args.seed),
        "--out",
        str(out),
    ]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure(args: argparse.Namespace, root: Path) -> tuple[VisibilityPoller, SyncWatcher, dict[str, float]]:
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    emulator = start_emulator(root / "emulator", scale=args.scale, tls=True)
    try:
        print(f"emulator ready in {emulator.started_in:.1f} s (scale {args.scale}, generation included)", flush=True)
        work = root / "sync"
        loaded = load_profile_file(write_profile(work, emulator, tables))
        watcher = SyncWatcher(len(tables))
        runtime = build_runtime(loaded, LocalSecretStore(loaded.base_dir), observer=watcher, workers=args.workers)
        stop = threading.Event()
        sync = threading.Thread(target=runtime.runner.run, args=(stop,), name="sync-runner", daemon=True)
        settings = runtime.runner.settings
        timings: dict[str, float] = {"min_interval": settings.min_interval, "max_interval": settings.max_interval}
        started = time.perf_counter()
        sync.start()
        try:
            if not watcher.in_delta.wait(timeout=1800):
                raise RuntimeError(f"the initial sync did not finish: {watcher.errors}")
            timings["initial_sync_s"] = time.perf_counter() - started
            timings["initial_pages"] = watcher.pages
            print(f"initial sync done in {timings['initial_sync_s']:.1f} s; starting the workload", flush=True)
            feed = ChangeFeed(root / "changes.jsonl")
            poller = VisibilityPoller(work / "replica.db", feed, args.poll_ms / 1000)
            poller.start()
            workload = run_workload(emulator, feed.path, args)
            _, err = workload.communicate()
            if workload.returncode != 0:
                raise RuntimeError(f"the workload failed: {err.decode()[-2000:]}")
            poller.feed_done.set()
            poller.finished.wait(timeout=args.settle)
            poller.stop()
        finally:
            stop.set()
            sync.join(timeout=120)
            runtime.close()
        return poller, watcher, timings
    finally:
        emulator.stop()


def report(args: argparse.Namespace, poller: VisibilityPoller, watcher: SyncWatcher, timings: dict[str, float]) -> None:
    changes = poller.changes
    seen = [c for c in changes if c.visible_at is not None]
    unobservable = [c for track in poller.pending if track.unobservable for c in track.pending]
    missing = [c for track in poller.pending if not track.unobservable for c in track.pending]
    counts = {op: sum(1 for c in changes if c.op == op) for op in ("create", "update", "delete")}
    print(
        f"workload: {len(changes)} changes committed ({', '.join(f'{op} {n}' for op, n in counts.items())}) "
        f"over {changes[-1].committed_at - changes[0].committed_at:.1f} s"
        if changes
        else "workload: no change committed"
    )
    intervals = poller.intervals
    print(
        f"replica poller: target period {args.poll_ms:.0f} ms; observed interval min {min(intervals) * 1000:.1f} / "
        f"p50 {percentile(intervals, 0.5) * 1000:.1f} / max {max(intervals) * 1000:.1f} ms over {len(intervals)} "
        f"polls; query time p50 {percentile(poller.query_seconds, 0.5) * 1000:.1f} ms. Measurement floor: a lag "
        f"is rounded up by at most one interval (~{args.poll_ms:.0f} ms)"
        if intervals
        else "replica poller: no poll during the workload"
    )
    print(
        f"changes seen: {len(seen)} of {len(changes)} ({sum(c.via_later for c in seen)} through a later change of "
        f"the same record); unobservable (created and deleted between two polls): {len(unobservable)}; not seen "
        f"within {args.settle:.0f} s after the workload: {len(missing)}"
    )
    print(f"{'changes':<10} {'count':>6} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'max s':>7}")
    groups = {"all": seen, **{op: [c for c in seen if c.op == op] for op in counts}}
    for name, group in groups.items():
        lags = [c.lag for c in group]
        print(
            f"{name:<10} {len(lags):>6} {percentile(lags, 0.5):>7.3f} {percentile(lags, 0.9):>7.3f} "
            f"{percentile(lags, 0.99):>7.3f} {max(lags, default=float('nan')):>7.3f}"
        )
    print(
        f"sync: initial sync {timings['initial_sync_s']:.1f} s; delta polling every {timings['min_interval']:g} s "
        f"while changes come, doubling on empty polls up to {timings['max_interval']:g} s"
    )
    engine = watcher.engine_lags
    print(
        f"delta polls during the workload: {len(engine)}; the engine's LagSeconds at the end of each (about the "
        f"poll's own duration): p50 {percentile(engine, 0.5):.3f} s, p99 {percentile(engine, 0.99):.3f} s, "
        f"max {max(engine, default=float('nan')):.3f} s; sync errors: {len(watcher.errors)}"
        + (f" (first: {watcher.errors[0]})" if watcher.errors else "")
    )
    lags = [c.lag for c in seen]
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    complete = not missing
    print(
        f"goal p50 <= {GOAL_P50_S:.0f} s: {p50:.3f} s: {'met' if p50 <= GOAL_P50_S and complete else 'MISSED'}; "
        f"goal p99 <= {GOAL_P99_S:.0f} s: {p99:.3f} s: {'met' if p99 <= GOAL_P99_S and complete else 'MISSED'}"
        + ("" if complete else f" ({len(missing)} changes never seen)")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of workload")
    parser.add_argument("--tables", default="account,contact")
    parser.add_argument("--scale", type=int, default=50, help="accounts in the sample organization")
    parser.add_argument("--seed", type=int, default=1, help="the workload's seed")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="period of the replica poller")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for changes after the workload")
    parser.add_argument("--workers", type=int, default=4, help="the sync's workers (dataexport sync's default)")
    args = parser.parse_args()
    print(
        f"delta lag benchmark: tables={args.tables} scale={args.scale} rate={args.rate:g}/s "
        f"duration={args.duration:g} s https cpus={os.cpu_count()} load average {os.getloadavg()[0]:.2f} "
        f"product {product_revision()}; sync: ProfileRunner.run in a thread, "
        f"workers={args.workers}, engine defaults",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="delta-lag-") as tmp:
        poller, watcher, timings = measure(args, Path(tmp))
    report(args, poller, watcher, timings)


if __name__ == "__main__":
    main()
