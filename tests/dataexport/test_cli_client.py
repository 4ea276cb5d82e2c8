"""``dataexport orgs ...`` and ``dataexport profiles ...`` against a real HTTP server speaking the §3 contract.

The server here is a test double of the service's HTTP contract (spec des.md §3, §5, §8.6-8.7): a small FastAPI
app with the exact JSON shapes and error bodies, served on a loopback port, which records every request it gets.
The real service gets its own end-to-end CLI test. The Azure download runs against a real Azurite.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from typer.testing import CliRunner, Result

from dataexport.cli.main import app
from dataverse_emulator.identity.tls import ensure_certificates
from support.azurite import ACCOUNT, ACCOUNT_KEY, run_azurite
from support.servers import serve_on_loopback

TOKEN = "cli-test-token-9f3a1c"
ORG_ID = "5f0b8c5e-3c1d-4a8e-9a53-2f8f1a7c6d10"
ORG_URL = "https://contoso.crm11.dynamics.com"
PROFILE_ID = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
DRAFT_ID = "c1d2e3f4-0000-4000-8000-000000000001"
SIGNATURE = "c2lnbmF0dXJl"
NEW_ORG_ID = "7a7a7a7a-0000-4000-8000-000000000007"
PRIVACY_MESSAGE = (
    "The organization has not accepted the privacy terms. Call POST /crm/exporter/metadata/acceptprivacyterms first."
)

ORGANIZATION = {
    "OrganizationId": ORG_ID,
    "OrganizationUrl": ORG_URL,
    "FriendlyName": "Contoso Sales",
    "UniqueName": "org8a1b2c3d",
    "TenantId": "0c7e5b0a-6f0e-4b8d-9d0b-1e2f3a4b5c6d",
    "Region": "GBR",
    "PrivacyTermsAccepted": True,
}
PROFILE = {
    "Id": PROFILE_ID,
    "Name": "Sales to reporting",
    "OrganizationId": ORG_ID,
    "KeyVaultUri": "env:REPORTING_SQL",
    "SchemaName": "dbo",
    "TablePrefix": "crm",
    "RetryCount": 12,
    "RetryInterval": 5,
    "WriteDeleteLog": True,
    "Entities": [{"Name": "account"}, {"Name": "contact"}],
    "Relationships": [],
    "State": "Active",
    "ActivationMode": "Full",
    "CreatedOn": "2025-03-07T09:12:44Z",
    "ModifiedOn": "2025-03-07T09:31:20Z",
}
STATUS = {
    "FailedNotificationsCount": 1,
    "LastSynchronizedOn": "2025-03-07T10:41:03Z",
    "LagSeconds": 61,
    "LastError": None,
    "Resync": None,
    "Relationships": [],
    "Entities": [
        {
            "Name": "account",
            "State": "Delta",
            "StateReason": None,
            "TotalRecords": 48211,
            "SyncedRecords": 48209,
            "FailedRecords": 1,
            "LastSynchronizedOn": "2025-03-07T10:41:03Z",
            "LagSeconds": 61,
            "InitialSyncCompletedOn": "2025-03-07T09:31:20Z",
            "LastError": None,
        },
        {
            "Name": "contact",
            "State": "Failed",
            "StateReason": None,
            "TotalRecords": 0,
            "SyncedRecords": 0,
            "FailedRecords": 0,
            "LastSynchronizedOn": None,
            "LagSeconds": None,
            "InitialSyncCompletedOn": None,
            "LastError": "Table 'dbo.crm_contact' cannot be created: permission denied.",
        },
    ],
}
TEST_RESULT = {
    "ProfileId": PROFILE_ID,
    "Succeeded": False,
    "StartedOn": "2025-03-07T09:13:02Z",
    "CompletedOn": "2025-03-07T09:13:05Z",
    "Results": [
        {"Name": "ProfileFields", "Status": "Passed", "Message": "All fields are valid.", "Details": []},
        {
            "Name": "SecretAuthorization",
            "Status": "Failed",
            "Message": f"Secret 'reporting-sql' has no tag named '{ORG_ID}'.",
            "Details": [],
        },
        {
            "Name": "DestinationObjects",
            "Status": "Warning",
            "Message": "1 table will be adopted.",
            "Details": [{"Field": "account", "Code": "TableExists", "Message": "Table 'dbo.crm_account' exists."}],
        },
        {
            "Name": "DestinationConnection",
            "Status": "Skipped",
            "Message": "Skipped: ConnectionString did not pass.",
            "Details": [],
        },
    ],
}
FAILURE_FILES = {
    "failurelog/2025/03/07/14/20250307T140509Z-1.log": (
        "Entity: contact, RecordId: 0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22, NotificationTime: 3/7/2025 2:05:09 PM, "
        "ChangeType: Update, FailureReason: Cannot create a row of size 8112.\n"
    ),
    "data/2025/03/07/14/contact_0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22_20250307T140509Z.json": '{"contactid": "0d9e"}',
}


@dataclass
class Seen:
    """One request the double received."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: object = None


