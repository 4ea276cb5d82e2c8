"""Where failure files live inside one profile's space (DES §8.4), as pure functions shared by every backend.

Per profile (a folder locally, a container on Azure Blob Storage), UTC, zero-padded::

    failurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log
    forcerefreshfailurelog/YYYY/MM/DD/HH/<yyyyMMddTHHmmssZ>-<seq>.log
    data/YYYY/MM/DD/HH/<entity>_<recordid>_<yyyyMMddTHHmmssZ>.json
    metadata/YYYY/MM/DD/HH/<entity>_<yyyyMMddTHHmmssZ>.json
    unprocessablemessages/YYYY/MM/DD/HH/<...>.json
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

JsonFolder = Literal["data", "metadata", "unprocessablemessages"]
JSON_FOLDERS: frozenset[str] = frozenset(get_args(JsonFolder))
LOG_FOLDERS: frozenset[str] = frozenset({"failurelog", "forcerefreshfailurelog"})

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOUR_FOLDER = re.compile(r"^[a-z]+/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
MAX_SEQ = 100_000
CONTAINER_PREFIX = "failures-"


def check_profile_id(profile_id: str) -> str:
    """``profile_id`` unchanged when it can name a folder or container, else ValueError naming it."""
    if not _SAFE_SEGMENT.match(profile_id) or ".." in profile_id:
        raise ValueError(f"Profile id {profile_id!r} cannot name a folder: use letters, digits, '-', '_', '.'")
    return profile_id


def container_name(profile_id: str) -> str:
    """``failures-<profileId>`` in lower case (DES §8.6); ValueError when that is not a valid container name."""
    name = f"{CONTAINER_PREFIX}{profile_id.lower()}"
    if not _CONTAINER.match(name):
        raise ValueError(
            f"Profile id {profile_id!r} cannot name a blob container: use at most 54 letters, digits and single '-'"
        )
    return name


def check_name_stem(stem: str) -> str:
    """``stem`` unchanged when it is one safe file-name segment, else ValueError naming it."""
    if not _SAFE_SEGMENT.match(stem) or ".." in stem:
        raise ValueError(f"File name {stem!r} is not safe: use letters, digits, '-', '_', '.'")
    return stem


def check_relative_path(path: str) -> tuple[str, ...]:
    """The segments of a file path inside a profile's space; ValueError for anything that could leave it.

    Refused: empty paths, absolute paths, backslashes, empty, ``.`` or ``..`` segments, hidden names (a leading
    dot marks a file still being written) and control characters.
    """
    segments = tuple(path.split("/"))
    unsafe = (
        not path
        or "\\" in path
        or any(ord(char) < 32 for char in path)
        or any(not segment or segment.startswith(".") for segment in segments)
    )
    if unsafe:
        raise ValueError(f"Path {path!r} does not name a failure file: use the Path a listing returned")
    return segments


def relative_folder(kind: str, at: datetime) -> str:
    """``<kind>/YYYY/MM/DD/HH`` for ``at`` in UTC."""
    return f"{kind}/{at.astimezone(UTC):%Y/%m/%d/%H}"


def file_stem(at: datetime) -> str:
    """``yyyyMMddTHHmmssZ`` for ``at`` in UTC."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def log_name(stem: str, seq: int) -> str:
    """``<stem>-<seq>.log``: the ``seq``-th file of a log written in the same second."""
    return f"{stem}-{seq}.log"


def json_name(stem: str, seq: int) -> str:
    """``<stem>.json``, then ``<stem>-<seq>.json`` when an earlier file took that name (write-once)."""
    return f"{stem}.json" if seq == 0 else f"{stem}-{seq}.json"


def log_content(lines: Sequence[str]) -> bytes:
    """The lines as UTF-8, each ended by ``\\n``."""
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def check_json_folder(kind: str) -> str:
    """``kind`` unchanged when it is a JSON folder of §8.4, else ValueError."""
    if kind not in JSON_FOLDERS:
        raise ValueError(f"Folder {kind!r} holds no JSON failure files: use one of {sorted(JSON_FOLDERS)}")
    return kind


def hour_ended(path: str) -> datetime | None:
    """The end of the UTC hour folder a file sits in, or None when the path has no hour folder."""
    match = _HOUR_FOLDER.match(path)
    if match is None:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
    except ValueError:
        return None


def is_older(path: str, last_modified: datetime, before: datetime) -> bool:
    """Whether a file falls out of retention: its hour ended by ``before`` (else its last change was before it)."""
    ended = hour_ended(path)
    return ended <= before if ended is not None else last_modified < before


class WriteOnceFiles(ABC):
    """``write_lines`` and ``write_json`` of every backend: the names come from this layout, and
    :meth:`_publish` (the backend's part) stores the content under the first name not taken yet."""

    def write_lines(
        self, profile_id: str, lines: Sequence[str], *, at: datetime, log: str = "failurelog"
    ) -> str | None:
        """See :meth:`dataexport.blobs.base.FailureFiles.write_lines`."""
        if log not in LOG_FOLDERS:
            raise ValueError(f"Failure log {log!r} is unknown: use one of {sorted(LOG_FOLDERS)}")
        if not lines:
            return None
        stem = file_stem(at)
        names = (log_name(stem, seq) for seq in range(MAX_SEQ))
        return self._publish(profile_id, relative_folder(log, at), names, log_content(lines))

    def write_json(
        self, profile_id: str, folder_kind: JsonFolder, name_stem: str, document: bytes, *, at: datetime
    ) -> str:
        """See :meth:`dataexport.blobs.base.FailureFiles.write_json`."""
        folder = relative_folder(check_json_folder(folder_kind), at)
        stem = check_name_stem(name_stem)
        return self._publish(profile_id, folder, (json_name(stem, seq) for seq in range(MAX_SEQ)), document)

    @abstractmethod
    def _publish(self, profile_id: str, folder: str, names: Iterable[str], content: bytes) -> str:
        """Store ``content`` in the profile's ``folder`` under the first of ``names`` not taken; its path."""
