"""Minted tokens carry Entra ID's claims for apps and users, v1 and v2, dated by the emulator Clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import jwt
import pytest

from dataverse_emulator.clock import Clock
from dataverse_emulator.identity.keys import DEFAULT_KID, KeyRing
from dataverse_emulator.identity.tokens import TokenIssuer, TokenRequest

TID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
BASE = "https://localhost:8443"
NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    clock = Clock()
    clock.set(NOW, frozen=True)
    return TokenIssuer(KeyRing.load_or_create(None), clock)


def _decode(issuer: TokenIssuer, token: str) -> dict[str, object]:
    key = issuer.keyring.public_key(jwt.get_unverified_header(token)["kid"])
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}
    return jwt.decode(token, key, algorithms=["RS256"], options=cast(Any, options))


def _app(**changes: Any) -> TokenRequest:
    return replace(TokenRequest(TID, "app", "app-1", "sp-1", "https://org.example.test/"), **changes)


def test_issuer_names_follow_the_discovery_documents(issuer: TokenIssuer) -> None:
    assert issuer.issuer_for(BASE + "/", TID, "1.0") == f"{BASE}/{TID}/"
    assert issuer.issuer_for(BASE, TID, "2.0") == f"{BASE}/{TID}/v2.0"
    with pytest.raises(ValueError, match="not supported"):
        issuer.issuer_for(BASE, TID, "3.0")


def test_v1_app_token_claims(issuer: TokenIssuer) -> None:
    token = issuer.mint(_app(), base_url=BASE)
    claims = _decode(issuer, token)
    header = jwt.get_unverified_header(token)

    assert header == {"alg": "RS256", "typ": "JWT", "kid": DEFAULT_KID, "x5t": DEFAULT_KID}
    iat = int(NOW.timestamp())
    assert {k: v for k, v in claims.items() if k not in ("uti", "jti")} == {
        "aud": "https://org.example.test",
        "iss": f"{BASE}/{TID}/",
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3599,
        "appid": "app-1",
        "appidacr": "1",
        "idtyp": "app",
        "oid": "sp-1",
        "sub": "sp-1",
        "tid": TID,
        "ver": "1.0",
    }


def test_v2_user_token_claims(issuer: TokenIssuer) -> None:
    request = _app(kind="user", oid="user-1", version="2.0", upn="u@example.test", name="U Ser")
    claims = _decode(issuer, issuer.mint(request, base_url=BASE))

    assert claims["iss"] == f"{BASE}/{TID}/v2.0"
    assert (claims["azp"], claims["azpacr"], claims["idtyp"], claims["scp"]) == (
        "app-1",
        "0",
        "user",
        "user_impersonation",
    )
    assert (claims["upn"], claims["preferred_username"], claims["name"]) == (
        "u@example.test",
        "u@example.test",
        "U Ser",
    )
    assert "appid" not in claims
    assert claims["sub"] != "user-1"
    assert claims["sub"] == _decode(issuer, issuer.mint(request, base_url=BASE))["sub"]


def test_unique_ids_differ_per_token(issuer: TokenIssuer) -> None:
    first, second = (_decode(issuer, issuer.mint(_app(), base_url=BASE)) for _ in range(2))
    assert first["uti"] != second["uti"]


def test_lifetime_and_extra_claims(issuer: TokenIssuer) -> None:
    issued = issuer.issue(_app(expires_in=-60, extra_claims={"roles": ["Reader"], "appidacr": "2"}), base_url=BASE)
    claims = _decode(issuer, issued.access_token)

    assert issued.expires_on == int(NOW.timestamp()) - 60 == claims["exp"]
    assert claims["roles"] == ["Reader"]
    assert claims["appidacr"] == "2"


def test_clock_dates_the_token(issuer: TokenIssuer) -> None:
    clock = Clock()
    clock.set(datetime(2030, 1, 1, tzinfo=UTC), frozen=True)
    later = TokenIssuer(issuer.keyring, clock)

    assert _decode(later, later.mint(_app(), base_url=BASE))["iat"] == int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())


def test_sign_with_a_published_key_or_a_detached_one(issuer: TokenIssuer) -> None:
    kid = issuer.keyring.add_key()
    token = issuer.mint(_app(sign_with=kid), base_url=BASE)
    assert jwt.get_unverified_header(token)["kid"] == kid
    _decode(issuer, token)

    ghost = issuer.mint(_app(sign_with="ghost"), base_url=BASE)
    assert jwt.get_unverified_header(ghost)["kid"] == "ghost"
    public = issuer.keyring.detached_key("ghost").public_key()
    jwt.decode(
        ghost,
        public,
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
    )
