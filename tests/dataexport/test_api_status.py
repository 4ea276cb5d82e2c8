"""Every row of DES §3.5's status-code table, against the real service over a real emulator process.

One emulator per module serves two organizations: ``contoso`` (the service's first organization) and
``fabrikam``, where the sample ``user`` (only a Salesperson in contoso) holds the System Administrator role, so
one caller administers one organization and not the other. Each test builds its own service runtime (fresh
control database and caches) with :func:`test_api_support.service_env`. Every error answer is checked against
the §3.1 shape ``{"Error": {"Code", "Message", "Details"?, "TestResult"?}}``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from test_api_support import (
    METADATA,
    PROFILES,
    TEST_SERVER,
    ServiceEnv,
    body_of,
    emulator_admin,
    emulator_process,
    service_env,
)

from dataexport.cli.demo import write_secret
from dataexport.cli.emulator_process import EmulatorInfo
from dataexport.runtime import API_AUDIENCE
from dataexport.service.bodies import build_profile

OTHER = "fabrikam"
UNKNOWN_ID = "0f1e2d3c-4b5a-4968-8776-655443322110"
UNKNOWN_URL = "https://unknown.crm11.dynamics.com"
PRIVACY_MESSAGE = (
    "The organization has not accepted the privacy terms. Call POST /crm/exporter/metadata/acceptprivacyterms first."
)
CHALLENGE = re.compile(r'^Bearer authorization_uri="(?P<uri>[^"]+)", resource_id="(?P<resource>[^"]+)"$')
HOLD_MS = 8000  # how long the first lifecycle call's pre-flight is held inside Dataverse's WhoAmI

ORGANIZATION_KEYS = {
    "OrganizationId", "OrganizationUrl", "FriendlyName", "UniqueName", "TenantId", "Region", "PrivacyTermsAccepted",
}  # fmt: skip
PROFILE_KEYS = {
    "Id", "Name", "OrganizationId", "KeyVaultUri", "SchemaName", "TablePrefix", "RetryCount", "RetryInterval",
    "WriteDeleteLog", "Entities", "Relationships", "State", "ActivationMode", "CreatedOn", "ModifiedOn",
}  # fmt: skip
STATUS_KEYS = {
    "FailedNotificationsCount", "LastSynchronizedOn", "LagSeconds", "LastError", "Entities", "Relationships", "Resync",
}  # fmt: skip
TEST_RESULT_KEYS = {"ProfileId", "Succeeded", "StartedOn", "CompletedOn", "Results"}
CHECK_KEYS = {"Name", "Status", "Message", "Details"}

# DES §3.5, one row per operationId: the statuses each route may answer.
ORG_ROUTE = {200, 400, 401, 403, 404, 503}
LIFECYCLE = {200, 401, 403, 404, 409, 503}
SPEC_STATUSES: dict[str, set[int]] = {
    "Metadata_GetOrganizations": {200, 401, 503},
    "Metadata_GetOrgDetails": ORG_ROUTE,
    "Metadata_GetConnectorDetails": ORG_ROUTE,
    "Metadata_GetEntities": ORG_ROUTE,
    "Metadata_GetRelationships": ORG_ROUTE,
    "Metadata_HasOrgAcceptedPrivacyTerms": ORG_ROUTE,
    "Metadata_AcceptOrgPrivacyTerms": {204, 400, 401, 403, 404, 503},
    "Profiles_GetProfilesByOrganizationId": ORG_ROUTE,
    "Profiles_CreateProfile": {201, 400, 401, 403, 404, 503},
    "Profiles_GetProfileById": ORG_ROUTE,
    "Profiles_UpdateProfile": ORG_ROUTE | {409},
    "Profiles_DeleteProfileById": {204, 400, 401, 403, 404, 409, 503},
    "Profiles_Activate": LIFECYCLE,
    "Profiles_ActivateMetadata": LIFECYCLE,
    "Profiles_ActivateData": LIFECYCLE,
    "Profiles_Deactivate": LIFECYCLE,
    "Profiles_GetTestResultById": {200, 401, 403, 404, 503},
    "Profiles_ValidateBeforeProfileCreation": ORG_ROUTE,
    "Profiles_GetProfileFailuresInfoById": {200, 401, 403, 404, 503},
    "Profiles_ResyncFailedRecords": LIFECYCLE,
    "Aad_Challenge": {401, 404},
    "FailureStore_ListFiles": {200, 403, 404},
    "FailureStore_GetFile": {200, 403, 404},
    "Health_Live": {200},
    "Health_Ready": {200, 503},
}


@dataclass(frozen=True)
class Route:
    """One API route; ``{id}`` in ``path`` is the profile id, ``body`` sends a valid §2.1 body."""

    method: str
    path: str
    body: bool = False

    def url(self, profile_id: str | None) -> str:
        return self.path.replace("{id}", profile_id or UNKNOWN_ID)


METADATA_ORG_ROUTES = (
    Route("GET", f"{METADATA}/discover"),
    Route("GET", f"{METADATA}/connector"),
    Route("GET", f"{METADATA}/entities"),
    Route("GET", f"{METADATA}/relationships"),
    Route("GET", f"{METADATA}/hasorgacceptedprivacyterms"),
    Route("POST", f"{METADATA}/acceptprivacyterms"),
)
COLLECTION_ROUTES = (
    Route("GET", PROFILES),
    Route("POST", PROFILES, body=True),
    Route("POST", f"{PROFILES}/validate", body=True),
)
ORG_ROUTES = METADATA_ORG_ROUTES + COLLECTION_ROUTES
ID_READS = (
    Route("GET", f"{PROFILES}/{{id}}"),
    Route("GET", f"{PROFILES}/{{id}}/test"),
    Route("GET", f"{PROFILES}/{{id}}/failures"),
)
ID_WRITES = (
    Route("PUT", f"{PROFILES}/{{id}}", body=True),
    Route("DELETE", f"{PROFILES}/{{id}}"),
    Route("POST", f"{PROFILES}/{{id}}/activate"),
    Route("POST", f"{PROFILES}/{{id}}/activatemetadata"),
    Route("POST", f"{PROFILES}/{{id}}/activatedata"),
    Route("POST", f"{PROFILES}/{{id}}/deactivate"),
    Route("POST", f"{PROFILES}/{{id}}/resyncfailed"),
)
ID_ROUTES = ID_READS + ID_WRITES
ALL_ROUTES = (Route("GET", f"{METADATA}/organizations"), *ORG_ROUTES, *ID_ROUTES)


# ----- fixtures and helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """The emulator with ``contoso`` and ``fabrikam``; the sample ``user`` administers only ``fabrikam``."""
    with emulator_process(tmp_path_factory.mktemp("emulator"), scale=2) as info:
        emulator_admin(info, "POST", "orgs", {"unique_name": OTHER, "scale": 1, "seed": 2})
        emulator_admin(info, "POST", f"orgs/{OTHER}/users", {"user": "user", "roles": ["sysadmin"]})
        yield info


def other_organization(info: EmulatorInfo) -> str:
    """The ``[organizations.fabrikam]`` block of the service configuration."""
    ca = f'ca_file = "{info.ca_path}"' if info.ca_path else ""
    return f"""
