"""Where DES failure-log lines are written (DES §8.3-8.4): the ``FailureStore`` Protocol and its local backend.

Layout per profile (UTC, zero-padded)::

    <root>/<profileId>/failurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log
    <root>/<profileId>/forcerefreshfailurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log

Files are written once and never appended to or rewritten: each call creates a new file, so the store is
append-only as a whole and a blob backend needs no append support. The structured copy of every line is in
the control database's ledger; this is the users' copy. The backends live in :mod:`dataexport.blobs`
(``LocalFailureStore`` is re-exported here), which also reads, purges and shares the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dataexport.blobs.local import LocalFailureStore
from dataexport.store.values import FailureLog


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


__all__ = ["FailureStore", "LocalFailureStore"]
