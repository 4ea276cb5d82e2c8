"""``dataexport demo``: the emulator with a sample organization, the service, and a demo profile created and
activated through the REST API, replicating into SQLite.

Running it again reuses what exists: the emulator's organization and keys, the service's control database
(the profile is found by name and resumes with a delta instead of starting over) and the destination
``demo.db``. :func:`prepare_demo` also writes the same profile as a file for ``dataexport sync``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from dataexport.cli.api_output import dump_json, items, member
from dataexport.cli.client import ApiClient, ApiError, Connection, JsonValue, ServiceUnreachable
from dataexport.cli.emulator_process import EmulatorInfo, EmulatorProcess, EmulatorStartError
from dataexport.config.loading import ServiceConfigError, load_service_config
from dataexport.config.profile_file import ProfileFile, load_profile_file
from dataexport.config.service import ServiceConfig
from dataexport.errors import DataExportError

if TYPE_CHECKING:
    from dataexport.cli.serve import RunningService

DEMO_ENTITIES = ("account", "contact", "lead", "opportunity", "incident", "task", "new_widget")
DEMO_RELATIONSHIPS = ("accountleads_association", "contactleads_association")
ORG_SECRET = "secrets/demo-org-client-secret"
DESTINATION_SECRET = "secrets/demo-destination"


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


SERVICE_CONFIG = "dataexport.toml"
ADMIN_TOKEN_FILE = "demo-admin.token"
TOKEN_LIFETIME_S = 12 * 3600


def demo_service_text(
    info: EmulatorInfo,
    port: int,
    *,
    data_dir: str = ".",
    public_url: str | None = None,
    org_secret: str = ORG_SECRET,
    extra: str = "",
) -> str:
    """The demo service's configuration: the emulator's organization, its issuer, the local failure store;
    ``extra`` TOML is appended as it is."""
    ca = f'ca_file = "{info.ca_path.resolve()}"' if info.ca_path else ""
    public = f'public_url = "{public_url}"' if public_url else ""
    return f"""# The demo service's configuration, written by 'dataexport demo'. Secrets are references to files.
data_dir = "{data_dir}"
control_db = "sqlite:///control.db"
host = "127.0.0.1"
port = {port}
{public}

[organizations.contoso]
url = "{info.base_url}"
tenant_id = "{info.tenant_id}"
client_id = "{info.client_id}"
client_secret = "file:{org_secret}"
authority = "{info.base_url}"
{ca}

[auth]
{ca}
{extra}
"""


def demo_profile_body() -> JsonValue:
    """The demo profile as the REST API takes it (DES §2.1)."""
    return {
        "Name": "demo",
        "KeyVaultUri": f"file:{DESTINATION_SECRET}",
        "WriteDeleteLog": True,
        "RetryCount": 3,
        "RetryInterval": 5,
        "Entities": [{"Name": name} for name in DEMO_ENTITIES],
        "Relationships": [{"Name": name} for name in DEMO_RELATIONSHIPS],
    }


def prepare_service(data_dir: Path, info: EmulatorInfo, destination: str, port: int) -> ServiceConfig:
    """Write the demo's secrets and service configuration (idempotent) and load it."""
    write_secret(data_dir / ORG_SECRET, info.client_secret)
    write_secret(data_dir / DESTINATION_SECRET, destination)
    path = data_dir / SERVICE_CONFIG
    path.write_text(demo_service_text(info, port), encoding="utf-8")
    return load_service_config(path, environ={})


