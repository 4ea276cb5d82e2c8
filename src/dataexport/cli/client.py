"""A small client of the service's REST API (spec des.md §3), used by the ``profiles`` and ``orgs`` commands.

Every route of §3.3-3.4 is one method that returns the decoded JSON body. A non-2xx answer raises
:class:`ApiError` carrying the DES error body as the service sent it; a service that cannot be reached raises
:class:`ServiceUnreachable`. The bearer token travels only in the ``Authorization`` header of requests to the
configured service URL and never appears in an exception, a ``repr`` or printed output.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeAlias
from urllib.parse import quote

import httpx

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"

DEFAULT_URL = "http://127.0.0.1:8080"
METADATA = "/crm/exporter/metadata"
PROFILES = "/crm/exporter/profiles"
ACTIVATION_ROUTES = {"full": "activate", "metadata": "activatemetadata", "data": "activatedata"}
TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # lifecycle calls run the pre-flight checks (up to 30 s) first


@dataclass(frozen=True)
class Connection:
    """Where the service is and how to call it; ``token`` is a bearer JWT or an API key (never shown)."""

    url: str = DEFAULT_URL
    token: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """The TLS trust to use: the private CA when one is given, else the system store."""
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))


@dataclass(frozen=True)
class ErrorDetail:
    """One item of an error body's ``Details`` (§3.1)."""

    code: str
    message: str
    field: str | None = None


class ApiError(Exception):
    """The service answered with a non-2xx status; ``body`` is the JSON it sent (the DES error body, §3.1)."""

    def __init__(self, status: int, code: str, message: str, body: JsonValue) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @property
    def details(self) -> tuple[ErrorDetail, ...]:
        """The ``Details`` items, in the order the service sent them."""
        items = _member(_member(self.body, "Error"), "Details")
        if not isinstance(items, list):
            return ()
        return tuple(_detail(item) for item in items if isinstance(item, dict))

    @property
    def test_result(self) -> JsonValue:
        """The §5 result a 409 ``PreflightFailed`` carries, else None."""
        return _member(_member(self.body, "Error"), "TestResult")


class ServiceUnreachable(Exception):
    """No HTTP answer came from the service at ``url``; ``hint`` says what to do about it."""

    def __init__(self, url: str, reason: str, hint: str) -> None:
        super().__init__(f"cannot reach the service at {url}: {hint}")
        self.url = url
        self.reason = reason
        self.hint = hint


def org_query(org: str | None) -> dict[str, str]:
    """The organization query of §3.1: a URL goes as ``organizationUrl``, anything else as ``organizationId``."""
    if not org:
        return {}
    if org.lower().startswith(("https://", "http://")):
        return {"organizationUrl": org}
    return {"organizationId": org}


def unreachable(url: str, error: httpx.TransportError) -> ServiceUnreachable:
    """Classify a transport failure into what the user should do (start the service, trust its CA, wait)."""
    reason = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        hint = f"its TLS certificate is not trusted ({reason}); pass --ca-file or set DATAEXPORT_CA_FILE"
    elif isinstance(error, httpx.TimeoutException):
        hint = "it did not answer in time; check that it is running and not overloaded"
    else:
        hint = "start it with `dataexport serve` or set DATAEXPORT_URL"
    return ServiceUnreachable(url, reason, hint)


def decode_error(response: httpx.Response) -> ApiError:
    """Turn a non-2xx response into an :class:`ApiError`, keeping a body that is not the DES shape readable."""
    try:
        body: JsonValue = response.json()
    except ValueError:
        body = None
    error = _member(body, "Error")
    code = _member(error, "Code")
    message = _member(error, "Message")
    if isinstance(code, str) and isinstance(message, str):
        return ApiError(response.status_code, code, message, body)
    text = response.text.strip()[:300] or response.reason_phrase
    return ApiError(response.status_code, f"HTTP{response.status_code}", f"the service answered: {text}", body)


