"""The signing key ring: default key, persistence, rotation, JWKS, detached keys."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from dataverse_emulator.identity.keys import DEFAULT_KID, KeyRing, b64url_uint


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing.load_or_create(None)


def _entries(ring: KeyRing) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], ring.jwks()["keys"])


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def test_new_ring_signs_with_the_default_key(ring: KeyRing) -> None:
    assert ring.signing_kid == DEFAULT_KID == "emu-2024-1"
    assert DEFAULT_KID in ring.kids


def test_jwks_entry_publishes_the_public_key_and_its_certificate(ring: KeyRing) -> None:
    (entry,) = [key for key in _entries(ring) if key["kid"] == DEFAULT_KID]
    numbers = ring.public_key(DEFAULT_KID).public_numbers()

    assert {k: entry[k] for k in ("kty", "use", "kid", "x5t", "e")} == {
        "kty": "RSA",
        "use": "sig",
        "kid": DEFAULT_KID,
        "x5t": DEFAULT_KID,
        "e": "AQAB",
    }
    assert _b64url_int(entry["n"]) == numbers.n
    certificate = x509.load_der_x509_certificate(base64.b64decode(entry["x5c"][0]))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.public_numbers() == numbers


def test_ring_persists_with_private_mode_and_reloads_the_same_keys(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / "data")
    path = tmp_path / "data/signing-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    reloaded = KeyRing.load_or_create(tmp_path / "data")

    assert reloaded.jwks() == ring.jwks()
    assert "PRIVATE KEY" in path.read_text()


def test_rotation_adds_a_published_key_and_persists_the_signing_choice(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    kid = ring.add_key()
    assert ring.signing_kid == DEFAULT_KID
    ring.use_key(kid)

    reloaded = KeyRing.load_or_create(tmp_path)

    assert reloaded.signing_kid == kid
    assert reloaded.kids == (DEFAULT_KID, kid)
    assert [key["kid"] for key in _entries(reloaded)] == [DEFAULT_KID, kid]


def test_named_key_and_duplicates(ring: KeyRing) -> None:
    assert ring.add_key("emu-named") == "emu-named"
    with pytest.raises(ValueError, match="already in the key ring"):
        ring.add_key("emu-named")


def test_unknown_kid_is_a_key_error(ring: KeyRing) -> None:
    with pytest.raises(KeyError):
        ring.use_key("nope")
    with pytest.raises(KeyError):
        ring.private_key("nope")


def test_detached_key_is_stable_unpublished_and_distinct(ring: KeyRing) -> None:
    detached = ring.detached_key("ghost")

    assert ring.detached_key("ghost") is detached
    assert "ghost" not in ring.kids
    assert "ghost" not in json.dumps(ring.jwks())
    assert ring.detached_key(DEFAULT_KID).public_key().public_numbers() != ring.public_key(DEFAULT_KID).public_numbers()


def test_corrupt_file_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "signing-keys.json").write_text("{}")
    with pytest.raises(ValueError, match=r"signing-keys\.json is not a signing key ring"):
        KeyRing.load_or_create(tmp_path)


@pytest.mark.parametrize(("value", "encoded"), [(65537, "AQAB"), (0, "AA"), (255, "_w"), (256, "AQA")])
def test_b64url_uint(value: int, encoded: str) -> None:
    assert b64url_uint(value) == encoded