[organizations.{OTHER}]
url = "{info.base_url}/{OTHER}"
tenant_id = "{info.tenant_id}"
client_id = "{info.client_id}"
client_secret = "file:secrets/org-client-secret"
authority = "{info.base_url}"
{ca}
"""


@contextmanager
def two_org_service(root: Path, info: EmulatorInfo, *, start: bool = False) -> Iterator[ServiceEnv]:
    """The service configured for both organizations (contoso first, so ``env.org_id`` is contoso's)."""
    with service_env(root, info, start=start, extra=other_organization(info)) as env:
        yield env


@pytest.fixture
def env(tmp_path: Path, emulator: EmulatorInfo) -> Iterator[ServiceEnv]:
    with two_org_service(tmp_path / "service", emulator) as built:
        yield built


def fabrikam_id(env: ServiceEnv) -> str:
    return env.runtime.organizations.find(None, fabrikam_url(env)).id


def fabrikam_url(env: ServiceEnv) -> str:
    return f"{env.info.base_url}/{OTHER}"


def send(
    env: ServiceEnv,
    route: Route,
    *,
    token: str | None = "admin",
    params: dict[str, str] | None = None,
    profile_id: str | None = None,
) -> httpx.Response:
    """Call ``route`` with a valid body where it takes one."""
    body = env.profile_body() if route.body else None
    return env.call(route.method, route.url(profile_id), token=token, params=params, json_body=body)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The status, ``Error.Code`` and the §3.1 error body; returns ``Error``."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), where
    body = body_of(response)
    assert set(body) == {"Error"}, body
    error = body["Error"]
    assert isinstance(error, dict), body
    assert set(error) <= {"Code", "Message", "Details", "TestResult"}, error
    assert error["Code"] == code, f"{where}: {error}"
    assert isinstance(error["Message"], str) and error["Message"], error
    for detail in error.get("Details", []):
        assert isinstance(detail, dict) and set(detail) <= {"Field", "Code", "Message"}, detail
        assert isinstance(detail["Code"], str) and isinstance(detail["Message"], str), detail
    assert ("TestResult" in error) == (code == "PreflightFailed"), error
    return error


def assert_unauthorized(response: httpx.Response, info: EmulatorInfo) -> None:
    """401 ``Unauthorized`` with the DES bearer challenge naming the tenant's authority and this API."""
    assert_error(response, 401, "Unauthorized")
    challenge = CHALLENGE.match(response.headers.get("www-authenticate", ""))
    assert challenge is not None, response.headers
    assert challenge["uri"].startswith(f"{info.base_url}/{info.tenant_id}"), challenge["uri"]
    assert challenge["resource"] == API_AUDIENCE


@contextmanager
def faults(info: EmulatorInfo, *rules: dict[str, Any]) -> Iterator[None]:
    """The emulator's fault plan for the block; cleared afterwards."""
    emulator_admin(info, "POST", "faults", {"seed": 1, "rules": list(rules)})
    try:
        yield
    finally:
        emulator_admin(info, "DELETE", "faults")


def wait_until_fired(info: EmulatorInfo, timeout: float = 30.0) -> None:
    """Until the first fault rule has fired (its request reached the emulator)."""
    deadline = time.monotonic() + timeout
    while emulator_admin(info, "GET", "faults")["rules"][0]["fired"] < 1:
        assert time.monotonic() < deadline, "the held request never reached the emulator"
        time.sleep(0.02)


def seeded_profile(env: ServiceEnv, organization_id: str) -> str:
    """A Draft profile written to the control store directly: no route creates one before the privacy terms
    are accepted, but a profile may exist from before (e.g. written from a profile file)."""
    profile = build_profile(env.profile_body(), organization_id=organization_id, stored=None)
    return env.runtime.store.profiles.save(profile).id


# Dataverse (and the service's sign-in to it) refuses every connection; the caller's token still validates.
DATAVERSE_DOWN = {"match": {"path_regex": r"/oauth2/v2\.0/token$|/api/data/"}, "action": {"reset": "before"}}


# ----- OpenAPI document, health probes ---------------------------------------------------------------------


def test_the_openapi_document_lists_every_status_of_the_table(env: ServiceEnv) -> None:
    document = env.call("GET", "/swagger/docs/2016-01-01", token=None)
    assert document.status_code == 200
    documented = {
        operation["operationId"]: {int(status) for status in operation["responses"]}
        for operations in document.json()["paths"].values()
        for operation in operations.values()
    }
    for operation_id, statuses in SPEC_STATUSES.items():
        assert operation_id in documented, operation_id
        assert statuses <= documented[operation_id], (operation_id, statuses - documented[operation_id])
    assert all(503 in documented[op] for op in SPEC_STATUSES if op.startswith("Metadata_"))
    ui = env.call("GET", "/swagger/ui/index", token=None)
    assert ui.status_code == 200 and "text/html" in ui.headers["content-type"]


def test_the_openapi_document_never_lists_422(env: ServiceEnv) -> None:
    paths = env.call("GET", "/swagger/docs/2016-01-01", token=None).json()["paths"]
    listing = [op["operationId"] for ops in paths.values() for op in ops.values() if "422" in op["responses"]]
    assert listing == []


def test_health_probes(tmp_path: Path, emulator: EmulatorInfo, env: ServiceEnv) -> None:
    live = env.call("GET", "/healthz", token=None)
    assert (live.status_code, live.json()) == (200, {"Status": "Healthy"})
    assert_error(env.call("GET", "/readyz", token=None), 503, "NotReady")  # the scheduler was not started
    with two_org_service(tmp_path / "started", emulator, start=True) as started:
        ready = started.call("GET", "/readyz", token=None)
        assert (ready.status_code, ready.json()) == (200, {"Status": "Ready"})


# ----- 401 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["missing", "basic scheme", "empty bearer", "not a JWT", "forged", "expired", "wrong audience"]
)
def test_a_request_without_a_valid_token_is_401_with_the_bearer_challenge(env: ServiceEnv, case: str) -> None:
    headers: dict[str, str] = {}
    token: str | None = None
    if case == "basic scheme":
        headers["Authorization"] = "Basic YWRtaW46cGFzc3dvcmQ="
    elif case == "empty bearer":
        headers["Authorization"] = "Bearer "
    elif case == "not a JWT":
        headers["Authorization"] = "Bearer not-a-jwt"
    elif case == "forged":
        token = env.token("admin", sign_with="kid-outside-the-ring")
    elif case == "expired":
        token = env.token("admin", expires_in=-3600)
    elif case == "wrong audience":
        token = env.token("admin", aud="api://another-api")
    params = {"organizationId": env.org_id}
    response = env.call("GET", f"{METADATA}/discover", token=token, headers=headers, params=params)
    assert_unauthorized(response, env.info)