class ApiClient:
    """The REST API of §3.3-3.4; one method per route. Use as a context manager, or call :meth:`close`."""

    def __init__(self, connection: Connection) -> None:
        headers = {"Accept": "application/json"}
        if connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        self.url = connection.url
        self._only_org: str | None = None
        self._http = httpx.Client(
            base_url=connection.url,
            headers=headers,
            verify=connection.verify(),
            timeout=TIMEOUT,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: JsonValue = None
    ) -> JsonValue:
        """Send one request; returns the JSON body (None for 204). Raises ApiError or ServiceUnreachable."""
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as error:
            raise unreachable(self.url, error) from None
        if response.is_error:
            raise decode_error(response)
        if response.status_code == 204 or not response.content:
            return None
        result: JsonValue = response.json()
        return result

    def org_params(self, org: str | None) -> dict[str, str]:
        """The organization query for a route that needs one; without ``org``, the caller's only organization
        when there is exactly one (else none, and the service answers 400 ``OrganizationRequired``)."""
        if org:
            return org_query(org)
        if self._only_org is None:
            found = self.organizations()
            only = found[0] if isinstance(found, list) and len(found) == 1 else None
            self._only_org = str(only.get("OrganizationId", "")) if isinstance(only, dict) else ""
        return org_query(self._only_org)

    # Metadata routes (§3.3)

    def organizations(self) -> JsonValue:
        """``GET metadata/organizations``: the organizations the caller may manage."""
        return self.request("GET", f"{METADATA}/organizations")

    def discover(self, org: str | None) -> JsonValue:
        """``GET metadata/discover``: one organization."""
        return self.request("GET", f"{METADATA}/discover", params=self.org_params(org))

    def entities(self, org: str | None) -> JsonValue:
        """``GET metadata/entities``: the exportable entities of the organization."""
        return self.request("GET", f"{METADATA}/entities", params=self.org_params(org))

    def relationships(self, org: str | None) -> JsonValue:
        """``GET metadata/relationships``: the exportable many-to-many relationships."""
        return self.request("GET", f"{METADATA}/relationships", params=self.org_params(org))

    def has_accepted_terms(self, org: str | None) -> JsonValue:
        """``GET metadata/hasorgacceptedprivacyterms``: a JSON boolean."""
        return self.request("GET", f"{METADATA}/hasorgacceptedprivacyterms", params=self.org_params(org))

    def accept_terms(self, org: str | None) -> None:
        """``POST metadata/acceptprivacyterms`` (idempotent)."""
        self.request("POST", f"{METADATA}/acceptprivacyterms", params=self.org_params(org))

    # Profile routes (§3.4)

    def list_profiles(self, org: str | None, *, status: bool = False) -> JsonValue:
        """``GET profiles``: the organization's profiles, oldest first."""
        return self.request("GET", PROFILES, params=self.org_params(org) | _status(status))

    def get_profile(self, profile_id: str, org: str | None = None, *, status: bool = False) -> JsonValue:
        """``GET profiles/{id}``."""
        return self.request("GET", _profile(profile_id), params=org_query(org) | _status(status))

    def create_profile(self, body: JsonValue, org: str | None = None) -> JsonValue:
        """``POST profiles``: the created profile (201)."""
        return self.request("POST", PROFILES, params=self.org_params(org), body=body)

    def update_profile(self, profile_id: str, body: JsonValue, org: str | None = None) -> JsonValue:
        """``PUT profiles/{id}``: a full replace of the mutable fields (§2.1)."""
        return self.request("PUT", _profile(profile_id), params=org_query(org), body=body)

    def delete_profile(self, profile_id: str, org: str | None = None) -> None:
        """``DELETE profiles/{id}``."""
        self.request("DELETE", _profile(profile_id), params=org_query(org))

    def activate(self, profile_id: str, mode: str = "full") -> JsonValue:
        """``POST profiles/{id}/activate``, ``activatemetadata`` or ``activatedata`` for mode full, metadata, data."""
        return self.request("POST", f"{_profile(profile_id)}/{ACTIVATION_ROUTES[mode]}")

    def deactivate(self, profile_id: str) -> JsonValue:
        """``POST profiles/{id}/deactivate``."""
        return self.request("POST", f"{_profile(profile_id)}/deactivate")

    def test(self, profile_id: str) -> JsonValue:
        """``GET profiles/{id}/test``: the §5 result."""
        return self.request("GET", f"{_profile(profile_id)}/test")

    def validate(self, body: JsonValue, org: str | None = None) -> JsonValue:
        """``POST profiles/validate``: the §5 result for a profile body, nothing saved."""
        return self.request("POST", f"{PROFILES}/validate", params=self.org_params(org), body=body)

    def failures(self, profile_id: str) -> JsonValue:
        """``GET profiles/{id}/failures``: ``FailuresBlobUri`` and ``ExpiresOn`` (§8.6)."""
        return self.request("GET", f"{_profile(profile_id)}/failures")

    def resync(self, profile_id: str) -> JsonValue:
        """``POST profiles/{id}/resyncfailed``: the started run (§8.7)."""
        return self.request("POST", f"{_profile(profile_id)}/resyncfailed")


def _profile(profile_id: str) -> str:
    return f"{PROFILES}/{quote(profile_id, safe='')}"


def _status(status: bool) -> dict[str, str]:
    return {"status": "true"} if status else {}


def _member(value: JsonValue, name: str) -> JsonValue:
    return value.get(name) if isinstance(value, dict) else None


def _detail(item: dict[str, JsonValue]) -> ErrorDetail:
    field_name = item.get("Field")
    return ErrorDetail(
        code=str(item.get("Code", "")),
        message=str(item.get("Message", "")),
        field=field_name if isinstance(field_name, str) else None,
    )