@dataclass
class DemoSetup:
    """What the demo does through the REST API once the service listens."""

    info: EmulatorInfo
    data_dir: Path
    console: Console
    once: bool
    exit_code: int = 1

    def __call__(self, service: RunningService) -> None:
        from dataexport.runtime import API_AUDIENCE

        token = self.info.mint_token(user="admin", audience=API_AUDIENCE, expires_in=TOKEN_LIFETIME_S)
        write_secret(self.data_dir / ADMIN_TOKEN_FILE, token)
        try:
            with ApiClient(Connection(service.url, token)) as api:
                profile_id = self._set_up(api)
                self._explain(service.url, profile_id)
                if self.once:
                    self.exit_code = self._wait_for_initial_sync(api, profile_id)
                    service.stop()
                else:
                    self.exit_code = 0
        except (ApiError, ServiceUnreachable) as error:
            self.console.print(f"[red]The demo's API call failed:[/] {error}", soft_wrap=True)
            self.exit_code = 1
            service.stop()

    def _set_up(self, api: ApiClient) -> str:
        organization = str(member(items(api.organizations())[0], "OrganizationId"))
        api.accept_terms(organization)
        found = [p for p in items(api.list_profiles(organization)) if member(p, "Name") == "demo"]
        profile = found[0] if found else api.create_profile(demo_profile_body(), organization)
        profile_id = str(member(profile, "Id"))
        if member(profile, "State") != "Active":
            api.activate(profile_id)
        return profile_id

    def _explain(self, url: str, profile_id: str) -> None:
        token_file = self.data_dir / ADMIN_TOKEN_FILE
        say = self.console.print
        say(f"\n[bold]Data Export Service[/] on {url}: Swagger UI at {url}/swagger/ui/index", soft_wrap=True)
        say(f"Profile [bold]demo[/] ({profile_id}) is Active, replicating into {self.data_dir / 'demo.db'}.")
        say(f"A token of the demo System Administrator (valid 12 h) is in {token_file}. Try:", soft_wrap=True)
        for line in (
            f"  export DATAEXPORT_URL={url} DATAEXPORT_TOKEN=$(cat {token_file})",
            "  .venv/bin/dataexport profiles list --status",
            f"  .venv/bin/dataexport profiles show {profile_id} --status",
            '  curl -s -H "Authorization: Bearer $DATAEXPORT_TOKEN" '
            f'"$DATAEXPORT_URL/crm/exporter/profiles/{profile_id}?status=true"',
        ):
            say(line, markup=False, highlight=False, soft_wrap=True)

    def _wait_for_initial_sync(self, api: ApiClient, profile_id: str) -> int:
        """Until every subject is in ``Delta`` (0) or one failed (1)."""
        deadline = time.monotonic() + INITIAL_SYNC_TIMEOUT_S
        while time.monotonic() < deadline:
            status = member(api.get_profile(profile_id, status=True), "Status")
            subjects = items(member(status, "Entities")) + items(member(status, "Relationships"))
            states = {str(member(subject, "State")) for subject in subjects}
            if "Failed" in states or member(status, "LastError"):
                self.console.print(f"[red]The demo profile failed:[/] {dump_json(status)}", soft_wrap=True)
                return 1
            if subjects and states == {"Delta"}:
                self.console.print(f"Initial sync done: {len(subjects)} tables in Delta.")
                return 0
            time.sleep(0.5)
        self.console.print("[red]The initial sync did not finish in time.[/]")
        return 1


INITIAL_SYNC_TIMEOUT_S = 600.0


def run_demo(
    data_dir: Path,
    *,
    once: bool,
    scale: int,
    port: int,
    service_port: int,
    console: Console,
    destination: str = DEFAULT_DESTINATION,
) -> int:
    """Start the emulator and the service, set the demo profile up through the API; returns the exit code."""
    from dataexport.cli.serve import RunningService
    from dataexport.runtime import build_runtime

    data_dir = data_dir.resolve()
    emulator = EmulatorProcess(data_dir / "emulator", port=port, org="contoso", scale=scale, seed=1)
    try:
        with emulator as info:
            console.print(f"Dataverse emulator: {info.base_url} (log: {emulator.log_path})")
            try:
                config = prepare_service(data_dir, info, destination, service_port)
            except ServiceConfigError as error:
                console.print(str(error), markup=False)
                return 2
            try:
                runtime = build_runtime(config)
            except DataExportError as error:
                console.print(f"[red]The service cannot start:[/] {error}", soft_wrap=True)
                return 1
            setup = DemoSetup(info, data_dir, console, once)
            service = RunningService(runtime)
            if not service.run(when_listening=setup):
                console.print(f"[red]The service cannot listen on port {service_port}:[/] pass --port")
                return 1
            if destination == DEFAULT_DESTINATION:
                print_how_to_look(console, data_dir)
            return setup.exit_code
    except EmulatorStartError as error:
        console.print(f"[red]The demo cannot start the emulator:[/] {error}")
        return 1