def test_every_route_is_401_without_a_token_before_any_lookup(env: ServiceEnv) -> None:
    """401 comes first (§3.1 order): unknown organizations and profiles are not looked at."""
    for route in ALL_ROUTES:
        assert_unauthorized(send(env, route, token=None, params={"organizationId": UNKNOWN_ID}), env.info)


def test_the_aad_challenge_is_401_in_entra_mode_and_404_in_apikey_mode(
    env: ServiceEnv, tmp_path: Path, emulator: EmulatorInfo
) -> None:
    assert_unauthorized(env.call("GET", "/crm/exporter/aad/challenge", token=None), env.info)
    root = tmp_path / "apikey"
    write_secret(root / "secrets" / "api-key", "k" * 40)
    keys = 'mode = "apikey"\napi_keys = [{ key = "file:secrets/api-key", organizations = ["*"] }]\n'
    with service_env(root, emulator, extra=keys) as keyed:
        assert_error(keyed.call("GET", "/crm/exporter/aad/challenge", token=None), 404, "NotFound")


# ----- 403 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("admin", {"contoso", OTHER}),
        ("teamadmin", {"contoso", OTHER}),
        ("app", {"contoso", OTHER}),
        ("user", {OTHER}),
        ("disabled", set()),
    ],
)
def test_organizations_lists_only_those_the_caller_administers(env: ServiceEnv, user: str, expected: set[str]) -> None:
    response = env.call("GET", f"{METADATA}/organizations", token=user)
    assert response.status_code == 200, response.text
    names = {OTHER if item["OrganizationUrl"].endswith(f"/{OTHER}") else "contoso" for item in response.json()}
    assert names == expected
    assert all(set(item) == ORGANIZATION_KEYS for item in response.json())


