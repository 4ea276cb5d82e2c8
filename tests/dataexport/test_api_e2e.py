"""End to end over real HTTP: a ``dataexport serve`` process, a real emulator process, SQLite destinations.

Nothing here runs in-process: the service is started as an operator would (``dataexport serve --config``), the
tests call its REST API with ``httpx`` and the ``dataexport`` CLI as subprocesses, change the source through the
emulator's Web API and admin workloads, and read the destination files with ``sqlite3``. Each test writes its own
destination database (its own secret file), so the Active profiles of one test never share a destination.

Polling runs at 0.2 s -> 1 s and failure URLs live a few seconds (config ``extra``), so the module stays quick.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from test_api_support import (
    METADATA,
    PROFILES,
    emulator_admin,
    emulator_process,
    free_port,
    write_service_config,
)

from dataexport.cli.demo import write_secret
from dataexport.cli.emulator_process import EmulatorInfo

T = TypeVar("T")

DATAEXPORT = Path(sys.executable).parent / "dataexport"
ORG = "contoso"
URL_TTL_SECONDS = 4
EXTRA_CONFIG = f"""[polling]
min_interval = 0.2
max_interval = 1.0

[failure_store]
url_ttl_seconds = {URL_TTL_SECONDS}
"""
#: entity -> (entity set, primary id attribute) in the emulator's Web API.
WEB_API = {"account": ("accounts", "accountid"), "contact": ("contacts", "contactid"), "lead": ("leads", "leadid")}
CHECKS = (
    "ProfileFields",
    "DataverseAccess",
    "EntitySelection",
    "RelationshipSelection",
    "SecretAccess",
    "SecretAuthorization",
    "ConnectionString",
    "DestinationConnection",
    "DestinationSchema",
    "DestinationPermissions",
    "DestinationObjects",
    "DestinationInUse",
    "DestinationSettings",
)
REJECTED = "the reporting team refuses REJECT names"
DES_LINE = re.compile(
    r"^Entity: (?P<entity>\w+), RecordId: (?P<id>[0-9a-f-]{36}|N/A), "
    r"NotificationTime: (?P<time>[1-9]\d?/[1-9]\d?/\d{4} [1-9]\d?:\d{2}:\d{2} [AP]M), "
    r"ChangeType: (?P<change>Trigger Initial Export|New|Update|Delete), FailureReason: (?P<reason>.+)$"
)


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


# ----- the parts: service process, its API, the source, a destination -------------------------------------


class ServeProcess:
    """``dataexport serve --config <root>/dataexport.toml`` as a child process on a free loopback port."""

    def __init__(self, root: Path, info: EmulatorInfo) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        write_service_config(root, info, port=self.port, public_url=self.url, extra=EXTRA_CONFIG)
        self.log_path = root / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.secrets = [info.client_secret, "sqlite:///replica.db"]

    @property
    def data_dir(self) -> Path:
        return self.root / "var"

    def start(self) -> None:
        """Start the process and wait until ``GET /readyz`` answers 200."""
        environ = {name: value for name, value in os.environ.items() if not name.startswith("DATAEXPORT_")}
        command = [str(DATAEXPORT), "serve", "--config", str(self.root / "dataexport.toml")]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=environ, cwd=self.root)
        eventually(self._ready, f"GET {self.url}/readyz to answer 200", timeout=60)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process to end; its return code."""
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(60)
        self.process = None
        return code

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def destination(self, name: str) -> tuple[str, Path]:
        """A fresh SQLite destination behind the secret file ``secrets/<name>``: its reference and its file."""
        self.secrets.append(f"sqlite:///{name}.db")
        write_secret(self.root / "secrets" / name, self.secrets[-1])
        return f"file:secrets/{name}", self.data_dir / f"{name}.db"

    def check_log(self) -> None:
        """No secret value (the org's client secret, a destination connection string) in the process output."""
        logged = self.log_path.read_text(encoding="utf-8", errors="replace")
        for secret in self.secrets:
            assert secret not in logged, "a secret value appears in the serve log"

    def held_leases(self) -> int:
        """Leases held right now in the control database (a step in progress)."""
        with sqlite3.connect(f"file:{self.data_dir / 'control.db'}?mode=ro", uri=True, timeout=10) as db:
            return int(db.execute("SELECT count(*) FROM leases").fetchone()[0])

    def stop_between_steps(self, sig: signal.Signals) -> int:
        """Stop the process at a moment no step holds a lease, so a restart never waits out a dead lease."""
        eventually(lambda: self.held_leases() == 0, "a moment without a step in progress")
        return self.stop(sig)


