"""Running Azurite's blob service (the npm package pinned in tools/azurite) on a free loopback port for a test.

The package is installed by ``make`` (``npm ci --prefix tools/azurite``); when only node and npm are present the
first use installs it the same way. Tests skip, saying why, only when node or npm is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TOOL_DIR = Path(__file__).resolve().parents[2] / "tools" / "azurite"
BLOB_BINARY = TOOL_DIR / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key: it opens nothing but a local emulator.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"listens on https?://[^:]+:(\d+)")


def connection_string(port: int) -> str:
    """The connection string of the development account served on ``port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def require_azurite() -> Path:
    """The ``azurite-blob`` launcher, installing the pinned package first when needed; skips without node/npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Azurite needs node and npm on PATH (install Node.js 20+), so the Azure Blob tests cannot run")
    if not BLOB_BINARY.exists():
        subprocess.run(
            ["npm", "ci", "--prefix", str(TOOL_DIR), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return BLOB_BINARY


@contextmanager
def run_azurite(location: Path) -> Iterator[str]:
    """Serve Azurite's blob service from ``location`` on a free 127.0.0.1 port; yields its connection string."""
    binary = require_azurite()
    log_path = location / "azurite.out"
    arguments = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location)]
    arguments += ["--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, cwd=location)
    try:
        yield connection_string(_wait_for_port(process, log_path))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    """The port Azurite printed once it listens (it was started with port 0, so the OS chose a free one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text(encoding="utf-8", errors="replace"))
        if match is not None:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    raise RuntimeError(f"Azurite did not start listening (exit code {process.poll()}): {output[-2000:]}")