@dataclass
class Double:
    """What the double received, and what its failures route answers (a local URL unless a test sets one)."""

    requests: list[Seen] = field(default_factory=list)
    failures_uri: str | None = None

    def last(self, path_end: str) -> Seen:
        return next(seen for seen in reversed(self.requests) if seen.path.endswith(path_end))


def error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"Error": {"Code": code, "Message": message, **extra}}, status_code=status)


def contract_double(double: Double) -> FastAPI:
    """The §3 routes these tests call, with the spec's shapes; requests without the bearer token get 401."""
    api = FastAPI()

    @api.middleware("http")
    async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
        raw = await request.body()
        seen = Seen(
            request.method,
            request.url.path,
            dict(request.query_params),
            request.headers.get("authorization"),
            json.loads(raw) if raw else None,
        )
        double.requests.append(seen)
        is_signed = request.url.path.startswith("/crm/exporter/failurestore/")
        if not is_signed and seen.authorization != f"Bearer {TOKEN}":
            return error(401, "Unauthorized", "A valid bearer token is required.")
        return await call_next(request)

    metadata = "/crm/exporter/metadata"
    profiles = "/crm/exporter/profiles"

    @api.get(f"{metadata}/organizations")
    def organizations() -> list[dict[str, object]]:
        return [ORGANIZATION]

    @api.get(f"{metadata}/discover")
    def discover(organizationId: str | None = None, organizationUrl: str | None = None) -> object:
        if organizationId not in (None, ORG_ID) or organizationUrl not in (None, ORG_URL):
            return error(404, "OrganizationNotFound", "No registered organization matches the query.")
        return ORGANIZATION

    @api.get(f"{metadata}/hasorgacceptedprivacyterms")
    def has_accepted() -> bool:
        return False

    @api.post(f"{metadata}/acceptprivacyterms", status_code=204)
    def accept() -> Response:
        return Response(status_code=204)

    @api.get(profiles)
    def list_profiles(organizationId: str | None = None, status: str | None = None) -> object:
        if organizationId == NEW_ORG_ID:
            return error(403, "PrivacyTermsNotAccepted", PRIVACY_MESSAGE)
        return [PROFILE | {"Status": STATUS}] if status == "true" else [PROFILE]

    @api.post(profiles, status_code=201)
    async def create(request: Request) -> object:
        body = await request.json()
        if body.get("TablePrefix") == "waytoolongprefix":
            details = [
                {
                    "Field": "TablePrefix",
                    "Code": "TooLong",
                    "Message": "TablePrefix must be shorter than 15 characters.",
                },
                {"Field": "Entities[0].Name", "Code": "UnknownEntity", "Message": "Entity 'x' does not exist."},
            ]
            return error(400, "ValidationFailed", "One or more fields are invalid.", Details=details)
        created = PROFILE | body | {"Id": DRAFT_ID, "State": "Draft", "ActivationMode": None}
        return JSONResponse(created, status_code=201, headers={"Location": f"{profiles}/{DRAFT_ID}"})

    @api.get(f"{profiles}/{{profile_id}}")
    def get_profile(profile_id: str, status: str | None = None) -> object:
        if profile_id != PROFILE_ID:
            return error(404, "ProfileNotFound", f"Profile '{profile_id}' does not exist.")
        return PROFILE | {"Status": STATUS} if status == "true" else PROFILE

    @api.put(f"{profiles}/{{profile_id}}")
    async def update(profile_id: str, request: Request) -> object:
        return PROFILE | await request.json()

    @api.delete(f"{profiles}/{{profile_id}}")
    def delete(profile_id: str) -> Response:
        if profile_id == PROFILE_ID:
            return error(409, "ProfileActive", "The profile is active: deactivate it first.")
        return Response(status_code=204)

    @api.post(f"{profiles}/{{profile_id}}/activate")
    def activate(profile_id: str) -> object:
        return error(409, "PreflightFailed", "Activation checks failed.", TestResult=TEST_RESULT)

    @api.post(f"{profiles}/{{profile_id}}/activatemetadata")
    def activate_metadata(profile_id: str) -> object:
        return PROFILE | {"Id": profile_id, "State": "Active", "ActivationMode": "MetadataOnly"}

    @api.post(f"{profiles}/{{profile_id}}/deactivate")
    def deactivate(profile_id: str) -> object:
        return PROFILE | {"Id": profile_id, "State": "Inactive", "ActivationMode": None}

    @api.get(f"{profiles}/{{profile_id}}/test")
    def test(profile_id: str) -> object:
        return TEST_RESULT

    @api.post(f"{profiles}/validate")
    def validate() -> object:
        return TEST_RESULT | {"ProfileId": None, "Succeeded": True, "Results": TEST_RESULT["Results"][:1]}

    @api.get(f"{profiles}/{{profile_id}}/failures")
    def failures(profile_id: str, request: Request) -> object:
        expires = datetime(2025, 3, 8, 10, tzinfo=UTC)
        local = (
            f"{request.base_url}crm/exporter/failurestore/{profile_id}?se={int(expires.timestamp())}&sig={SIGNATURE}"
        )
        return {"FailuresBlobUri": double.failures_uri or local, "ExpiresOn": "2025-03-08T10:00:00Z"}

    @api.post(f"{profiles}/{{profile_id}}/resyncfailed")
    def resync(profile_id: str) -> object:
        return {"ProfileId": profile_id, "RunId": "e1f2a3b4-0000-4000-8000-00000000000e", "QueuedRecords": 42}

    @api.get("/crm/exporter/failurestore/{profile_id}")
    def listing(profile_id: str, sig: str | None = None) -> object:
        if sig != SIGNATURE:
            return error(403, "InvalidSignature", "The signature is missing, wrong or expired.")
        files = [
            {"Path": path, "Size": len(text), "LastModified": "2025-03-07T14:05:09Z"}
            for path, text in FAILURE_FILES.items()
        ]
        return {"Files": files}

    @api.get("/crm/exporter/failurestore/{profile_id}/{path:path}")
    def failure_file(profile_id: str, path: str, sig: str | None = None) -> Response:
        if sig != SIGNATURE:
            return error(403, "InvalidSignature", "The signature is missing, wrong or expired.")
        return Response(FAILURE_FILES[path], media_type="application/octet-stream")

    return api


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Double]]:
    double = Double()
    with serve_on_loopback(contract_double(double)) as port:
        yield f"http://127.0.0.1:{port}", double