class Api:
    """The service's REST API over HTTP, as one System Administrator (a fresh connection per call, so a
    restarted service is reached without stale pooled connections)."""

    def __init__(self, service: ServeProcess, token: str, org_id: str) -> None:
        self.service = service
        self.url = service.url
        self.token = token
        self.org_id = org_id

    def call(
        self, method: str, path: str, *, json_body: Any = None, auth: bool = True, **params: str
    ) -> httpx.Response:
        """One call; its body is checked for secret values (DES §1.7)."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        response = httpx.request(
            method, f"{self.url}{path}", params=params or None, json=json_body, headers=headers, timeout=60
        )
        for secret in self.service.secrets:
            assert secret not in response.text, f"a secret value appears in the response to {method} {path}"
        return response

    def profile(self, profile_id: str) -> dict[str, Any]:
        response = self.call("GET", f"{PROFILES}/{profile_id}", status="true")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def entities(self, profile_id: str) -> dict[str, dict[str, Any]]:
        """The status block's entities by name."""
        return {item["Name"]: item for item in self.profile(profile_id)["Status"]["Entities"]}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call("POST", PROFILES, json_body=body, organizationId=self.org_id)
        assert response.status_code == 201, response.text
        assert response.headers["location"].endswith(f"{PROFILES}/{response.json()['Id']}")
        created: dict[str, Any] = response.json()
        return created

    def lifecycle(self, profile_id: str, call: str) -> dict[str, Any]:
        response = self.call("POST", f"{PROFILES}/{profile_id}/{call}")
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    def replace(self, profile_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT, sending the profile's OrganizationId back as a client that read the profile first would (see
        :func:`test_put_without_organization_id_keeps_the_stored_one` for the omitted case)."""
        response = self.call("PUT", f"{PROFILES}/{profile_id}", json_body={**body, "OrganizationId": self.org_id})
        assert response.status_code == 200, response.text
        replaced: dict[str, Any] = response.json()
        return replaced

    def wait_states(self, profile_id: str, wanted: dict[str, str], timeout: float = 30.0) -> dict[str, dict[str, Any]]:
        """Wait until each named entity is in its wanted state; the entities' status."""

        def reached() -> dict[str, dict[str, Any]] | None:
            entities = self.entities(profile_id)
            done = all(entities.get(name, {}).get("State") == state for name, state in wanted.items())
            return entities if done else None

        return eventually(reached, f"entity states {wanted}", timeout)


