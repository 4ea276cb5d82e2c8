"""Writing files that hold secrets (private keys, vault contents) so only the owner can read them."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable and writable by the owner only (mode 0600).

    The content goes to a sibling temporary file created with mode 0600 (never world-readable, not even
    for a moment), is flushed to disk, then renamed over ``path``; a crash leaves the old file intact.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # O_CREAT keeps the mode of a leftover temporary file; set it explicitly.
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def write_public(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (mode 0644: certificates meant to be shared)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.chmod(0o644)
    os.replace(temporary, path)
