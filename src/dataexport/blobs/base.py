"""The ``FailureFiles`` Protocol: where failure logs and failed records are kept and how users reach them.

It extends the engine's ``FailureStore`` contract (``write_lines``) with the JSON files of DES §8.4, reading,
retention (§8.5), deletion with the profile and the expiring read + list link of ``GET profiles/{id}/failures``
(§8.6). Two backends: :class:`~dataexport.blobs.local.LocalFailureFiles` (a folder, served by our signed routes)
and :class:`~dataexport.blobs.azure.AzureBlobFailureFiles` (one container per profile, container SAS).

Paths are relative to the profile's space, ``/``-separated (``failurelog/2025/03/07/09/20250307T091400Z-0.log``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from dataexport.blobs.layout import JsonFolder
from dataexport.errors import TransientError

DEFAULT_LINK_TTL = timedelta(hours=24)


class FailureStoreUnavailable(TransientError, OSError):
    """The failure store's backend cannot take the request now (unreachable, refused, throttled); retry later.

    An ``OSError`` too, so callers of the engine's ``FailureStore`` contract treat it as they treat a disk error.
    """


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One failure file: its path in the profile's space, its size in bytes and when it was written (UTC)."""

    path: str
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class SharedLink:
    """A URL that lists and reads one profile's failure files without a bearer token until ``expires_on`` (UTC)."""

    url: str
    expires_on: datetime


class FailureFiles(Protocol):
    """Write-once failure files per profile, with listing, retention and expiring links.

    Every method raises ValueError when ``profile_id`` cannot name a folder or container (unsafe characters),
    and OSError (:class:`FailureStoreUnavailable` for a remote backend) when the backend cannot take the request;
    callers treat the latter as transient.
    """

    def write_lines(
        self, profile_id: str, lines: Sequence[str], *, at: datetime, log: str = "failurelog"
    ) -> str | None:
        """Write ``lines`` (without line ends) as one new ``.log`` file of ``log`` for the hour of ``at`` (UTC).

        ``log`` is ``failurelog`` or ``forcerefreshfailurelog``. Durable when it returns; never overwrites a file:
        a second write in the same second gets the next ``-<seq>``. Returns the new file's path, or None when
        ``lines`` is empty (nothing is written).
        """
        ...

    def write_json(
        self, profile_id: str, folder_kind: JsonFolder, name_stem: str, document: bytes, *, at: datetime
    ) -> str:
        """Write ``document`` once as ``<folder_kind>/YYYY/MM/DD/HH/<name_stem>.json`` for the hour of ``at``.

        Never overwrites: when the name is taken the file becomes ``<name_stem>-<seq>.json``. Returns its path.

        Raises:
            ValueError: ``folder_kind`` is not a JSON folder, or ``name_stem`` is not one safe name segment.
        """
        ...

    def list_files(self, profile_id: str) -> list[StoredFile]:
        """Every file of the profile, newest first (ties by path, descending); empty for an unknown profile."""
        ...

    def open_file(self, profile_id: str, path: str) -> bytes:
        """The content of one file.

        Raises:
            FileNotFoundError: no such profile or file.
            ValueError: ``path`` could leave the profile's space (``..``, absolute, backslashes, hidden names).
        """
        ...

    def has_profile(self, profile_id: str) -> bool:
        """Whether the profile has a space (it was written to or shared, and not deleted since)."""
        ...

    def delete_profile(self, profile_id: str) -> None:
        """Delete every file of the profile and its space; idempotent (an unknown profile is not an error)."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete, across profiles, files whose hour folder ended by ``before`` (else last written before it).

        Idempotent; returns how many files were deleted.
        """
        ...

    def share(self, profile_id: str, *, now: datetime, ttl: timedelta = DEFAULT_LINK_TTL) -> SharedLink:
        """A read + list URL for this profile's files only, valid from ``now`` for ``ttl``.

        Creates the profile's (empty) space when missing, so the link lists nothing rather than failing.
        """
        ...
