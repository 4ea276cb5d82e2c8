"""The RSA keys that sign the emulator's tokens, published as JWKS (spec §7.2).

One key signs new tokens; every key in the ring validates. Rotation is ``add_key`` then ``use_key``.
Keys persist in ``data_dir/signing-keys.json`` (PEM inside, mode 0600) so tokens survive a restart;
with no ``data_dir`` the ring lives in memory only. Detached keys are throwaway keys, never published,
for minting tokens that must fail validation.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from dataverse_emulator.identity.private_files import write_private

DEFAULT_KID = "emu-2024-1"
KEYS_FILE = "signing-keys.json"
CERTIFICATE_VALIDITY = timedelta(days=5 * 365)


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring: its id, RSA private key and the self-signed certificate published in ``x5c``."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate


class KeyRing:
    """Thread-safe set of signing keys with one chosen for signing."""

    def __init__(self, keys: Sequence[SigningKey], signing_kid: str, path: Path | None) -> None:
        """Use :meth:`load_or_create`; this constructor only checks that ``signing_kid`` is in ``keys``."""
        self._keys = {key.kid: key for key in keys}
        if signing_kid not in self._keys:
            raise KeyError(signing_kid)
        self._signing_kid = signing_kid
        self._path = path
        self._detached: dict[str, rsa.RSAPrivateKey] = {}
        self._lock = threading.RLock()

    @classmethod
    def load_or_create(cls, data_dir: Path | None) -> KeyRing:
        """Load ``data_dir/signing-keys.json``, or create a ring holding ``emu-2024-1`` and save it there.

        ``data_dir`` is created if missing; ``None`` keeps the new ring in memory only.

        Raises:
            ValueError: the file exists but is not a key ring this class wrote.
        """
        path = data_dir / KEYS_FILE if data_dir is not None else None
        if path is not None and path.exists():
            keys, signing_kid = _parse_ring(path)
            return cls(keys, signing_kid, path)
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        ring = cls([_new_key(DEFAULT_KID)], DEFAULT_KID, path)
        ring._save()
        return ring

    @property
    def signing_kid(self) -> str:
        """The kid new tokens are signed with."""
        with self._lock:
            return self._signing_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every published kid, in the order they were added."""
        with self._lock:
            return tuple(self._keys)

    def add_key(self, kid: str | None = None) -> str:
        """Generate a new published key and return its kid; the signing key does not change.

        Raises:
            ValueError: ``kid`` is already in the ring or is empty.
        """
        with self._lock:
            chosen = kid if kid is not None else self._next_kid()
            if not chosen or chosen in self._keys:
                raise ValueError(f"kid {chosen!r} is empty or already in the key ring")
            self._keys[chosen] = _new_key(chosen)
            self._save()
            return chosen

    def use_key(self, kid: str) -> None:
        """Sign new tokens with ``kid`` from now on (persisted).

        Raises:
            KeyError: ``kid`` is not in the ring.
        """
        with self._lock:
            if kid not in self._keys:
                raise KeyError(kid)
            self._signing_kid = kid
            self._save()

    def private_key(self, kid: str) -> rsa.RSAPrivateKey:
        """The private key of a published ``kid``. Raises ``KeyError`` when unknown."""
        with self._lock:
            return self._keys[kid].private_key

    def public_key(self, kid: str) -> rsa.RSAPublicKey:
        """The public key of a published ``kid``. Raises ``KeyError`` when unknown."""
        return self.private_key(kid).public_key()

    def detached_key(self, kid: str) -> rsa.RSAPrivateKey:
        """A throwaway key for ``kid`` that no JWKS publishes: tokens signed with it never validate.

        The same kid returns the same key for the life of this object; never persisted. Works for a kid
        that is also in the ring (a forged token with a known kid).
        """
        with self._lock:
            if kid not in self._detached:
                self._detached[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._detached[kid]

    def jwks(self) -> dict[str, object]:
        """The JWKS document: ``{"keys": [...]}`` with one RSA entry per published key (``x5t`` = kid)."""
        with self._lock:
            keys = list(self._keys.values())
        return {"keys": [jwk_of(key) for key in keys]}

    def _next_kid(self) -> str:
        number = len(self._keys) + 1
        while f"emu-key-{number}" in self._keys:
            number += 1
        return f"emu-key-{number}"

    def _save(self) -> None:
        if self._path is None:
            return
        document = {
            "signing_kid": self._signing_kid,
            "keys": [_serialize_key(key) for key in self._keys.values()],
        }
        write_private(self._path, json.dumps(document, indent=2).encode())


def jwk_of(key: SigningKey) -> dict[str, object]:
    """The JWKS entry of ``key``: RSA modulus and exponent, and its certificate as base64 DER in ``x5c``."""
    numbers = key.private_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": key.kid,
        "x5t": key.kid,
        "n": b64url_uint(numbers.n),
        "e": b64url_uint(numbers.e),
        "x5c": [base64.b64encode(key.certificate.public_bytes(serialization.Encoding.DER)).decode()],
    }


def b64url_uint(value: int) -> str:
    """Big-endian, minimal-length, unpadded base64url encoding of a non-negative integer (RFC 7518 §6.3)."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _new_key(kid: str) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid, private_key, _self_signed(kid, private_key))


def _self_signed(kid: str, private_key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Dataverse Emulator token signing {kid}")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + CERTIFICATE_VALIDITY)
        .sign(private_key, hashes.SHA256())
    )


def _serialize_key(key: SigningKey) -> dict[str, str]:
    private_pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "kid": key.kid,
        "private_key_pem": private_pem.decode(),
        "certificate_pem": key.certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _parse_ring(path: Path) -> tuple[list[SigningKey], str]:
    try:
        document = json.loads(path.read_text())
        keys = [_parse_key(entry) for entry in document["keys"]]
        signing_kid = str(document["signing_kid"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a signing key ring: remove it to start with a new key") from error
    if signing_kid not in {key.kid for key in keys}:
        raise ValueError(f"{path} names signing key {signing_kid!r}, which it does not contain")
    return keys, signing_kid


def _parse_key(entry: dict[str, str]) -> SigningKey:
    private_key = serialization.load_pem_private_key(entry["private_key_pem"].encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError("signing keys must be RSA")
    certificate = x509.load_pem_x509_certificate(entry["certificate_pem"].encode())
    return SigningKey(str(entry["kid"]), private_key, certificate)