@pytest.fixture
def service(server: tuple[str, Double]) -> tuple[str, Double]:
    url, double = server
    double.requests.clear()
    double.failures_uri = None
    return url, double


def run(url: str, *args: str, token: str | None = TOKEN, stdin: str | None = None) -> Result:
    """Invoke ``dataexport`` in-process with the connection in the environment; the token is never printed."""
    env = {"DATAEXPORT_URL": url, "DATAEXPORT_TOKEN": token, "DATAEXPORT_ORG": None, "DATAEXPORT_CA_FILE": None}
    result = CliRunner().invoke(app, list(args), env=env | {"COLUMNS": "220"}, input=stdin)
    assert TOKEN not in result.output
    return result


def test_orgs_list_prints_a_table_and_sends_the_bearer_token(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "orgs", "list")
    assert result.exit_code == 0, result.output
    assert "Contoso Sales" in result.stdout
    assert ORG_ID in result.stdout
    assert double.last("/organizations").authorization == f"Bearer {TOKEN}"


def test_orgs_show_sends_an_id_as_organization_id_and_a_url_as_organization_url(service: tuple[str, Double]) -> None:
    url, double = service
    by_id = run(url, "orgs", "show", "--org", ORG_ID)
    assert by_id.exit_code == 0, by_id.output
    assert double.last("/discover").query == {"organizationId": ORG_ID}
    by_url = run(url, "orgs", "show", "--org", ORG_URL)
    assert by_url.exit_code == 0, by_url.output
    assert double.last("/discover").query == {"organizationUrl": ORG_URL}
    assert "0c7e5b0a-6f0e-4b8d-9d0b-1e2f3a4b5c6d" in by_url.stdout


