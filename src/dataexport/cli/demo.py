"""``dataexport demo``: the emulator, a sample organization and a demo profile replicating into SQLite.

Running it again reuses what exists: the emulator's organization and keys, the control database (so the
sync resumes with a delta instead of starting over) and the destination ``demo.db``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from dataexport.cli.emulator_process import EmulatorInfo, EmulatorProcess, EmulatorStartError
from dataexport.config.profile_file import ProfileFile, ProfileFileError, load_profile_file

DEMO_ENTITIES = ("account", "contact", "lead", "opportunity", "incident", "task", "new_widget")
DEMO_RELATIONSHIPS = ("accountleads_association", "contactleads_association")
ORG_SECRET = "secrets/demo-org-client-secret"
DESTINATION_SECRET = "secrets/demo-destination"

SyncFunction = Callable[..., int]


def write_secret(path: Path, value: str) -> None:
    """Write a secret file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)


def demo_profile_text(info: EmulatorInfo, data_dir: Path) -> str:
    entities = ", ".join(f'{{ Name = "{name}" }}' for name in DEMO_ENTITIES)
    relationships = ", ".join(f'{{ Name = "{name}" }}' for name in DEMO_RELATIONSHIPS)
    ca = f'CaFile = "{info.ca_path.resolve()}"' if info.ca_path else ""
    return f"""# The demo profile, written by 'dataexport demo'. Secrets are references to files in secrets/.
Name = "demo"
KeyVaultUri = "file:{DESTINATION_SECRET}"
WriteDeleteLog = true
RetryCount = 3
RetryInterval = 5
Entities = [{entities}]
Relationships = [{relationships}]
DataDir = "."

[Organization]
Url = "{info.base_url}"
TenantId = "{info.tenant_id}"
ClientId = "{info.client_id}"
ClientSecret = "file:{ORG_SECRET}"
Authority = "{info.base_url}"
{ca}
"""


DEFAULT_DESTINATION = "sqlite:///demo.db"


def prepare_demo(data_dir: Path, info: EmulatorInfo, destination: str = DEFAULT_DESTINATION) -> ProfileFile:
    """Write the demo's secrets and profile file (idempotent) and load it."""
    write_secret(data_dir / ORG_SECRET, info.client_secret)
    write_secret(data_dir / DESTINATION_SECRET, destination)
    path = data_dir / "demo-profile.toml"
    path.write_text(demo_profile_text(info, data_dir), encoding="utf-8")
    return load_profile_file(path)


def print_how_to_look(console: Console, data_dir: Path) -> None:
    database = data_dir / "demo.db"
    console.print(
        f"\n[bold]The replica is {database}.[/] Look at it with Python's sqlite3 (no extra installs):", soft_wrap=True
    )
    console.print(
        f"  python3 -c \"import sqlite3; c = sqlite3.connect('{database}'); "
        "print(c.execute('select name, revenue, versionnumber from account limit 5').fetchall())\"",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  python3 -c \"import sqlite3; c = sqlite3.connect('{database}'); "
        'print([r[0] for r in c.execute(\\"select name from sqlite_master where type=\'table\'\\")])"',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def run_demo(
    data_dir: Path,
    *,
    once: bool,
    scale: int,
    port: int,
    sync: SyncFunction,
    console: Console,
    destination: str = DEFAULT_DESTINATION,
) -> int:
    """Start the emulator, write the demo profile, sync it (once or until interrupted); returns the exit code."""
    data_dir = data_dir.resolve()
    emulator = EmulatorProcess(data_dir / "emulator", port=port, org="contoso", scale=scale, seed=1)
    try:
        with emulator as info:
            console.print(f"Dataverse emulator: {info.base_url} (log: {emulator.log_path})")
            try:
                loaded = prepare_demo(data_dir, info, destination)
            except ProfileFileError as error:
                console.print(str(error), markup=False)
                return 2
            local = destination == DEFAULT_DESTINATION
            target = data_dir / "demo.db" if local else "the destination given by --destination"
            console.print(
                f"\nReplicating profile [bold]demo[/] into {target}{' (once)' if once else '; Ctrl-C stops'}..."
            )
            code = sync(loaded, once=once, workers=4)
            if local:
                print_how_to_look(console, data_dir)
            return code
    except EmulatorStartError as error:
        console.print(f"[red]The demo cannot start the emulator:[/] {error}")
        return 1