class Source:
    """The emulator's org: rows read and changed through its Web API, workloads and request log via admin."""

    def __init__(self, info: EmulatorInfo) -> None:
        self.info = info
        token = emulator_admin(info, "POST", "tokens", {})["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=5000"}
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(info.ca_path)) if info.ca_path else True
        )

    def versions(self, entity: str) -> dict[str, int]:
        """Every current row of ``entity``: id -> versionnumber."""
        entity_set, key = WEB_API[entity]
        url: str | None = f"{self.info.base_url}/api/data/v9.2/{entity_set}?$select=versionnumber"
        found: dict[str, int] = {}
        while url:
            response = httpx.get(url, headers=self.headers, verify=self.verify, timeout=30)
            assert response.status_code == 200, response.text
            body = response.json()
            found.update({row[key]: int(row["versionnumber"]) for row in body["value"]})
            url = body.get("@odata.nextLink")
        return found

    def update(self, entity: str, record_id: str, values: dict[str, Any]) -> None:
        entity_set, _ = WEB_API[entity]
        url = f"{self.info.base_url}/api/data/v9.2/{entity_set}({record_id})"
        response = httpx.patch(url, json=values, headers=self.headers, verify=self.verify, timeout=30)
        assert response.status_code == 204, response.text

    def workload(self, **fields: Any) -> dict[str, Any]:
        done: dict[str, Any] = emulator_admin(self.info, "POST", f"orgs/{ORG}/workload", fields)
        return done

    def log_position(self) -> int:
        return int(emulator_admin(self.info, "GET", "requests?limit=1")["last_seq"])

    def change_tracking_reads(self, since: int) -> list[dict[str, Any]]:
        """Change-tracking reads (initial pages and deltas) of entity sets served after ``since``."""
        entries = emulator_admin(self.info, "GET", f"requests?since={since}")["entries"]
        return [
            entry
            for entry in entries
            if entry["entity_set"] and "odata.track-changes" in (entry["prefer"] or "") and entry["method"] == "GET"
        ]


class Replica:
    """A SQLite destination file, read (and, to make writes fail, altered) as its owner would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)

    def tables(self) -> set[str]:
        with self._read() as db:
            return {str(row[0]) for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def versions(self, table: str) -> dict[str, int]:
        with self._read() as db:
            return {str(row[0]): int(row[1]) for row in db.execute(f'SELECT "Id", versionnumber FROM "{table}"')}

    def names(self, table: str) -> dict[str, str]:
        with self._read() as db:
            return {str(row[0]): str(row[1]) for row in db.execute(f'SELECT "Id", name FROM "{table}"')}

    def deleted_ids(self, entity: str) -> set[str]:
        with self._read() as db:
            rows = db.execute('SELECT "RecordId" FROM "DeleteLog" WHERE "EntityName" = ?', (entity,))
            return {str(row[0]) for row in rows}

    def alter(self, *statements: str) -> None:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            for statement in statements:
                db.execute(statement)
            db.commit()
        finally:
            db.close()


def wait_converged(source: Source, replica: Replica, entities: tuple[str, ...], timeout: float = 30.0) -> None:
    """Wait until the destination holds exactly the source's rows and versions for ``entities``."""

    def same() -> bool:
        return all(source.versions(entity) == replica.versions(entity) for entity in entities)

    try:
        eventually(same, f"{entities} to converge", timeout)
    except AssertionError:
        for entity in entities:
            assert replica.versions(entity) == source.versions(entity), entity
        raise


def profile_body(name: str, key_vault_uri: str, entities: tuple[str, ...], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": name,
        "KeyVaultUri": key_vault_uri,
        "RetryCount": 1,
        "RetryInterval": 1,
        "WriteDeleteLog": True,
        "Entities": [{"Name": entity} for entity in entities],
        "Relationships": [],
    }
    body.update(fields)
    return body


# ----- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    with emulator_process(tmp_path_factory.mktemp("e2e-emulator")) as info:
        yield info


