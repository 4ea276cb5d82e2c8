"""What the product benchmarks share: a real emulator process, a profile file for it, RSS sampling, percentiles.

Not a benchmark itself; ``bench/initial_sync.py`` and ``bench/delta_lag.py`` import it (run them from the
repository root: ``.venv/bin/python bench/<name>.py``, which puts ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psutil

SCRIPTS = Path(sys.executable).parent
START_TIMEOUT_S = 1800.0
ORG_SECRET = "secrets/org-client-secret"
DESTINATION_SECRET = "secrets/destination"


class RssSampler:
    """Samples a process's resident set size every 50 ms and keeps the peak."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.period = period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        try:
            self.peak = max(self.peak, self.process.memory_info().rss)
        except psutil.NoSuchProcess:
            self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Emulator:
    """A running ``dataverse-emulator serve`` process and what it wrote to ``credentials.json``."""

    process: subprocess.Popen[bytes]
    credentials: dict[str, object]
    data_dir: Path
    started_in: float

    @property
    def base_url(self) -> str:
        return str(self.credentials["base_url"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_emulator(
    data_dir: Path, *, org: str = "bench", scale: int, counts: dict[str, int] | None = None, tls: bool, seed: int = 1
) -> Emulator:
    """Start an emulator on a free loopback port, generating the sample organization first if it is missing.

    Returns once the server accepts connections; ``started_in`` includes the generation.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    credentials = data_dir / "credentials.json"
    credentials.unlink(missing_ok=True)
    count_args = [arg for table, rows in (counts or {}).items() for arg in ("--count", f"{table}={rows}")]
    command = [
        str(SCRIPTS / "dataverse-emulator"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        "0",
        "--sample-org",
        org,
        "--scale",
        str(scale),
        "--seed",
        str(seed),
        *count_args,
        *(["--tls"] if tls else []),
    ]
    log = (data_dir / "emulator.log").open("ab")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the emulator did not start; see {data_dir / 'emulator.log'}")
        if credentials.exists():
            try:
                data = orjson.loads(credentials.read_bytes())
            except orjson.JSONDecodeError:
                data = None
            if data is not None and _accepts_connections(str(data["base_url"])):
                return Emulator(process, data, data_dir, time.perf_counter() - started)
        time.sleep(0.1)


def _accepts_connections(base_url: str) -> bool:
    parts = urlsplit(base_url)
    try:
        with socket.create_connection(("127.0.0.1", parts.port or 443), timeout=1):
            return True
    except OSError:
        return False


def write_secret(path: Path, value: str) -> None:
    """A file readable by its owner only holding ``value`` (what a ``file:`` reference points at)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)


def write_profile(work_dir: Path, emulator: Emulator, entities: Sequence[str], *, name: str = "bench") -> Path:
    """A profile file in ``work_dir`` selecting ``entities`` into ``work_dir/replica.db`` (control DB beside it)."""
    credentials = emulator.credentials
    write_secret(work_dir / ORG_SECRET, str(credentials["client_secret"]))
    write_secret(work_dir / DESTINATION_SECRET, "sqlite:///replica.db")
    selected = ", ".join(f'{{ Name = "{entity}" }}' for entity in entities)
    ca = f'CaFile = "{credentials["ca_path"]}"' if credentials.get("ca_path") else ""
    text = f"""Name = "{name}"
KeyVaultUri = "file:{DESTINATION_SECRET}"
WriteDeleteLog = true
Entities = [{selected}]
DataDir = "."

[Organization]
Url = "{credentials["base_url"]}"
TenantId = "{credentials["tenant_id"]}"
ClientId = "{credentials["client_id"]}"
ClientSecret = "file:{ORG_SECRET}"
Authority = "{credentials["base_url"]}"
{ca}
"""
    path = work_dir / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def product_revision() -> str:
    """The commit measured, ``+dirty`` when ``src/`` has uncommitted changes (benchmarks report what they ran)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if changes else "")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in [0, 1]); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
