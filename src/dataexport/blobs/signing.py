"""HMAC-signed, expiring URLs for the local failure store (DES §8.6, key from ``url_signing_key``, §1.8).

``sig`` = hex HMAC-SHA256 of ``profileId + "\\n" + se`` under the service's key, ``se`` the expiry as Unix
seconds. A signature names one profile and one expiry, so it cannot be moved to another profile or extended.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

KEY_BYTES = 32
_EXPIRY = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class UrlSigner:
    """Signs and verifies ``(profileId, se)`` pairs; the key never leaves the object."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("The URL signing key is too short: use at least 16 bytes (32 random bytes by default)")
        self._key = key

    def __repr__(self) -> str:
        return "UrlSigner(key=<hidden>)"

    @classmethod
    def from_secret(cls, value: str) -> UrlSigner:
        """A signer keyed by a secret reference's value (its UTF-8 bytes), as read from ``url_signing_key``."""
        return cls(value.encode("utf-8"))

    def sign(self, profile_id: str, expires_unix: int) -> str:
        """The ``sig`` for ``profile_id`` valid until ``expires_unix`` (lowercase hex)."""
        message = f"{profile_id}\n{expires_unix}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, profile_id: str, se: str | None, sig: str | None, now: datetime) -> bool:
        """Whether ``sig`` signs ``profile_id`` and ``se`` and ``se`` is still ahead of ``now``.

        Missing, malformed, forged or expired values all answer False; the comparison is constant time.
        """
        if se is None or sig is None or not _EXPIRY.match(se) or not _SIGNATURE.match(sig):
            return False
        expected = self.sign(profile_id, int(se))
        return hmac.compare_digest(expected, sig) and now.timestamp() < int(se)


def ensure_key_file(path: Path) -> bool:
    """Create ``path`` (mode 0600) holding 32 random bytes as hex, unless it exists; True when it was created.

    The key is written to a temporary file and linked into place, so a process starting at the same time
    either finds no file or the whole key, and two processes never both create one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(secrets.token_hex(KEY_BYTES) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)
