"""One HTTP exchange with the Web API: send a request, read the whole body (up to a cap), report failures.

The only module of the source that calls httpx for data requests. A failure below HTTP becomes an
:class:`ExchangeFailed` naming a :class:`~.classify.Failure`; statuses are returned, never raised, so
that :mod:`.classify` decides about all of them.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from dataexport.source.dataverse.classify import Failure
from dataexport.source.dataverse.config import SourceConfig

#: Sent with every Web API request (webapi §1.2).
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "application/json"),
    ("OData-Version", "4.0"),
    ("OData-MaxVersion", "4.0"),
    ("User-Agent", "dataexport"),
)


class ExchangeFailed(Exception):
    """An exchange failed below HTTP; ``failure`` says how. Never carries request headers."""

    def __init__(self, failure: Failure, detail: str) -> None:
        self.failure = failure
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete HTTP answer; header names are lower-case, repeated headers joined with ``, ``."""

    status: int
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    seconds: float = 0.0

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())


def build_http_client(config: SourceConfig) -> httpx.Client:
    """An httpx client for ``config``: its timeouts, its CA (``ca_file`` replaces the default trust store),
    no redirects (a bearer token is never sent to a host the organization did not name)."""
    verify: ssl.SSLContext | bool = True
    if config.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(config.ca_file))
    timeouts = config.timeouts
    return httpx.Client(
        verify=verify,
        timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool),
        follow_redirects=False,
    )


class Transport:
    """Sends GET requests through one ``httpx.Client`` (shared with the token provider)."""

    def __init__(self, client: httpx.Client, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock

    @property
    def client(self) -> httpx.Client:
        """The underlying client."""
        return self._client

    def get(self, url: str, headers: Sequence[tuple[str, str]], *, max_bytes: int | None = None) -> Reply:
        """GET ``url`` and read the whole body.

        Raises:
            ExchangeFailed: timeout, connection failure, a body cut short, or a body over ``max_bytes``.
        """
        started = self._clock()
        answered = False
        try:
            with self._client.stream("GET", url, headers=[*BASE_HEADERS, *headers]) as response:
                answered = True
                body = _read_body(response, max_bytes)
                pairs = _joined_headers(response.headers.multi_items())
                return Reply(response.status_code, url, body, pairs, self._clock() - started)
        except httpx.TimeoutException as exc:
            raise ExchangeFailed(Failure.TIMEOUT, f"timed out ({type(exc).__name__})") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            failure = Failure.TRUNCATED if answered else Failure.RESET
            raise ExchangeFailed(failure, f"{type(exc).__name__}: {_short(exc)}") from exc

    def close(self) -> None:
        """Close the client. Idempotent."""
        self._client.close()


def _read_body(response: httpx.Response, max_bytes: int | None) -> bytes:
    declared = response.headers.get("content-length")
    if max_bytes is not None and declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ExchangeFailed(Failure.TOO_LARGE, f"the body of {declared} bytes is over the cap of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise ExchangeFailed(Failure.TOO_LARGE, f"the body passed the cap of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _joined_headers(items: Sequence[tuple[str, str]]) -> Mapping[str, str]:
    joined: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return MappingProxyType(joined)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