def test_json_prints_the_response_as_sent(service: tuple[str, Double]) -> None:
    url, _ = service
    orgs = run(url, "orgs", "list", "--json")
    assert json.loads(orgs.stdout) == [ORGANIZATION]
    terms = run(url, "orgs", "terms", "--org", ORG_ID, "--json")
    assert terms.exit_code == 0
    assert json.loads(terms.stdout) is False


def test_terms_and_accept_terms(service: tuple[str, Double]) -> None:
    url, double = service
    terms = run(url, "orgs", "terms", "--org", ORG_ID)
    assert "has NOT accepted the privacy terms" in terms.stdout
    accepted = run(url, "orgs", "accept-terms", "--org", ORG_URL)
    assert accepted.exit_code == 0, accepted.output
    seen = double.last("/acceptprivacyterms")
    assert (seen.method, seen.query) == ("POST", {"organizationUrl": ORG_URL})
    assert f"Privacy terms accepted for organization {ORG_URL}" in accepted.stdout


def test_profiles_list_with_status(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "list", "--org", ORG_ID, "--status")
    assert result.exit_code == 0, result.output
    assert double.last("/profiles").query == {"organizationId": ORG_ID, "status": "true"}
    row = next(line for line in result.stdout.splitlines() if PROFILE_ID in line)
    assert "Sales to reporting" in row
    assert "account, contact" in row
    assert "1m01s" in row


def test_profiles_show_status_prints_the_per_entity_table(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "show", PROFILE_ID, "--status")
    assert result.exit_code == 0, result.output
    assert double.last(PROFILE_ID).query == {"status": "true"}
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "LastError" in line and "Synced" in line)
    assert header.replace("┃", " ").split() == [
        "Name",
        "State",
        "Total",
        "Synced",
        "Failed",
        "Lag",
        "LastError",
    ]
    account = next(line for line in lines if line.startswith("│ account "))
    assert account.replace("│", " ").split() == ["account", "Delta", "48211", "48209", "1", "1m01s", "-"]
    contact = next(line for line in lines if line.startswith("│ contact "))
    assert "Failed" in contact
    assert "Table 'dbo.crm_contact' cannot be created: permission denied." in contact