@pytest.fixture(scope="module")
def token(emulator: EmulatorInfo) -> str:
    minted = emulator_admin(emulator, "POST", "tokens", {"user": "admin", "aud": "api://dataexport"})
    return str(minted["access_token"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, emulator: EmulatorInfo) -> Iterator[ServeProcess]:
    served = ServeProcess(tmp_path_factory.mktemp("e2e-service"), emulator)
    served.start()
    try:
        yield served
    finally:
        served.close()
    served.check_log()


@pytest.fixture(scope="module")
def api(service: ServeProcess, token: str) -> Api:
    organizations = httpx.get(
        f"{service.url}{METADATA}/organizations", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert organizations.status_code == 200, organizations.text
    [organization] = organizations.json()
    client = Api(service, token, organization["OrganizationId"])
    accepted = client.call("POST", f"{METADATA}/acceptprivacyterms", organizationId=client.org_id)
    assert accepted.status_code == 204, accepted.text
    return client


@pytest.fixture(scope="module")
def source(emulator: EmulatorInfo) -> Source:
    return Source(emulator)


# ----- lifecycle ----------------------------------------------------------------------------------------------


def test_a_profile_lives_its_whole_lifecycle_over_http(service: ServeProcess, api: Api, source: Source) -> None:
    reference, path = service.destination("lifecycle")
    replica = Replica(path)
    body = profile_body("lifecycle", reference, ("account", "contact"))

    validated = api.call("POST", f"{PROFILES}/validate", json_body=body, organizationId=api.org_id)
    assert validated.status_code == 200, validated.text
    result = validated.json()
    assert result["ProfileId"] is None
    assert result["Succeeded"] is True
    assert [check["Name"] for check in result["Results"]] == list(CHECKS)
    assert {check["Status"] for check in result["Results"]} <= {"Passed", "Skipped"}
    passed = {check["Name"] for check in result["Results"] if check["Status"] == "Passed"}
    assert {"ProfileFields", "DataverseAccess", "EntitySelection", "SecretAccess", "DestinationConnection"} <= passed
    assert not path.exists(), "validate writes nothing"

    created = api.create(body)
    profile_id = created["Id"]
    assert (created["State"], created["ActivationMode"]) == ("Draft", None)

    activated = api.lifecycle(profile_id, "activate")
    assert (activated["State"], activated["ActivationMode"]) == ("Active", "Full")
    first = api.wait_states(profile_id, {"account": "Delta", "contact": "Delta"})
    wait_converged(source, replica, ("account", "contact"))
    assert first["contact"]["TotalRecords"] == len(source.versions("contact"))
    assert first["account"]["InitialSyncCompletedOn"] is not None

    # PUT adds lead while account keeps changing in the source: lead syncs, account's deltas go on.
    with ThreadPoolExecutor(1) as background:
        changing = background.submit(
            source.workload, seed=21, tables=["account"], updates=4, creates=2, spread_seconds=1.5
        )
        replaced = api.replace(profile_id, profile_body("lifecycle", reference, ("account", "contact", "lead")))
        created_meanwhile = {item["id"] for item in changing.result(timeout=60)["created"]}
    assert len(created_meanwhile) == 2
    assert [entity["Name"] for entity in replaced["Entities"]] == ["account", "contact", "lead"]
    assert replaced["State"] == "Active"
    api.wait_states(profile_id, {"lead": "Delta"})
    wait_converged(source, replica, ("account", "contact", "lead"))
    after_add = api.entities(profile_id)
    assert after_add["account"]["State"] == "Delta"
    assert after_add["account"]["InitialSyncCompletedOn"] == first["account"]["InitialSyncCompletedOn"], "no re-read"
    assert after_add["lead"]["TotalRecords"] == len(source.versions("lead"))
    assert created_meanwhile <= set(replica.versions("account"))

    # PUT removes contact: Removed, still listed, table and rows kept, no more polling.
    api.replace(profile_id, profile_body("lifecycle", reference, ("account", "lead")))
    removed = api.wait_states(profile_id, {"contact": "Removed"})
    assert removed["contact"]["TotalRecords"] == after_add["contact"]["TotalRecords"], "counters frozen"
    kept = replica.versions("contact")
    assert kept == source.versions("contact")
    changes = source.workload(seed=22, tables=["contact"], updates=3, deletes=1, creates=1)
    [gone] = [item["id"] for item in changes["deleted"]]
    time.sleep(2.5)  # over two polling ceilings: a selected entity would have seen the changes by now
    assert replica.versions("contact") == kept, "a Removed entity is not polled"
    assert gone in replica.versions("contact")

    # Re-adding it adopts the kept table and re-baselines: the delete made meanwhile is swept.
    api.replace(profile_id, profile_body("lifecycle", reference, ("account", "contact", "lead")))
    readded = api.wait_states(profile_id, {"contact": "Delta"})
    wait_converged(source, replica, ("account", "contact", "lead"))
    assert gone not in replica.versions("contact")
    assert gone in replica.deleted_ids("contact")
    # Counters restart on re-add: the full read plus the swept delete, nothing of the earlier life.
    assert readded["contact"]["TotalRecords"] == len(source.versions("contact")) + 1
    assert readded["contact"]["SyncedRecords"] == readded["contact"]["TotalRecords"]
    assert readded["contact"]["InitialSyncCompletedOn"] != first["contact"]["InitialSyncCompletedOn"]

    deactivated = api.lifecycle(profile_id, "deactivate")
    assert (deactivated["State"], deactivated["ActivationMode"]) == ("Inactive", None)
    deleted = api.call("DELETE", f"{PROFILES}/{profile_id}")
    assert deleted.status_code == 204, deleted.text
    missing = api.call("GET", f"{PROFILES}/{profile_id}")
    assert missing.status_code == 404
    assert missing.json()["Error"]["Code"] == "ProfileNotFound"
    assert {"account", "contact", "lead", "DeleteLog", "AttributeMetadata"} <= replica.tables()
    assert replica.versions("lead") == source.versions("lead"), "the destination is never touched by delete"


# ----- failure logs and resyncfailed -----------------------------------------------------------------------


def _file_url(listing_url: str, path: str) -> str:
    """The URL of one listed file: the listing's path plus the file's, with the same signed query."""
    parts = urlsplit(listing_url)
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}/{path}", parts.query, ""))


def _download(link: str) -> tuple[list[str], dict[str, httpx.Response]]:
    """Every file the signed link lists, fetched without a bearer token: the paths, and each response."""
    listing = httpx.get(link, timeout=30)
    assert listing.status_code == 200, listing.text
    paths = [str(item["Path"]) for item in listing.json()["Files"]]
    return paths, {path: httpx.get(_file_url(link, path), timeout=30) for path in paths}


def _failed_records(api: Api, profile_id: str, entity: str, count: int) -> dict[str, Any] | None:
    status = api.entities(profile_id)[entity]
    return status if status["FailedRecords"] == count else None


def _completed_resync(api: Api, profile_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] | None = api.profile(profile_id)["Status"]["Resync"]
    return run if run is not None and run["State"] == "Completed" else None


def test_refused_records_are_logged_in_des_format_and_resync_brings_them(
    service: ServeProcess, api: Api, source: Source
) -> None:
    reference, path = service.destination("failures")
    replica = Replica(path)
    profile_id = api.create(profile_body("failures", reference, ("account",)))["Id"]
    api.lifecycle(profile_id, "activate")
    api.wait_states(profile_id, {"account": "Delta"})
    wait_converged(source, replica, ("account",))

    # The destination's owner adds a rule the writer cannot satisfy: writes of REJECT names are refused.
    replica.alter(
        f"CREATE TRIGGER reject_insert BEFORE INSERT ON account WHEN NEW.name LIKE 'REJECT%' "
        f"BEGIN SELECT RAISE(ABORT, '{REJECTED}'); END",
        f"CREATE TRIGGER reject_update BEFORE UPDATE ON account WHEN NEW.name LIKE 'REJECT%' "
        f"BEGIN SELECT RAISE(ABORT, '{REJECTED}'); END",
    )
    first, second, fine = sorted(source.versions("account"))[:3]
    started = datetime.now(UTC).replace(microsecond=0)
    source.update("account", first, {"name": "REJECT one"})
    source.update("account", second, {"name": "REJECT two"})
    source.update("account", fine, {"name": "Accepted three"})
    failed = eventually(lambda: _failed_records(api, profile_id, "account", 2), "two records given up")
    assert failed["State"] == "Delta", "record failures never stop the entity"
    assert api.profile(profile_id)["Status"]["FailedNotificationsCount"] == 2
    wanted = source.versions("account")
    assert replica.versions("account")[fine] == wanted[fine], "the stream went on past the refused records"
    assert replica.names("account")[fine] == "Accepted three"
    assert replica.versions("account")[first] < wanted[first]

    # The failure URL: no bearer token needed to use it, DES lines in failurelog/, records as read in data/.
    assert api.call("GET", f"{PROFILES}/{profile_id}/failures", auth=False).status_code == 401
    shared = api.call("GET", f"{PROFILES}/{profile_id}/failures")
    assert shared.status_code == 200, shared.text
    link, expires = shared.json()["FailuresBlobUri"], shared.json()["ExpiresOn"]
    paths, files = _download(link)
    assert link.startswith(f"{service.url}/crm/exporter/failurestore/{profile_id}?se=")
    expires_on = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    assert expires_on <= datetime.now(UTC) + timedelta(seconds=URL_TTL_SECONDS)
    assert all(response.status_code == 200 for response in files.values()), files
    logs = [name for name in paths if name.startswith("failurelog/") and name.endswith(".log")]
    lines = [line for name in logs for line in files[name].text.splitlines()]
    parsed = [DES_LINE.match(line) for line in lines]
    assert parsed, paths
    assert all(parsed), lines
    assert sorted(match["id"] for match in parsed if match) == sorted([first, second])
    for match in parsed:
        assert match is not None
        assert (match["entity"], match["change"]) == ("account", "Update")
        assert REJECTED in match["reason"]
        read_at = datetime.strptime(match["time"], "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)
        assert started - timedelta(seconds=2) <= read_at <= datetime.now(UTC)
    records = {name.rsplit("/", 1)[-1].split("_")[1]: files[name].json() for name in paths if name.startswith("data/")}
    assert {key: record["name"] for key, record in records.items()} == {first: "REJECT one", second: "REJECT two"}

    time.sleep(max(0.0, (expires_on - datetime.now(UTC)).total_seconds()) + 1.2)
    for url in (link, _file_url(link, logs[0])):
        expired = httpx.get(url, timeout=30)
        assert expired.status_code == 403, url
        assert expired.json()["Error"]["Code"] == "InvalidSignature"

    # The owner lifts the rule; resyncfailed re-reads the failed records and writes them.
    replica.alter("DROP TRIGGER reject_insert", "DROP TRIGGER reject_update")
    started_run = api.call("POST", f"{PROFILES}/{profile_id}/resyncfailed")
    assert started_run.status_code == 200, started_run.text
    run = started_run.json()
    assert (run["ProfileId"], run["QueuedRecords"]) == (profile_id, 2)
    resync = eventually(lambda: _completed_resync(api, profile_id), "the resync run to complete")
    assert (resync["RunId"], resync["QueuedRecords"], resync["Succeeded"], resync["Failed"]) == (run["RunId"], 2, 2, 0)
    assert resync["CompletedOn"] is not None
    wait_converged(source, replica, ("account",))
    assert (replica.names("account")[first], replica.names("account")[second]) == ("REJECT one", "REJECT two")
    assert api.profile(profile_id)["Status"]["FailedNotificationsCount"] == 0
    assert api.entities(profile_id)["account"]["FailedRecords"] == 0
    again, _ = _download(api.call("GET", f"{PROFILES}/{profile_id}/failures").json()["FailuresBlobUri"])
    assert set(logs) <= set(again), "the ledger is append-only"
    api.lifecycle(profile_id, "deactivate")


# ----- the CLI client ----------------------------------------------------------------------------------------


def run_cli(service: ServeProcess, token: str, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """``dataexport <command>`` for each command, as a user runs it (DATAEXPORT_URL / DATAEXPORT_TOKEN), all at
    once: each process spends most of its time importing, so independent commands run side by side."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("DATAEXPORT_")}
    environ |= {"DATAEXPORT_URL": service.url, "DATAEXPORT_TOKEN": token, "COLUMNS": "250", "NO_COLOR": "1"}
    started = [
        (
            command,
            subprocess.Popen(
                [str(DATAEXPORT), *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
            ),
        )
        for command in commands
    ]
    done = []
    for command, process in started:
        stdout, stderr = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return done


def test_the_cli_manages_a_profile_on_the_real_service(
    service: ServeProcess, api: Api, token: str, source: Source
) -> None:
    reference, path = service.destination("cli")
    create = ["profiles", "create", "--name", "cli", "--key-vault-uri", reference, "--entity", "account"]
    orgs, created = run_cli(service, token, ["orgs", "list"], [*create, "--retry-count", "1", "--retry-interval", "1"])
    assert orgs.returncode == 0, orgs.stderr
    assert api.org_id in orgs.stdout
    assert created.returncode == 0, created.stderr
    found = re.search(r"Created profile ([0-9a-f-]{36})\.", created.stdout)
    assert found, created.stdout
    profile_id = found[1]
    assert (api.profile(profile_id)["Name"], api.profile(profile_id)["RetryCount"]) == ("cli", 1)

    [activated] = run_cli(service, token, ["profiles", "activate", profile_id])
    assert activated.returncode == 0, activated.stderr
    assert f"Profile {profile_id} is now Active (Full)." in activated.stdout
    api.wait_states(profile_id, {"account": "Delta"})
    wait_converged(source, Replica(path), ("account",))

    listed, shown, tested, failures, resynced = run_cli(
        service,
        token,
        ["profiles", "list"],
        ["profiles", "show", profile_id, "--status"],
        ["profiles", "test", profile_id],
        ["profiles", "failures", profile_id],
        ["profiles", "resync", profile_id],
    )
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"{profile_id}\W+cli\W", listed.stdout), listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"account\W+Delta\W+{len(source.versions('account'))}\W", shown.stdout), shown.stdout
    assert tested.returncode == 0, tested.stdout
    assert "Checks: all passed" in tested.stdout
    assert all(name in tested.stdout for name in CHECKS)
    assert failures.returncode == 0, failures.stderr
    assert f"{service.url}/crm/exporter/failurestore/{profile_id}?se=" in failures.stdout
    assert "ExpiresOn" in failures.stdout
    assert resynced.returncode == 0, resynced.stderr
    assert "Resync started" in resynced.stdout
    assert re.search(r"QueuedRecords\W+0\W", resynced.stdout), resynced.stdout

    # Deleting an Active profile: the API's 409 is shown as sent, and the command fails.
    refusal = api.call("DELETE", f"{PROFILES}/{profile_id}")
    assert refusal.status_code == 409
    error = refusal.json()["Error"]
    assert error["Code"] == "ProfileActive"
    refused, as_json = run_cli(
        service, token, ["profiles", "delete", profile_id], ["profiles", "delete", profile_id, "--json"]
    )
    assert refused.returncode == 1
    assert f"Error 409 ProfileActive: {error['Message']}" in refused.stderr
    assert "Deleted" not in refused.stdout
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == refusal.json()
    assert api.profile(profile_id)["State"] == "Active"

    [deactivated] = run_cli(service, token, ["profiles", "deactivate", profile_id])
    assert deactivated.returncode == 0, deactivated.stderr
    assert f"Profile {profile_id} is now Inactive." in deactivated.stdout
    [deleted] = run_cli(service, token, ["profiles", "delete", profile_id])
    assert deleted.returncode == 0, deleted.stderr
    assert f"Deleted profile {profile_id}." in deleted.stdout
    [gone] = run_cli(service, token, ["profiles", "show", profile_id])
    assert gone.returncode == 1
    not_found = api.call("GET", f"{PROFILES}/{profile_id}").json()["Error"]
    assert f"Error 404 {not_found['Code']}: {not_found['Message']}" in gone.stderr


# ----- restarts -------------------------------------------------------------------------------------------------


def _restart_and_check(
    service: ServeProcess,
    api: Api,
    source: Source,
    replica: Replica,
    profile_id: str,
    sig: signal.Signals,
    changes: dict[str, list[str]],
) -> None:
    """Stop the service with ``sig``, change the source while it is down, start it again and check that every
    entity resumed from its saved link: only delta reads, counters grown by exactly the changes."""
    before = api.entities(profile_id)
    service.stop_between_steps(sig)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{service.url}/healthz", timeout=2)
    stamp = time.time_ns()
    for entity, ids in changes.items():
        for record_id in ids:
            source.update(entity, record_id, {"description": f"changed while down {stamp}"})
    position = source.log_position()
    service.start()
    assert api.profile(profile_id)["State"] == "Active"
    wait_converged(source, replica, tuple(changes))

    def counted() -> dict[str, dict[str, Any]] | None:
        entities = api.entities(profile_id)
        grown = all(
            entities[entity]["TotalRecords"] == before[entity]["TotalRecords"] + len(ids)
            for entity, ids in changes.items()
        )
        return entities if grown else None

    after = eventually(counted, "the counters to count exactly the changes made while down")
    for entity in changes:
        assert after[entity]["State"] == "Delta"
        assert after[entity]["InitialSyncCompletedOn"] == before[entity]["InitialSyncCompletedOn"], entity
        assert after[entity]["SyncedRecords"] == after[entity]["TotalRecords"]
    reads = source.change_tracking_reads(position)
    assert {entry["entity_set"] for entry in reads} >= {WEB_API[entity][0] for entity in changes}
    full = [entry for entry in reads if "$deltatoken" not in entry["query"]]
    assert not full, f"reads from the start after a restart: {full}"


def test_a_restarted_service_resumes_every_entity_from_its_saved_link(
    service: ServeProcess, api: Api, source: Source
) -> None:
    reference, path = service.destination("restart")
    replica = Replica(path)
    profile_id = api.create(profile_body("restart", reference, ("account", "contact")))["Id"]
    api.lifecycle(profile_id, "activate")
    api.wait_states(profile_id, {"account": "Delta", "contact": "Delta"})
    wait_converged(source, replica, ("account", "contact"))
    accounts, contacts = sorted(source.versions("account")), sorted(source.versions("contact"))

    _restart_and_check(
        service, api, source, replica, profile_id, signal.SIGTERM, {"account": accounts[:1], "contact": contacts[:2]}
    )
    _restart_and_check(
        service, api, source, replica, profile_id, signal.SIGKILL, {"account": accounts[1:3], "contact": contacts[2:3]}
    )
    api.lifecycle(profile_id, "deactivate")


def test_put_without_organization_id_keeps_the_stored_one(service: ServeProcess, api: Api) -> None:
    reference, _ = service.destination("put")
    body = profile_body("put", reference, ("account",))
    profile_id = api.create(body)["Id"]
    replaced = api.call("PUT", f"{PROFILES}/{profile_id}", json_body={**body, "RetryCount": 4})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["OrganizationId"], replaced.json()["RetryCount"]) == (api.org_id, 4)


def test_sigterm_closes_the_runtime_and_exits_0(tmp_path: Path, emulator: EmulatorInfo) -> None:
    served = ServeProcess(tmp_path / "service", emulator)
    served.start()
    try:
        code = served.stop(signal.SIGTERM)
    finally:
        served.close()
    assert not (served.data_dir / "control.db-wal").exists(), "the control store was not closed"
    assert code == 0
