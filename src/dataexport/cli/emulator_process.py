"""Running the Dataverse emulator as a child process for ``dataexport demo``.

The product never imports the emulator package: the demo starts its console script, like any other
program, and reads what it writes to ``DIR/credentials.json``.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

START_TIMEOUT_S = 300.0


class EmulatorStartError(Exception):
    """The emulator could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class EmulatorInfo:
    """What the demo needs from a running emulator."""

    base_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_path: Path | None
    admin_key: str = field(default="", repr=False)

    def mint_token(self, *, user: str, audience: str, expires_in: int = 3599) -> str:
        """A bearer token the emulator signs for one of its sample users (``admin``, ``user``...) or ``app``."""
        response = httpx.post(
            f"{self.base_url}/_emulator/tokens",
            json={"user": user, "aud": audience, "expires_in": expires_in},
            headers={"X-Emulator-Admin-Key": self.admin_key},
            verify=ssl.create_default_context(cafile=str(self.ca_path)) if self.ca_path else True,
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def emulator_executable() -> str:
    """The ``dataverse-emulator`` script next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dataverse-emulator"
    if beside.exists():
        return str(beside)
    found = shutil.which("dataverse-emulator")
    if found is None:
        raise EmulatorStartError("dataverse-emulator is not installed: run 'make run' or 'pip install -e .'")
    return found


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _read_json(path: Path) -> dict[str, object] | None:
    """The file's JSON object once it is completely written, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_listening(base_url: str) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(base_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 443), timeout=1):
            return True
    except OSError:
        return False


class EmulatorProcess:
    """A ``dataverse-emulator serve`` child process; a context manager that stops it on exit."""

    def __init__(self, data_dir: Path, *, port: int, org: str, scale: int, seed: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.args = ["--tls", "--port", str(port), "--sample-org", org, "--scale", str(scale), "--seed", str(seed)]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / "emulator.log"

    def __enter__(self) -> EmulatorInfo:
        if self.port and not port_is_free("127.0.0.1", self.port):
            raise EmulatorStartError(
                f"port {self.port} is already in use: stop what listens there, or pass --emulator-port"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.data_dir / "credentials.json"
        credentials.unlink(missing_ok=True)
        command = [emulator_executable(), "serve", "--data-dir", str(self.data_dir), *self.args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return self._wait_ready(credentials)

    def _wait_ready(self, credentials: Path) -> EmulatorInfo:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorStartError(
                    f"the emulator exited with status {self.process.returncode}; see {self.log_path}"
                )
            data = _read_json(credentials)
            if data is not None and is_listening(str(data["base_url"])):
                return EmulatorInfo(
                    base_url=str(data["base_url"]),
                    tenant_id=str(data["tenant_id"]),
                    client_id=str(data["client_id"]),
                    client_secret=str(data["client_secret"]),
                    ca_path=Path(str(data["ca_path"])) if data.get("ca_path") else None,
                    admin_key=str(data.get("admin_key", "")),
                )
            time.sleep(0.2)
        self.__exit__()
        raise EmulatorStartError(f"the emulator was not ready after {START_TIMEOUT_S:.0f} s; see {self.log_path}")

    def __exit__(self, *_: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
