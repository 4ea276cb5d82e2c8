"""Downloading a profile's failure data through the signed URL of ``GET profiles/{id}/failures`` (spec §8.6).

Two stores answer such a URL:

- the service's local store: ``GET <url>`` lists ``{"Files":[{"Path","Size","LastModified"}]}`` and
  ``GET <base>/<Path>?<same query>`` returns one file;
- an Azure Blob container SAS URL (recognised by its ``sv`` parameter): ``restype=container&comp=list`` lists
  the blobs (paged by ``NextMarker``) and ``GET <container>/<name>?<sas>`` returns one.

The signed URL is the only credential: the service's bearer token is never sent to it.
"""

from __future__ import annotations

import ssl
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx

TIMEOUT = httpx.Timeout(120.0, connect=10.0)


@dataclass(frozen=True)
class FailureFile:
    """One file of the failure store, by its path relative to the profile's root (``failurelog/2025/...``)."""

    path: str
    size: int
    last_modified: str | None


class DownloadError(Exception):
    """The failure store refused a request or answered something unusable; the message says which and why."""


def is_azure_sas(url: str) -> bool:
    """True for an Azure Blob SAS URL (every SAS carries the ``sv`` signed-version parameter)."""
    return "sv" in parse_qs(urlsplit(url).query)


def download_failures(url: str, destination: Path, *, verify: ssl.SSLContext | bool = True) -> list[FailureFile]:
    """Copy every file the signed ``url`` lists into ``destination`` (same relative paths); returns the files.

    Raises:
        DownloadError: a listing or a file could not be read, or the store listed a path outside its root.
    """
    destination.mkdir(parents=True, exist_ok=True)
    with httpx.Client(verify=verify, timeout=TIMEOUT) as http:
        store = _AzureContainer(url) if is_azure_sas(url) else _LocalStore(url)
        files = list(store.list(http))
        for item in files:
            _fetch(http, store.file_url(item.path), _target(destination, item.path))
    return files


class _LocalStore:
    """The service's own signed route (``/crm/exporter/failurestore/{profileId}``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._url = url
        self._base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._query = parts.query

    def list(self, http: httpx.Client) -> Iterator[FailureFile]:
        body = _get(http, self._url, "the failure listing").json()
        files = body.get("Files") if isinstance(body, dict) else None
        if not isinstance(files, list):
            raise DownloadError(f"the failure listing at {self._base} has no Files array")
        for item in files:
            yield FailureFile(str(item["Path"]), int(item.get("Size", 0)), item.get("LastModified"))

    def file_url(self, path: str) -> str:
        return f"{self._base}/{quote(path, safe='/')}?{self._query}"


class _AzureContainer:
    """A container SAS URL (``sr=c``, read + list)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._sas = parts.query

    def list(self, http: httpx.Client) -> Iterator[FailureFile]:
        marker = ""
        while True:
            url = f"{self._base}?{self._sas}&restype=container&comp=list"
            if marker:
                url += f"&marker={quote(marker, safe='')}"
            root = ElementTree.fromstring(_get(http, url, "the container listing").content)
            for blob in root.iter("Blob"):
                yield FailureFile(
                    blob.findtext("Name", ""),
                    int(blob.findtext("Properties/Content-Length", "0")),
                    blob.findtext("Properties/Last-Modified"),
                )
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return

    def file_url(self, path: str) -> str:
        return f"{self._base}/{quote(path, safe='/')}?{self._sas}"


def _get(http: httpx.Client, url: str, what: str) -> httpx.Response:
    try:
        response = http.get(url)
    except httpx.TransportError as error:
        raise DownloadError(f"cannot read {what} at {_without_query(url)}: {error}") from None
    if response.is_error:
        raise DownloadError(
            f"reading {what} at {_without_query(url)} failed with HTTP {response.status_code}: "
            f"{response.text.strip()[:300]} (the signed URL may have expired: ask for a new one)"
        )
    return response


def _fetch(http: httpx.Client, url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_get(http, url, "a failure file").content)


def _target(destination: Path, path: str) -> Path:
    """Where ``path`` goes under ``destination``; a path that would leave it is refused."""
    relative = PurePosixPath(path)
    if not path or relative.is_absolute() or ".." in relative.parts:
        raise DownloadError(f"the failure store listed the unsafe path {path!r}; nothing was written for it")
    return destination.joinpath(*relative.parts)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
