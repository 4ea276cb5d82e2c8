"""Failure files in a local folder (DES §8.4 default backend), shared through our HMAC-signed routes (§8.6).

``<root>/<profileId>/`` holds one profile's files in the §8.4 layout. Every file is written to a hidden
temporary name and linked under its final name, which fails when the name exists: two writers (threads or
processes) never share a file and a reader never sees a partly written one. It serves one machine only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dataexport.blobs.base import DEFAULT_LINK_TTL, SharedLink, StoredFile
from dataexport.blobs.layout import (
    WriteOnceFiles,
    check_profile_id,
    check_relative_path,
    is_older,
)
from dataexport.blobs.signing import UrlSigner

SHARE_ROUTE = "/crm/exporter/failurestore"


class LocalFailureStore(WriteOnceFiles):
    """Failure-log lines in a local folder: the engine's ``FailureStore``; safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def profile_root(self, profile_id: str) -> Path:
        """The folder holding one profile's failure data (ValueError for an id that cannot name a folder)."""
        return self.root / check_profile_id(profile_id)

    def _publish(self, profile_id: str, folder: str, names: Iterable[str], content: bytes) -> str:
        base = self.profile_root(profile_id)
        target_folder = base / folder
        target_folder.mkdir(parents=True, exist_ok=True)
        return publish(target_folder, names, content).relative_to(base).as_posix()


class LocalFailureFiles(LocalFailureStore):
    """The full :class:`~dataexport.blobs.base.FailureFiles` over a local folder.

    ``share`` links to ``<public_url>/crm/exporter/failurestore/<profileId>?se=<unix>&sig=<hmac>``, served by
    :func:`dataexport.api.failurestore.failure_store_router` with the same ``signer``.
    """

    def __init__(self, root: Path, signer: UrlSigner, public_url: str) -> None:
        super().__init__(root)
        self._signer = signer
        self._public_url = public_url.rstrip("/")

    def list_files(self, profile_id: str) -> list[StoredFile]:
        """See :meth:`dataexport.blobs.base.FailureFiles.list_files`."""
        base = self.profile_root(profile_id)
        found = [_stored(base, path) for path in _files_under(base)]
        return sorted(found, key=lambda item: (item.last_modified, item.path), reverse=True)

    def open_file(self, profile_id: str, path: str) -> bytes:
        """See :meth:`dataexport.blobs.base.FailureFiles.open_file`."""
        base = self.profile_root(profile_id)
        target = base.joinpath(*check_relative_path(path))
        if not _is_inside(base, target) or not target.is_file():
            raise FileNotFoundError(
                f"No failure file {path!r} for profile {profile_id}: list the files for their paths"
            )
        return target.read_bytes()

    def has_profile(self, profile_id: str) -> bool:
        """See :meth:`dataexport.blobs.base.FailureFiles.has_profile`."""
        base = self.profile_root(profile_id)
        return base.is_dir() and not base.is_symlink()

    def delete_profile(self, profile_id: str) -> None:
        """See :meth:`dataexport.blobs.base.FailureFiles.delete_profile`."""
        base = self.profile_root(profile_id)
        if base.is_symlink():
            base.unlink()
        elif base.exists():
            shutil.rmtree(base)

    def purge(self, before: datetime) -> int:
        """See :meth:`dataexport.blobs.base.FailureFiles.purge`; empty hour folders go with their files."""
        if not self.root.is_dir():
            return 0
        deleted = 0
        for base in sorted(entry for entry in self.root.iterdir() if entry.is_dir() and not entry.is_symlink()):
            for path in _files_under(base):
                stored = _stored(base, path)
                if is_older(stored.path, stored.last_modified, before):
                    path.unlink(missing_ok=True)
                    _remove_empty_parents(base, path.parent)
                    deleted += 1
        return deleted

    def share(self, profile_id: str, *, now: datetime, ttl: timedelta = DEFAULT_LINK_TTL) -> SharedLink:
        """See :meth:`dataexport.blobs.base.FailureFiles.share`."""
        self.profile_root(profile_id).mkdir(parents=True, exist_ok=True)
        expires_unix = int((now + ttl).timestamp())
        signature = self._signer.sign(profile_id, expires_unix)
        url = f"{self._public_url}{SHARE_ROUTE}/{profile_id}?se={expires_unix}&sig={signature}"
        return SharedLink(url=url, expires_on=datetime.fromtimestamp(expires_unix, UTC))


def publish(folder: Path, names: Iterable[str], content: bytes) -> Path:
    """Write ``content`` to a temporary file, then link it under the first of ``names`` that is free.

    ``os.link`` fails when the name exists, so a file is never overwritten and never seen half written.

    Raises:
        OSError: the file could not be written, or every name is taken.
    """
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        for name in names:
            target = folder / name
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            return target
        raise OSError(f"No free failure file name in {folder}")
    finally:
        os.unlink(temporary)


def _files_under(base: Path) -> Iterator[Path]:
    """Regular files below ``base``, skipping hidden (in-progress) names and symbolic links."""
    for folder, subfolders, names in os.walk(base):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and not path.is_symlink() and path.is_file():
                yield path


def _stored(base: Path, path: Path) -> StoredFile:
    status = path.stat()
    modified = datetime.fromtimestamp(status.st_mtime, UTC)
    return StoredFile(path=path.relative_to(base).as_posix(), size=status.st_size, last_modified=modified)


def _is_inside(base: Path, target: Path) -> bool:
    """Whether ``target``, symbolic links resolved, stays inside ``base`` (links out of the space are refused)."""
    return target.resolve().is_relative_to(base.resolve())


def _remove_empty_parents(base: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents below ``base`` while they are empty (only folders a purge emptied)."""
    while folder != base and folder.is_relative_to(base):
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): the folders above are in use too
            return
        folder = folder.parent