def test_profiles_create_from_options_sends_only_the_given_fields(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(
        url,
        "profiles",
        "create",
        "--org",
        ORG_URL,
        "--name",
        "Nightly",
        "--key-vault-uri",
        "env:REPORTING_SQL",
        "--entity",
        "account",
        "--entity",
        "contact,lead",
        "--retry-count",
        "3",
        "--delete-log",
    )
    assert result.exit_code == 0, result.output
    seen = double.last("/profiles")
    assert (seen.method, seen.query) == ("POST", {"organizationUrl": ORG_URL})
    assert seen.body == {
        "Name": "Nightly",
        "KeyVaultUri": "env:REPORTING_SQL",
        "RetryCount": 3,
        "WriteDeleteLog": True,
        "Entities": [{"Name": "account"}, {"Name": "contact"}, {"Name": "lead"}],
    }
    assert f"Created profile {DRAFT_ID}." in result.stdout
    assert "Draft" in result.stdout


def test_profiles_create_from_standard_input_sends_the_body_as_is(service: tuple[str, Double]) -> None:
    url, double = service
    body = {"Name": "From a file", "KeyVaultUri": "env:X", "Entities": [{"Name": "account"}], "SchemaName": "rep"}
    result = run(url, "profiles", "create", "--org", ORG_ID, "--file", "-", "--json", stdin=json.dumps(body))
    assert result.exit_code == 0, result.output
    assert double.last("/profiles").body == body
    assert json.loads(result.stdout)["Id"] == DRAFT_ID


def test_profiles_update_puts_the_file(service: tuple[str, Double], tmp_path: Path) -> None:
    url, double = service
    body = PROFILE | {"Entities": [{"Name": "account"}, {"Name": "contact"}, {"Name": "opportunity"}]}
    file = tmp_path / "profile.json"
    file.write_text(json.dumps(body))
    result = run(url, "profiles", "update", PROFILE_ID, "--file", str(file))
    assert result.exit_code == 0, result.output
    seen = double.last(PROFILE_ID)
    assert (seen.method, seen.body) == ("PUT", body)
    assert "account, contact, opportunity" in result.stdout


def test_validation_errors_are_printed_with_every_detail(service: tuple[str, Double]) -> None:
    url, _ = service
    args = ("--name", "n", "--key-vault-uri", "env:X", "--entity", "x", "--prefix", "waytoolongprefix")
    result = run(url, "profiles", "create", "--org", ORG_ID, *args)
    assert result.exit_code == 1
    assert "Error 400 ValidationFailed: One or more fields are invalid." in result.stderr
    assert "  TablePrefix: TooLong - TablePrefix must be shorter than 15 characters." in result.stderr
    assert "  Entities[0].Name: UnknownEntity - Entity 'x' does not exist." in result.stderr


def test_error_body_with_json_is_printed_raw(service: tuple[str, Double]) -> None:
    url, _ = service
    result = run(url, "profiles", "delete", PROFILE_ID, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "Error": {"Code": "ProfileActive", "Message": "The profile is active: deactivate it first."}
    }


def test_delete(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "delete", DRAFT_ID, "--org", ORG_ID)
    assert result.exit_code == 0, result.output
    seen = double.last(DRAFT_ID)
    assert (seen.method, seen.query) == ("DELETE", {"organizationId": ORG_ID})
    assert f"Deleted profile {DRAFT_ID}." in result.stdout


def test_preflight_failure_prints_the_check_table(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "activate", PROFILE_ID)
    assert result.exit_code == 1
    assert double.last("/activate").method == "POST"
    assert "Error 409 PreflightFailed: Activation checks failed." in result.stderr
    failed = next(line for line in result.stderr.splitlines() if "SecretAuthorization" in line)
    assert "Failed" in failed
    assert f"no tag named '{ORG_ID}'" in failed


def test_activate_mode_picks_the_route_and_deactivate_reports_the_state(service: tuple[str, Double]) -> None:
    url, double = service
    activated = run(url, "profiles", "activate", DRAFT_ID, "--mode", "metadata")
    assert activated.exit_code == 0, activated.output
    assert double.requests[-1].path == f"/crm/exporter/profiles/{DRAFT_ID}/activatemetadata"
    assert f"Profile {DRAFT_ID} is now Active (MetadataOnly)." in activated.stdout
    deactivated = run(url, "profiles", "deactivate", DRAFT_ID)
    assert f"Profile {DRAFT_ID} is now Inactive." in deactivated.stdout


def test_test_prints_each_check_and_fails_when_one_fails(service: tuple[str, Double]) -> None:
    url, _ = service
    result = run(url, "profiles", "test", PROFILE_ID)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    statuses = {name: next(line for line in lines if name in line) for name in ("ProfileFields", "DestinationObjects")}
    assert "Passed" in statuses["ProfileFields"]
    assert "Warning" in statuses["DestinationObjects"]
    assert "account: TableExists - Table 'dbo.crm_account' exists." in result.stdout
    assert "Checks: FAILED" in result.stdout


def test_validate_sends_the_body_and_succeeds_when_every_check_passes(
    service: tuple[str, Double], tmp_path: Path
) -> None:
    url, double = service
    file = tmp_path / "profile.json"
    file.write_text(json.dumps({"Name": "n", "KeyVaultUri": "env:X", "Entities": [{"Name": "account"}]}))
    result = run(url, "profiles", "validate", "--file", str(file), "--org", ORG_ID)
    assert result.exit_code == 0, result.output
    seen = double.last("/validate")
    assert (seen.query, seen.body) == ({"organizationId": ORG_ID}, json.loads(file.read_text()))
    assert "Checks: all passed" in result.stdout


def test_failures_downloads_the_local_store_without_the_token(service: tuple[str, Double], tmp_path: Path) -> None:
    url, double = service
    result = run(url, "profiles", "failures", PROFILE_ID, "--download", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"/crm/exporter/failurestore/{PROFILE_ID}?se=" in result.stdout
    assert "2025-03-08T10:00:00Z" in result.stdout
    for path, text in FAILURE_FILES.items():
        assert (tmp_path / "out" / path).read_text() == text
    signed = [seen for seen in double.requests if "/failurestore/" in seen.path]
    assert len(signed) == 1 + len(FAILURE_FILES)
    assert all(seen.authorization is None and seen.query["sig"] == SIGNATURE for seen in signed)
    assert f"Downloaded {len(FAILURE_FILES)} files" in result.stdout


def test_failures_download_reports_a_refused_signature(service: tuple[str, Double], tmp_path: Path) -> None:
    url, double = service
    double.failures_uri = f"{url}/crm/exporter/failurestore/{PROFILE_ID}?se=1&sig=forged"
    result = run(url, "profiles", "failures", PROFILE_ID, "--download", str(tmp_path))
    assert result.exit_code == 1
    assert "HTTP 403" in result.stderr
    assert "InvalidSignature" in result.stderr
    assert "ask for a new one" in result.stderr


def test_resync_prints_the_run(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "resync", PROFILE_ID)
    assert result.exit_code == 0, result.output
    assert double.last("/resyncfailed").method == "POST"
    assert "e1f2a3b4-0000-4000-8000-00000000000e" in result.stdout
    assert "42" in result.stdout


def test_401_prints_the_error_and_the_token_hint(service: tuple[str, Double]) -> None:
    url, double = service
    result = run(url, "profiles", "list", "--org", ORG_ID, token="wrong-token")
    assert result.exit_code == 1
    assert "Error 401 Unauthorized: A valid bearer token is required." in result.stderr
    assert "set DATAEXPORT_TOKEN" in result.stderr
    assert "wrong-token" not in result.output
    missing = run(url, "orgs", "list", token=None)
    assert missing.exit_code == 1
    assert double.requests[-1].authorization is None


def test_privacy_gate_prints_the_message_and_how_to_accept(service: tuple[str, Double]) -> None:
    url, _ = service
    result = run(url, "profiles", "list", "--org", NEW_ORG_ID)
    assert result.exit_code == 1
    assert f"Error 403 PrivacyTermsNotAccepted: {PRIVACY_MESSAGE}" in result.stderr
    assert "dataexport orgs accept-terms --org" in result.stderr


def test_unreachable_service(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = run(url, "orgs", "list")
    assert result.exit_code == 1
    assert f"cannot reach the service at {url}: start it with `dataexport serve` or set DATAEXPORT_URL" in result.stderr


def test_private_ca_is_trusted_only_with_ca_file(tmp_path: Path) -> None:
    tls = ensure_certificates(tmp_path / "tls")
    with serve_on_loopback(contract_double(Double()), certfile=tls.cert_pem, keyfile=tls.key_pem) as port:
        url = f"https://127.0.0.1:{port}"
        untrusted = run(url, "orgs", "list")
        assert untrusted.exit_code == 1
        assert f"cannot reach the service at {url}: its TLS certificate is not trusted" in untrusted.stderr
        assert "pass --ca-file or set DATAEXPORT_CA_FILE" in untrusted.stderr
        trusted = run(url, "orgs", "list", "--ca-file", str(tls.ca_pem))
        assert trusted.exit_code == 0, trusted.output
        assert "Contoso Sales" in trusted.stdout


def test_usage_errors_exit_2(service: tuple[str, Double], tmp_path: Path) -> None:
    url, double = service
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run(url, "profiles", "create", "--file", str(broken)).exit_code == 2
    assert run(url, "profiles", "create", "--file", str(broken), "--name", "x").exit_code == 2
    assert run(url, "profiles", "create").exit_code == 2
    assert run(url, "profiles", "activate", PROFILE_ID, "--mode", "everything").exit_code == 2
    assert run(url, "profiles", "update", PROFILE_ID, "--file", str(tmp_path / "missing.json")).exit_code == 2
    assert double.requests == []


# Azure Blob container SAS, against a real Azurite


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[str]:
    with run_azurite(tmp_path) as connection:
        yield connection


def test_failures_downloads_an_azure_container_through_its_sas(
    service: tuple[str, Double], azurite: str, tmp_path: Path
) -> None:
    from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

    url, double = service
    container = f"failures-{PROFILE_ID}"
    with BlobServiceClient.from_connection_string(azurite) as blobs:
        created = blobs.create_container(container)
        for path, text in FAILURE_FILES.items():
            created.upload_blob(path, text.encode())
        container_url = created.url
    sas = generate_container_sas(
        ACCOUNT,
        container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    double.failures_uri = f"{container_url}?{sas}"
    result = run(url, "profiles", "failures", PROFILE_ID, "--download", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    for path, text in FAILURE_FILES.items():
        assert (tmp_path / "out" / path).read_text() == text