def test_an_administrator_of_another_organization_is_403_not_system_administrator(env: ServiceEnv) -> None:
    user = env.token("user")
    contoso = {"organizationId": env.org_id}
    for route in ORG_ROUTES:
        assert_error(send(env, route, token=user, params=contoso), 403, "NotSystemAdministrator")
    in_body = env.profile_body(OrganizationId=env.org_id)
    for path in (PROFILES, f"{PROFILES}/validate"):
        answer = env.call("POST", path, token=user, json_body=in_body)
        assert_error(answer, 403, "NotSystemAdministrator")
    own = env.call("GET", f"{METADATA}/discover", token=user, params={"organizationId": fabrikam_id(env)})
    assert own.status_code == 200 and own.json()["OrganizationId"] == fabrikam_id(env)


def test_team_and_application_administrators_are_allowed_and_disabled_users_refused(env: ServiceEnv) -> None:
    params = {"organizationId": env.org_id}
    for allowed in ("teamadmin", "app"):
        assert env.call("GET", f"{METADATA}/discover", token=allowed, params=params).status_code == 200, allowed
    assert_error(
        env.call("GET", f"{METADATA}/discover", token="disabled", params=params), 403, "NotSystemAdministrator"
    )


def test_profile_routes_are_403_until_the_privacy_terms_are_accepted(env: ServiceEnv) -> None:
    org = env.org_id
    profile_id = seeded_profile(env, org)
    token = env.token("admin")
    for route in COLLECTION_ROUTES:
        error = assert_error(
            send(env, route, token=token, params={"organizationId": org}), 403, "PrivacyTermsNotAccepted"
        )
        assert error["Message"] == PRIVACY_MESSAGE
    for route in ID_ROUTES:
        assert_error(send(env, route, token=token, profile_id=profile_id), 403, "PrivacyTermsNotAccepted")
    for route in METADATA_ORG_ROUTES[:-1]:  # metadata routes are not gated
        assert send(env, route, token=token, params={"organizationId": org}).status_code == 200, route
    assert env.call("GET", f"{METADATA}/hasorgacceptedprivacyterms", params={"organizationId": org}).json() is False
    env.accept_terms()
    listed = env.call("GET", PROFILES, token=token, params={"organizationId": org})
    assert listed.status_code == 200 and [item["Id"] for item in listed.json()] == [profile_id]


# ----- 404 -------------------------------------------------------------------------------------------------


