"""Where DES failure-log lines are written (DES §8.3-8.4): the ``FailureStore`` Protocol and its local backend.

Layout per profile (UTC, zero-padded)::

    <root>/<profileId>/failurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log
    <root>/<profileId>/forcerefreshfailurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log

Files are written once and never appended to or rewritten: each call creates a new file, so the store is
append-only as a whole and a blob backend needs no append support. The structured copy of every line is in
the control database's ledger; this is the users' copy.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from dataexport.store.values import FailureLog

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_SEQ = 100_000


class FailureStore(Protocol):
    """Append-only storage of failure-log lines, one new file per call."""

    def write_lines(
        self, profile_id: str, lines: Sequence[str], *, at: datetime, log: FailureLog = FailureLog.FAILURE
    ) -> str | None:
        """Write ``lines`` (without line ends) as one new file of ``log`` for the hour of ``at`` (UTC).

        Durable when it returns; never overwrites an existing file. Returns the file's path relative to the
        profile's root, or None when ``lines`` is empty (nothing is written).

        Raises:
            ValueError: ``profile_id`` is not a safe path segment.
            OSError: the file could not be written (the caller treats it as transient).
        """
        ...


def relative_folder(log: FailureLog, at: datetime) -> str:
    """``failurelog/YYYY/MM/DD/HH`` for ``at`` in UTC."""
    utc = at.astimezone(UTC)
    return f"{log.value}/{utc:%Y/%m/%d/%H}"


def file_stem(at: datetime) -> str:
    """``yyyyMMddTHHmmssZ`` for ``at`` in UTC."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class LocalFailureStore:
    """A :class:`FailureStore` in a local folder (DES §8.4 default backend); safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def profile_root(self, profile_id: str) -> Path:
        """The folder holding one profile's failure data."""
        if not _SAFE_SEGMENT.match(profile_id):
            raise ValueError(f"Profile id {profile_id!r} cannot name a folder: use letters, digits, '-', '_', '.'")
        return self.root / profile_id

    def write_lines(
        self, profile_id: str, lines: Sequence[str], *, at: datetime, log: FailureLog = FailureLog.FAILURE
    ) -> str | None:
        """See :meth:`FailureStore.write_lines`."""
        if not lines:
            return None
        base = self.profile_root(profile_id)
        folder = base / relative_folder(log, at)
        folder.mkdir(parents=True, exist_ok=True)
        content = "".join(f"{line}\n" for line in lines).encode("utf-8")
        target = _publish(folder, file_stem(at), content)
        return target.relative_to(base).as_posix()


def _publish(folder: Path, stem: str, content: bytes) -> Path:
    """Write ``content`` to a temporary file, then link it under the first free ``<stem>-<seq>.log`` name.

    ``os.link`` fails when the name exists, so two writers never share a file and a reader never sees a
    partly written one.
    """
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        for seq in range(_MAX_SEQ):
            target = folder / f"{stem}-{seq}.log"
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            return target
        raise OSError(f"No free failure-log file name for {stem} in {folder}")
    finally:
        os.unlink(temporary)
