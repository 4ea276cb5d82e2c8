"""``SourceConfig``: everything the Web API client needs to reach one organization (webapi §8, DES §7.7).

The numbers default to DES §7.7 and are settings so that tests can shrink them. Secrets are values
(:class:`~pydantic.SecretStr`), resolved from their references by the caller; they never appear in a
``repr``, a validation message or a log line.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from dataexport.source.base import MAX_PAGE_SIZE, MIN_PAGE_SIZE

#: Entra ID, used when an organization names no authority host.
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
_LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str) -> str:
    """``url`` without a trailing slash, if it is ``https://``, or ``http://`` on a loopback host (R10).

    Raises:
        ValueError: another scheme, plain HTTP to a remote host, no host, or a query or fragment.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"'{url}' is not an absolute http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"'{url}' must use https: plain http is allowed only for localhost, 127.0.0.1 and ::1")
    if parts.query or parts.fragment:
        raise ValueError(f"'{url}' must not have a query or a fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


SecureUrl = Annotated[str, AfterValidator(require_secure_url)]


class ClientCredentials(BaseModel):
    """OAuth2 client credentials (webapi §7.1) through MSAL.

    Attributes:
        tenant_id: the Entra tenant (GUID or domain).
        client_id: the application (client) id of the organization's application user.
        client_secret: the secret value (never logged).
        authority_host: ``https://login.microsoftonline.com``, or the emulator's base URL; the authority is
            ``<authority_host>/<tenant_id>``. Instance discovery is used only for the Microsoft host.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    mode: Literal["client_credentials"] = "client_credentials"
    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    authority_host: SecureUrl = DEFAULT_AUTHORITY

    @property
    def authority(self) -> str:
        """``<authority_host>/<tenant_id>``."""
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def identity(self) -> str:
        """Who the requests are counted for (Dataverse limits are per user, webapi §6.3)."""
        return self.client_id.lower()


class StaticToken(BaseModel):
    """A bearer token given as is (development, a token minted elsewhere); it cannot be refreshed."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    mode: Literal["static_token"] = "static_token"
    access_token: SecretStr
    identity: str = "static-token"


class Timeouts(BaseModel):
    """Seconds allowed for each phase of a request; ``read`` bounds each wait between body chunks."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    connect: float = Field(default=10.0, gt=0)
    read: float = Field(default=120.0, gt=0)
    write: float = Field(default=30.0, gt=0)
    pool: float = Field(default=60.0, gt=0)


class RetrySettings(BaseModel):
    """Backoff for 5xx, timeouts, resets and invalid bodies: ``attempts`` tries in all (DES §7.7)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    attempts: int = Field(default=10, ge=1)
    initial_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=60.0, ge=0)


class ThrottleSettings(BaseModel):
    """The per-identity budget (DES §7.7, webapi §6.3).

    Attributes:
        concurrency: concurrent requests per organization and identity (never above 52).
        requests: requests allowed per ``window`` seconds.
        server_seconds: server execution time allowed per window.
        window: the sliding window, seconds.
        regain_after: seconds without a 429 after which one concurrency slot comes back.
        retry_after_jitter: up to this fraction is added to a ``Retry-After`` wait.
        max_throttled_wait: total seconds one request may wait on 429s before it gives up (transient).
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    concurrency: int = Field(default=8, ge=1, le=52)
    requests: int = Field(default=6000, ge=1)
    server_seconds: float = Field(default=1200.0, gt=0)
    window: float = Field(default=300.0, gt=0)
    regain_after: float = Field(default=60.0, gt=0)
    retry_after_jitter: float = Field(default=0.10, ge=0, le=1)
    max_throttled_wait: float = Field(default=1800.0, gt=0)


class PageSettings(BaseModel):
    """Page sizes (webapi §8 R12, DES §7.7).

    Attributes:
        size: the default and largest ``odata.maxpagesize``.
        floor: halving stops here.
        regrow_after: consecutive good pages after which a halved size doubles again.
        max_bytes: a page body larger than this is abandoned and read again at half the size (no cap at
            the floor, where a smaller page is impossible).
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    floor: int = Field(default=MIN_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    regrow_after: int = Field(default=10, ge=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _floor_below_size(self) -> PageSettings:
        if self.floor > self.size:
            raise ValueError(f"page floor {self.floor} is above the page size {self.size}")
        return self


class SourceConfig(BaseModel):
    """One organization's Web API connection.

    Attributes:
        org_url: the organization's base URL (``https://contoso.crm.dynamics.com``, or the emulator's with
            an optional org path); ``http`` only for loopback hosts.
        auth: client credentials or a static token.
        api_version: the Web API version in URLs.
        ca_file: a PEM bundle to trust instead of the system's (a private CA, e.g. the emulator's).
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    org_url: SecureUrl
    auth: ClientCredentials | StaticToken = Field(discriminator="mode")
    api_version: str = Field(default="v9.2", pattern=r"^v9\.[0-2]$")
    ca_file: Path | None = None
    timeouts: Timeouts = Timeouts()
    retry: RetrySettings = RetrySettings()
    throttle: ThrottleSettings = ThrottleSettings()
    pages: PageSettings = PageSettings()

    @property
    def web_api_root(self) -> str:
        """``ROOT``: ``<org_url>/api/data/<version>/``, with the trailing slash."""
        return f"{self.org_url}/api/data/{self.api_version}/"

    @property
    def scope(self) -> str:
        """The token scope ``<ORG>/.default`` (R10)."""
        return f"{self.org_url}/.default"

    @property
    def identity(self) -> str:
        """The throttle identity: organization and credential (limits are per user per org)."""
        return f"{self.org_url.lower()}|{self.auth.identity}"