def test_a_profile_of_an_organization_the_caller_does_not_administer_is_404(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    user = env.token("user")  # administers fabrikam only
    unknown = assert_error(env.call("GET", f"{PROFILES}/{UNKNOWN_ID}", token=user), 404, "ProfileNotFound")
    for route in ID_ROUTES:
        error = assert_error(send(env, route, token=user, profile_id=profile_id), 404, "ProfileNotFound")
        assert error["Message"].replace(profile_id, "?") == unknown["Message"].replace(UNKNOWN_ID, "?")  # no leak
    assert env.call("GET", f"{PROFILES}/{profile_id}").status_code == 200


@pytest.mark.parametrize("profile_id", [UNKNOWN_ID, "not-a-guid"])
def test_unknown_and_non_guid_profile_ids_are_404(env: ServiceEnv, profile_id: str) -> None:
    env.accept_terms()
    token = env.token("admin")
    for route in ID_ROUTES:
        assert_error(send(env, route, token=token, profile_id=profile_id), 404, "ProfileNotFound")


def test_unknown_organizations_are_404(env: ServiceEnv) -> None:
    token = env.token("admin")
    for params in ({"organizationId": UNKNOWN_ID}, {"organizationUrl": UNKNOWN_URL}, {"organizationId": "nope"}):
        for route in ORG_ROUTES:
            assert_error(send(env, route, token=token, params=params), 404, "OrganizationNotFound")
    in_body = env.call("POST", PROFILES, token=token, json_body=env.profile_body(OrganizationId=UNKNOWN_ID))
    assert_error(in_body, 404, "OrganizationNotFound")


# ----- 400 -------------------------------------------------------------------------------------------------


def test_missing_organization_parameters_are_400(env: ServiceEnv) -> None:
    token = env.token("admin")
    for route in (*METADATA_ORG_ROUTES, Route("GET", PROFILES)):
        assert_error(send(env, route, token=token), 400, "OrganizationRequired")
    required = {"Field": "OrganizationId", "Code": "Required", "Message": "OrganizationId is required."}
    for path in (PROFILES, f"{PROFILES}/validate"):
        error = assert_error(env.call("POST", path, token=token, json_body=env.profile_body()), 400, "ValidationFailed")
        assert error["Details"] == [required]


def test_mismatched_organization_parameters_are_400(env: ServiceEnv) -> None:
    env.accept_terms()
    token = env.token("admin")
    both = {"organizationId": env.org_id, "organizationUrl": fabrikam_url(env)}
    for route in ORG_ROUTES:
        assert_error(send(env, route, token=token, params=both), 400, "OrganizationParametersMismatch")
    profile_id = env.create_profile()["Id"]
    for route in ID_ROUTES[:1] + ID_WRITES[:2]:  # GET, PUT and DELETE take optional organization parameters
        for params in ({"organizationId": fabrikam_id(env)}, {"organizationUrl": UNKNOWN_URL}):
            answer = send(env, route, token=token, params=params, profile_id=profile_id)
            assert_error(answer, 400, "OrganizationParametersMismatch")
    matching = {"organizationId": env.org_id, "organizationUrl": env.info.base_url}
    assert env.call("GET", f"{PROFILES}/{profile_id}", token=token, params=matching).status_code == 200


def test_a_body_naming_another_organization_than_the_query_is_400(env: ServiceEnv) -> None:
    env.accept_terms()
    token = env.token("admin")
    query = {"organizationId": env.org_id}
    body = env.profile_body(Name="p2", OrganizationId=fabrikam_id(env))
    created = assert_error(
        env.call("POST", PROFILES, token=token, params=query, json_body=body), 400, "ValidationFailed"
    )
    assert created["Details"] == [
        {
            "Field": "OrganizationId",
            "Code": "Mismatch",
            "Message": "OrganizationId does not match the organization named by the query parameters.",
        }
    ]
    validated = env.call("POST", f"{PROFILES}/validate", token=token, params=query, json_body=body)
    assert_error(validated, 400, "OrganizationParametersMismatch")


def test_invalid_bodies_are_400_validation_failed(env: ServiceEnv) -> None:
    env.accept_terms()
    token = env.token("admin")
    query = {"organizationId": env.org_id}
    invalid_json = {"Field": "$", "Code": "InvalidJson", "Message": "Request body must be a JSON object."}
    for path in (PROFILES, f"{PROFILES}/validate"):
        for content in ("{not json", "[1, 2]"):
            error = assert_error(
                env.call("POST", path, token=token, params=query, content=content), 400, "ValidationFailed"
            )
            assert error["Details"] == [invalid_json], (path, content)
    profile_id = env.create_profile()["Id"]
    body = env.profile_body(OrganizationId=env.org_id, RetryCount=21)
    replaced = env.call("PUT", f"{PROFILES}/{profile_id}", token=token, json_body=body)
    error = assert_error(replaced, 400, "ValidationFailed")
    assert error["Details"] == [
        {"Field": "RetryCount", "Code": "OutOfRange", "Message": "RetryCount must be between 0 and 20."}
    ]


def test_a_put_without_organization_id_keeps_the_stored_one(env: ServiceEnv) -> None:
    """DES §2.1: an omitted immutable field keeps its stored value (the organization query is optional on PUT)."""
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    replaced = env.call("PUT", f"{PROFILES}/{profile_id}", json_body=env.profile_body(Name="renamed"))
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["Name"], replaced.json()["OrganizationId"]) == ("renamed", env.org_id)


