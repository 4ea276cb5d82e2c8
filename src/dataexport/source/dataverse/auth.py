"""Access tokens for the Web API: OAuth2 client credentials through MSAL, or a static bearer token.

webapi §7.1, §7.3, §7.5, §8 R10. A token is cached until ``expires_in - 300 s``; a 401 makes the retry loop
call :meth:`TokenProvider.invalidate` once. MSAL talks through the source's own ``httpx.Client`` (its CA,
its timeouts), and instance discovery is switched off for any authority host that is not Microsoft's.
The secret and the tokens never reach a log record, a ``repr`` or an exception message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import msal

from dataexport.source.dataverse.classify import Verdict, classify_token_error
from dataexport.source.dataverse.config import DEFAULT_AUTHORITY, ClientCredentials, StaticToken
from dataexport.source.errors import SourceCredentialsRejected, SourceUnauthorized

log = logging.getLogger(__name__)

#: A token is used until this many seconds before it expires (R10).
EXPIRY_MARGIN_S = 300.0
_MICROSOFT_HOST = urlsplit(DEFAULT_AUTHORITY).hostname


class TokenProvider(Protocol):
    """Gives the bearer token for the Web API."""

    @property
    def identity(self) -> str:
        """Who requests are counted for (the throttle identity's credential part)."""
        ...

    def token(self) -> str:
        """A token valid for at least the margin; fetched when the cached one is too old.

        Raises:
            SourceCredentialsRejected: the token endpoint refused the client (terminal).
            SourceUnauthorized: no token could be obtained now (transient).
        """
        ...

    def invalidate(self) -> bool:
        """Forget the cached token (after a 401); False when it cannot be renewed (a static token)."""
        ...


class StaticTokenProvider:
    """A token given as configuration; a 401 cannot be cured by refreshing it."""

    def __init__(self, settings: StaticToken) -> None:
        self._settings = settings

    @property
    def identity(self) -> str:
        return self._settings.identity

    def token(self) -> str:
        return self._settings.access_token.get_secret_value()

    def invalidate(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticTokenProvider(identity={self._settings.identity!r})"


class ClientCredentialsProvider:
    """Client-credentials tokens for ``scope`` (``<ORG>/.default``) through ``msal.ConfidentialClientApplication``."""

    def __init__(
        self,
        credentials: ClientCredentials,
        scope: str,
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._scope = scope
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: str | None = None
        self._valid_until = 0.0

    @property
    def identity(self) -> str:
        return self._credentials.identity

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._valid_until:
                return self._token
            return self._acquire()

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def __repr__(self) -> str:
        return f"ClientCredentialsProvider(client_id={self._credentials.client_id!r}, scope={self._scope!r})"

    def _acquire(self) -> str:
        """Ask the token endpoint through MSAL (lock held).

        MSAL's own cache is emptied first: this provider's cache (on the injected clock) decides when a
        token is too old, and a refresh after a 401 must not get the refused token back.
        """
        started = self._clock()
        try:
            application = self._application()
            cache = application.token_cache
            for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)
            result = application.acquire_token_for_client(scopes=[self._scope])
        except (httpx.HTTPError, ValueError, OSError, msal.exceptions.MsalError) as exc:
            raise SourceUnauthorized(self._scrub(f"The token endpoint could not be reached: {exc}")) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str):
            raise self._token_error(result if isinstance(result, dict) else {})
        lifetime = _seconds(result.get("expires_in"))
        self._token = token
        self._valid_until = started + max(0.0, lifetime - EXPIRY_MARGIN_S)
        log.debug("token acquired for %s (valid %.0f s)", self._scope, lifetime)
        return token

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            authority = self._credentials.authority
            self._app = msal.ConfidentialClientApplication(
                self._credentials.client_id,
                client_credential=self._credentials.client_secret.get_secret_value(),
                authority=authority,
                instance_discovery=urlsplit(authority).hostname == _MICROSOFT_HOST,
                http_client=MsalHttpClient(self._http),
                token_cache=msal.TokenCache(),
            )
        return self._app

    def _token_error(self, result: Mapping[str, object]) -> Exception:
        error = result.get("error")
        error_text = error if isinstance(error, str) else None
        description = str(result.get("error_description") or "").splitlines()
        detail = self._scrub(f"{error_text or 'no token'}: {description[0] if description else ''}".strip(": "))
        if classify_token_error(error_text) is Verdict.CREDENTIALS_REJECTED:
            return SourceCredentialsRejected(
                f"The token endpoint refused client '{self._credentials.client_id}' ({detail}): "
                "check the organization's client id and secret"
            )
        return SourceUnauthorized(f"No token for {self._scope} ({detail})")

    def _scrub(self, text: str) -> str:
        secret = self._credentials.client_secret.get_secret_value()
        return text.replace(secret, "**********") if secret else text


def _seconds(value: object) -> float:
    """``expires_in`` as seconds (MSAL gives an int; a missing or odd value means: do not cache)."""
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 0.0


class MsalHttpClient:
    """MSAL's minimal HTTP interface (``get``/``post`` returning ``status_code``, ``text``, ``headers``)
    over an ``httpx.Client``, so token requests use the configured CA and timeouts."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def post(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        data: object = None,
        headers: Mapping[str, str] | None = None,
        **_: object,
    ) -> MsalResponse:
        if isinstance(data, str | bytes):
            response = self._client.post(url, params=params, content=data, headers=headers)
        else:
            form = dict(data) if isinstance(data, Mapping) else None
            response = self._client.post(url, params=params, data=form, headers=headers)
        return MsalResponse(response)

    def get(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None, **_: object
    ) -> MsalResponse:
        return MsalResponse(self._client.get(url, params=params, headers=headers))

    def close(self) -> None:
        """The client belongs to the source, which closes it."""


class MsalResponse:
    """An httpx response as MSAL reads it."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.text = response.text
        self.headers = response.headers

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise ValueError(f"the identity provider answered HTTP {self.status_code}")


def token_provider(
    auth: ClientCredentials | StaticToken, scope: str, http: httpx.Client, *, clock: Callable[[], float]
) -> TokenProvider:
    """The provider for the configured mode."""
    if isinstance(auth, StaticToken):
        return StaticTokenProvider(auth)
    return ClientCredentialsProvider(auth, scope, http, clock=clock)
