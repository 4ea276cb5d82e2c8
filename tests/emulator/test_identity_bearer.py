"""Bearer validation accepts the emulator's own tokens and rejects everything else with a clear reason."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.bearer import BearerError, Identity, validate_bearer, www_authenticate
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.tokens import TokenIssuer, TokenRequest

TID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
BASE = "https://localhost:8443"
ORG = "https://org.example.test"


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing.load_or_create(None)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.set(datetime(2024, 5, 2, 8, 0, tzinfo=UTC), frozen=True)
    return clock


def _token(keyring: KeyRing, clock: Clock, **changes: Any) -> str:
    request = replace(TokenRequest(TID, "app", "app-1", "sp-1", ORG), **changes)
    return TokenIssuer(keyring, clock).mint(request, base_url=BASE)


def _validate(header: str | None, keyring: KeyRing, clock: Clock, audiences: list[str] | None = None) -> Identity:
    return validate_bearer(header, keyring=keyring, clock=clock, audiences=audiences or [ORG + "/"], base_url=BASE)


def test_valid_app_token_gives_the_identity(keyring: KeyRing, clock: Clock) -> None:
    identity = _validate(f"Bearer {_token(keyring, clock)}", keyring, clock)

    assert (identity.tenant_id, identity.oid, identity.app_id, identity.kind) == (TID, "sp-1", "app-1", "app")
    assert identity.claims["aud"] == ORG


def test_v2_user_token_gives_a_user_identity(keyring: KeyRing, clock: Clock) -> None:
    token = _token(keyring, clock, kind="user", oid="user-1", version="2.0")
    identity = _validate(f"bearer {token}", keyring, clock)

    assert (identity.oid, identity.app_id, identity.kind) == ("user-1", "app-1", "user")


def test_any_audience_when_none_configured(keyring: KeyRing, clock: Clock) -> None:
    token = _token(keyring, clock, aud="https://elsewhere.test")
    header = f"Bearer {token}"
    assert validate_bearer(header, keyring=keyring, clock=clock, audiences=None, base_url=BASE).oid == "sp-1"


@pytest.mark.parametrize("header", [None, "", "   ", "Basic abc", "Bearer", "Bearer   "])
def test_missing_or_non_bearer_header(keyring: KeyRing, clock: Clock, header: str | None) -> None:
    with pytest.raises(BearerError, match="Authorization"):
        _validate(header, keyring, clock)


def test_expired_after_the_clock_moves_past_exp_plus_skew(keyring: KeyRing, clock: Clock) -> None:
    header = f"Bearer {_token(keyring, clock)}"
    clock.advance(3599 + 300)
    _validate(header, keyring, clock)  # within the 5-minute skew

    clock.advance(1)
    with pytest.raises(BearerError, match="expired at 2024-05-02T08:59:59Z"):
        _validate(header, keyring, clock)


def test_expiry_ignores_wall_time(keyring: KeyRing) -> None:
    past = Clock()
    past.set(datetime(2001, 1, 1, tzinfo=UTC), frozen=True)
    header = f"Bearer {_token(keyring, past)}"
    _validate(header, keyring, past)
    with pytest.raises(BearerError, match="expired"):
        _validate(header, keyring, Clock())


def test_not_yet_valid(keyring: KeyRing, clock: Clock) -> None:
    header = f"Bearer {_token(keyring, clock)}"
    clock.advance(-301)
    with pytest.raises(BearerError, match="not valid before"):
        _validate(header, keyring, clock)


def test_wrong_audience_names_the_accepted_ones(keyring: KeyRing, clock: Clock) -> None:
    header = f"Bearer {_token(keyring, clock, aud='https://vault.azure.net')}"
    with pytest.raises(BearerError, match=r"audience 'https://vault.azure.net' is not accepted.*org.example.test"):
        _validate(header, keyring, clock)


def test_unknown_kid(keyring: KeyRing, clock: Clock) -> None:
    header = f"Bearer {_token(keyring, clock, sign_with='rotated-away')}"
    with pytest.raises(BearerError, match="unknown key"):
        _validate(header, keyring, clock)


def test_known_kid_with_a_forged_signature(keyring: KeyRing, clock: Clock) -> None:
    claims = jwt.decode(_token(keyring, clock), options={"verify_signature": False})
    kid = keyring.signing_kid
    forged = jwt.encode(claims, keyring.detached_key(kid), algorithm="RS256", headers={"kid": kid})
    with pytest.raises(BearerError, match="signature does not verify"):
        _validate(f"Bearer {forged}", keyring, clock)


def test_tampered_payload(keyring: KeyRing, clock: Clock) -> None:
    header, payload, signature = _token(keyring, clock).split(".")
    claims = jwt.decode(f"{header}.{payload}.{signature}", options={"verify_signature": False})
    evil = base64.urlsafe_b64encode(json.dumps(claims | {"oid": "admin"}).encode()).rstrip(b"=").decode()
    with pytest.raises(BearerError, match="signature does not verify"):
        _validate(f"Bearer {header}.{evil}.{signature}", keyring, clock)


@settings(max_examples=25, deadline=None)
@given(position=st.integers(min_value=0, max_value=300), flip=st.integers(min_value=1, max_value=63))
def test_any_changed_signature_character_is_rejected(keyring: KeyRing, position: int, flip: int) -> None:
    clock = Clock()
    token = _token(keyring, clock)
    head, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = position % (len(signature) - 1)  # the last character carries padding bits
    changed = alphabet[(alphabet.index(signature[index]) + flip) % 64]
    tampered = signature[:index] + changed + signature[index + 1 :]
    with pytest.raises(BearerError):
        _validate(f"Bearer {head}.{payload}.{tampered}", keyring, clock)


def test_foreign_issuer(keyring: KeyRing, clock: Clock) -> None:
    header = f"Bearer {_token(keyring, clock)}"
    with pytest.raises(BearerError, match=r"issuer .* is not accepted"):
        validate_bearer(header, keyring=keyring, clock=clock, audiences=None, base_url="https://127.0.0.1:8443")


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_other_algorithms_are_refused(keyring: KeyRing, clock: Clock, algorithm: str) -> None:
    claims = jwt.decode(_token(keyring, clock), options={"verify_signature": False})
    key = "a-shared-secret-of-sufficient-length-0123456789" if algorithm == "HS256" else ""
    token = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": keyring.signing_kid})
    with pytest.raises(BearerError, match="algorithm"):
        _validate(f"Bearer {token}", keyring, clock)


def test_garbage_token(keyring: KeyRing, clock: Clock) -> None:
    with pytest.raises(BearerError, match="not a well-formed JWT"):
        _validate("Bearer not.a.jwt", keyring, clock)


def test_messages_never_contain_the_token(keyring: KeyRing, clock: Clock) -> None:
    token = _token(keyring, clock, aud="https://wrong.test")
    with pytest.raises(BearerError) as caught:
        _validate(f"Bearer {token}", keyring, clock)
    assert token.split(".")[2] not in caught.value.message


def test_www_authenticate_value() -> None:
    assert www_authenticate(BASE + "/", TID, ORG) == (
        f"Bearer authorization_uri={BASE}/{TID}/oauth2/authorize, resource_id={ORG}/"
    )