def test_checks_run_in_the_documented_order(env: ServiceEnv) -> None:
    """§3.1: 401 → 404 → 403 (caller, then privacy gate) → 400 (body) → 409."""
    org = {"organizationId": env.org_id}
    user = env.token("user")
    assert_error(env.call("GET", f"{PROFILES}/{UNKNOWN_ID}"), 404, "ProfileNotFound")  # before the privacy gate
    assert_error(env.call("POST", PROFILES, token=user, params=org, content="{"), 403, "NotSystemAdministrator")
    assert_error(env.call("POST", PROFILES, params=org, content="{"), 403, "PrivacyTermsNotAccepted")
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    assert env.call("POST", f"{PROFILES}/{profile_id}/activate").status_code == 200
    body = env.profile_body(OrganizationId=env.org_id, Entities=[])
    replaced = env.call("PUT", f"{PROFILES}/{profile_id}", json_body=body)
    assert_error(replaced, 400, "ValidationFailed")


# ----- 409 -------------------------------------------------------------------------------------------------


def test_deleting_an_active_profile_is_409_profile_active(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    assert env.call("POST", f"{PROFILES}/{profile_id}/activate").status_code == 200
    assert_error(env.call("DELETE", f"{PROFILES}/{profile_id}"), 409, "ProfileActive")
    assert env.call("GET", f"{PROFILES}/{profile_id}").json()["State"] == "Active"


def test_refused_lifecycle_transitions_are_409(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    assert_error(env.call("POST", f"{PROFILES}/{profile_id}/deactivate"), 409, "NotActivated")
    assert_error(env.call("POST", f"{PROFILES}/{profile_id}/resyncfailed"), 409, "NotActive")
    assert env.call("POST", f"{PROFILES}/{profile_id}/activate").status_code == 200
    assert env.call("POST", f"{PROFILES}/{profile_id}/deactivate").json()["State"] == "Inactive"
    assert_error(env.call("POST", f"{PROFILES}/{profile_id}/resyncfailed"), 409, "NotActive")
    assert env.call("GET", f"{PROFILES}/{profile_id}").json()["State"] == "Inactive"


@pytest.mark.parametrize("call", ["activate", "activatemetadata", "activatedata"])
def test_an_activation_whose_preflight_fails_is_409_with_the_test_result(env: ServiceEnv, call: str) -> None:
    env.accept_terms()
    profile_id = env.create_profile(KeyVaultUri="file:secrets/no-such-secret")["Id"]
    error = assert_error(env.call("POST", f"{PROFILES}/{profile_id}/{call}"), 409, "PreflightFailed")
    assert error["Message"] == "Activation checks failed."
    result = error["TestResult"]
    assert set(result) == TEST_RESULT_KEYS and result["ProfileId"] == profile_id
    assert result["Succeeded"] is False
    statuses = {check["Name"]: check["Status"] for check in result["Results"]}
    assert statuses["SecretAccess"] == "Failed" and statuses["ConnectionString"] == "Skipped"
    assert all(set(check) == CHECK_KEYS for check in result["Results"])
    after = env.call("GET", f"{PROFILES}/{profile_id}").json()
    assert (after["State"], after["ActivationMode"]) == ("Draft", None)


def test_activatedata_without_destination_tables_is_409_schema_missing(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    error = assert_error(env.call("POST", f"{PROFILES}/{profile_id}/activatedata"), 409, "SchemaMissing")
    assert error["Message"] == "Destination tables are missing."
    assert {detail["Code"] for detail in error["Details"]} == {"TableMissing"}
    named = " ".join(detail["Message"] for detail in error["Details"])
    assert "'account'" in named and "'contact'" in named
    assert env.call("GET", f"{PROFILES}/{profile_id}").json()["State"] == "Draft"


def test_table_missing_details_name_the_selected_entity(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    error = assert_error(env.call("POST", f"{PROFILES}/{profile_id}/activatedata"), 409, "SchemaMissing")
    fields = {detail.get("Field") for detail in error["Details"]}
    assert {"Entities[0].Name", "Entities[1].Name"} <= fields


def test_a_call_while_a_lifecycle_call_runs_is_409_operation_in_progress(env: ServiceEnv) -> None:
    """The first activation's pre-flight is held inside Dataverse's WhoAmI (a fault delay); every other
    mutation of the profile meanwhile is refused, reads are not."""
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    token = env.token("admin")
    assert env.call("GET", f"{PROFILES}/{profile_id}", token=token).status_code == 200  # caller check cached
    hold = {"match": {"path_regex": "/WhoAmI$"}, "action": {"delay_ms": HOLD_MS}, "times": 1}
    with faults(env.info, hold), ThreadPoolExecutor(1) as pool:
        first = pool.submit(env.call, "POST", f"{PROFILES}/{profile_id}/activate", token=token)
        wait_until_fired(env.info)
        for route in ID_WRITES:
            answer = send(env, route, token=token, profile_id=profile_id)
            assert_error(answer, 409, "OperationInProgress")
        assert send(env, ID_READS[0], token=token, profile_id=profile_id).status_code == 200
        assert not first.done(), "the held activation ended before every call was made"
        activated = first.result(timeout=120)
    assert activated.status_code == 200, activated.text
    assert (activated.json()["State"], activated.json()["ActivationMode"]) == ("Active", "Full")


# ----- 503 -------------------------------------------------------------------------------------------------


def test_metadata_routes_are_503_when_dataverse_is_down_after_a_restart(tmp_path: Path, emulator: EmulatorInfo) -> None:
    """The service registered both organizations, restarts while Dataverse is down: cold caches need it."""
    root = tmp_path / "service"
    with two_org_service(root, emulator) as first:
        assert len(first.runtime.organizations.list()) == 2
    with two_org_service(root, emulator) as env, faults(emulator, DATAVERSE_DOWN):
        token = env.token("admin")
        organizations = env.call("GET", f"{METADATA}/organizations", token=token)
        assert_error(organizations, 503, "OrganizationUnavailable")
        for route in (*METADATA_ORG_ROUTES, Route("GET", PROFILES)):
            answer = send(env, route, token=token, params={"organizationId": env.org_id})
            assert_error(answer, 503, "OrganizationUnavailable")


def test_an_organization_never_reached_is_503_on_its_routes(tmp_path: Path, emulator: EmulatorInfo) -> None:
    with faults(emulator, DATAVERSE_DOWN), two_org_service(tmp_path / "service", emulator) as env:
        token = env.token("admin")
        for params in ({"organizationUrl": emulator.base_url}, {"organizationUrl": f"{emulator.base_url}/{OTHER}"}):
            for route in METADATA_ORG_ROUTES:
                assert_error(send(env, route, token=token, params=params), 503, "OrganizationUnavailable")


def test_organizations_is_503_when_no_organization_was_ever_reached(tmp_path: Path, emulator: EmulatorInfo) -> None:
    with faults(emulator, DATAVERSE_DOWN), two_org_service(tmp_path / "service", emulator) as env:
        assert_error(env.call("GET", f"{METADATA}/organizations"), 503, "OrganizationUnavailable")


def test_a_failing_token_endpoint_is_503(tmp_path: Path, emulator: EmulatorInfo) -> None:
    token_down = {"match": {"path_regex": r"/oauth2/v2\.0/token$"}, "action": {"status": 503}}
    with faults(emulator, token_down), two_org_service(tmp_path / "service", emulator) as env:
        answer = env.call("GET", f"{METADATA}/discover", params={"organizationUrl": emulator.base_url})
        assert_error(answer, 503, "OrganizationUnavailable")


# ----- 2xx -------------------------------------------------------------------------------------------------


def test_metadata_routes_answer_with_the_spec_json(env: ServiceEnv) -> None:
    org = env.org_id
    query = {"organizationId": org}
    discovered = env.call("GET", f"{METADATA}/discover", params={**query, "organizationUrl": env.info.base_url + "/"})
    assert discovered.status_code == 200 and set(discovered.json()) == ORGANIZATION_KEYS
    assert discovered.json()["OrganizationId"] == org
    assert discovered.json()["OrganizationUrl"] == env.info.base_url.lower().rstrip("/")
    assert discovered.json()["TenantId"] == env.info.tenant_id.lower()
    connector = env.call("GET", f"{METADATA}/connector", params=query)
    assert (connector.status_code, connector.json()) == (200, {"ConnectorUrl": TEST_SERVER})
    entities = env.call("GET", f"{METADATA}/entities", params=query).json()
    assert {"LogicalName", "SchemaName", "DisplayName", "EntitySetName", "PrimaryIdAttribute"} < set(entities[0])
    names = [entity["LogicalName"] for entity in entities]
    assert names == sorted(names) and "account" in names and "activitypointer" not in names
    assert all(entity["IsChangeTrackingEnabled"] is True for entity in entities)
    relationships = env.call("GET", f"{METADATA}/relationships", params=query).json()
    assert set(relationships[0]) == {
        "SchemaName", "IntersectEntityName", "Entity1LogicalName", "Entity1IntersectAttribute",
        "Entity2LogicalName", "Entity2IntersectAttribute",
    }  # fmt: skip
    assert env.call("GET", f"{METADATA}/hasorgacceptedprivacyterms", params=query).json() is False
    accepted = env.call("POST", f"{METADATA}/acceptprivacyterms", params=query)
    assert (accepted.status_code, accepted.content) == (204, b"")
    assert env.call("POST", f"{METADATA}/acceptprivacyterms", params=query).status_code == 204  # idempotent
    assert env.call("GET", f"{METADATA}/hasorgacceptedprivacyterms", params=query).json() is True
    listed = env.call("GET", f"{METADATA}/organizations").json()
    assert [item["PrivacyTermsAccepted"] for item in listed if item["OrganizationId"] == org] == [True]


def test_profile_routes_answer_with_the_spec_json(env: ServiceEnv) -> None:
    env.accept_terms()
    org = env.org_id
    query = {"organizationId": org}
    validated = env.call("POST", f"{PROFILES}/validate", params=query, json_body=env.profile_body())
    assert validated.status_code == 200 and set(validated.json()) == TEST_RESULT_KEYS
    assert validated.json()["ProfileId"] is None and validated.json()["Succeeded"] is True

    created = env.call("POST", PROFILES, params=query, json_body=env.profile_body())
    assert created.status_code == 201, created.text
    profile = created.json()
    profile_id = profile["Id"]
    assert created.headers["location"] == f"{PROFILES}/{profile_id}"
    assert set(profile) == PROFILE_KEYS
    assert (profile["State"], profile["ActivationMode"], profile["OrganizationId"]) == ("Draft", None, org)
    assert profile["Entities"] == [{"Name": "account"}, {"Name": "contact"}]

    listed = env.call("GET", PROFILES, params={**query, "status": "true"})
    assert listed.status_code == 200 and [item["Id"] for item in listed.json()] == [profile_id]
    assert set(listed.json()[0]) == PROFILE_KEYS | {"Status"}
    read = env.call("GET", f"{PROFILES}/{profile_id}", params={"status": "true"}).json()
    assert set(read["Status"]) == STATUS_KEYS
    assert set(env.call("GET", f"{PROFILES}/{profile_id}").json()) == PROFILE_KEYS

    renamed = env.profile_body(Name="renamed", OrganizationId=org)
    replaced = env.call("PUT", f"{PROFILES}/{profile_id}", json_body=renamed)
    assert replaced.status_code == 200, replaced.text
    assert set(replaced.json()) == PROFILE_KEYS and replaced.json()["Name"] == "renamed"
    tested = env.call("GET", f"{PROFILES}/{profile_id}/test").json()
    assert set(tested) == TEST_RESULT_KEYS and tested["ProfileId"] == profile_id and tested["Succeeded"] is True
    _follow_failures_link(env, profile_id)

    for call, mode in [("activatemetadata", "MetadataOnly"), ("activatedata", "Full"), ("activate", "Full")]:
        answer = env.call("POST", f"{PROFILES}/{profile_id}/{call}")
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == PROFILE_KEYS
        assert (answer.json()["State"], answer.json()["ActivationMode"]) == ("Active", mode), call
    resync = env.call("POST", f"{PROFILES}/{profile_id}/resyncfailed")
    assert resync.status_code == 200, resync.text
    assert {"ProfileId", "RunId", "QueuedRecords", "StartedOn"} <= set(resync.json())
    assert resync.json()["ProfileId"] == profile_id
    for _ in range(2):  # deactivating an Inactive profile is 200, no change
        stopped = env.call("POST", f"{PROFILES}/{profile_id}/deactivate")
        assert (stopped.status_code, stopped.json()["State"], stopped.json()["ActivationMode"]) == (
            200,
            "Inactive",
            None,
        )
    deleted = env.call("DELETE", f"{PROFILES}/{profile_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(env.call("GET", f"{PROFILES}/{profile_id}"), 404, "ProfileNotFound")


def test_activate_takes_a_draft_profile_to_active_full(env: ServiceEnv) -> None:
    env.accept_terms()
    profile_id = env.create_profile()["Id"]
    answer = env.call("POST", f"{PROFILES}/{profile_id}/activate", params={"status": "true"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["State"], answer.json()["ActivationMode"]) == ("Active", "Full")
    assert set(answer.json()) == PROFILE_KEYS | {"Status"}


def _follow_failures_link(env: ServiceEnv, profile_id: str) -> None:
    """``failures`` answers a signed link (§8.6) that lists without a token; a tampered one is 403, a missing
    file 404."""
    info = env.call("GET", f"{PROFILES}/{profile_id}/failures")
    assert info.status_code == 200 and set(info.json()) == {"FailuresBlobUri", "ExpiresOn"}
    link = urlsplit(info.json()["FailuresBlobUri"])
    listed = env.call("GET", f"{link.path}?{link.query}", token=None)
    assert (listed.status_code, listed.json()) == (200, {"Files": []})
    tampered = link.query[:-1] + ("0" if link.query[-1] != "0" else "1")
    assert_error(env.call("GET", f"{link.path}?{tampered}", token=None), 403, "InvalidSignature")
    assert_error(env.call("GET", f"{link.path}/nothing.log?{link.query}", token=None), 404, "NotFound")
