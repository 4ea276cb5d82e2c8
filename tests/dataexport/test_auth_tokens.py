"""Bearer token validation against the emulator's real issuer: discovery, JWKS, rotation, every refusal."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from test_source_support import BASE, ORG, EmulatorEnv, emulator_env

from dataexport.auth import InvalidToken, IssuerUnavailable, Principal, PrincipalKind, TokenValidator, discovery_url

API_AUDIENCE = "api://dataexport"


@dataclass
class Clock:
    """Epoch seconds a test moves by hand, starting at the emulator's own time."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Issuer:
    env: EmulatorEnv
    clock: Clock

    @property
    def tenant(self) -> str:
        return self.env.emulator.persistent.tenant_id

    @property
    def v1(self) -> str:
        return f"{BASE}/{self.tenant}/"

    @property
    def v2(self) -> str:
        return f"{BASE}/{self.tenant}/v2.0"

    def validator(self, *issuers: str, audiences: tuple[str, ...] = (BASE, API_AUDIENCE)) -> TokenValidator:
        return TokenValidator(issuers or (self.v1, self.v2), audiences, http=self.env.client, clock=self.clock)

    def token(self, **body: Any) -> str:
        return str(self.env.admin("POST", "tokens", body)["access_token"])

    def key_fetches(self) -> int:
        """JWKS downloads the emulator served so far."""
        return sum(1 for entry in self._log() if "/discovery/" in entry["path"] and entry["path"].endswith("keys"))

    def discovery_fetches(self) -> int:
        return sum(1 for entry in self._log() if entry["path"].endswith("/.well-known/openid-configuration"))

    def _log(self) -> list[dict[str, Any]]:
        entries = self.env.admin("GET", "requests")
        return list(entries["entries"] if isinstance(entries, dict) else entries)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    with emulator_env(tmp_path, scale=1) as env:
        yield Issuer(env, Clock(env.emulator.clock.now().timestamp()))


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def reason(validator: TokenValidator, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        validator.validate(token)
    assert str(raised.value) == raised.value.reason
    return raised.value.reason


# ----- accepted tokens --------------------------------------------------------------------------------------


def test_a_sample_users_token_names_that_user(issuer: Issuer) -> None:
    admin = issuer.env.emulator.identities(ORG).user("admin")

    principal = issuer.validator().validate(issuer.token(user="admin"))

    assert principal == Principal(PrincipalKind.USER, admin.oid, tenant_id=issuer.tenant, name=admin.fullname)
    assert admin.fullname in principal.display and admin.oid in principal.display


def test_an_app_token_names_the_application_by_client_id(issuer: Issuer) -> None:
    client_id = issuer.env.emulator.persistent.client_id

    principal = issuer.validator().validate(issuer.token(user="app"))

    assert (principal.kind, principal.subject, principal.tenant_id) == (
        PrincipalKind.APPLICATION,
        client_id.lower(),
        issuer.tenant,
    )
    assert principal.display == f"application {client_id.lower()}"


def test_v2_tokens_are_accepted_and_apps_are_named_by_azp(issuer: Issuer) -> None:
    token = issuer.token(user="app", version="2.0")
    assert claims_of(token)["iss"] == issuer.v2 and "appid" not in claims_of(token)

    principal = issuer.validator(issuer.v2).validate(token)

    assert (principal.kind, principal.subject) == (PrincipalKind.APPLICATION, issuer.env.emulator.persistent.client_id)


def test_the_api_audience_is_accepted_with_or_without_a_trailing_slash(issuer: Issuer) -> None:
    token = issuer.token(user="user", aud=API_AUDIENCE + "/")

    assert issuer.validator(audiences=(API_AUDIENCE,)).validate(token).kind is PrincipalKind.USER


def test_an_entra_v1_issuer_reads_its_keys_from_login_microsoftonline_com(issuer: Issuer) -> None:
    """``https://sts.windows.net/<tid>/`` has no discovery document of its own; the emulator answers for both
    hosts here (as it does when Entra's hosts are redirected to it, webapi §1.7)."""
    entra_v1 = f"https://sts.windows.net/{issuer.tenant}/"
    headers = {"X-Emulator-Admin-Key": issuer.env.emulator.persistent.admin_key}
    minted = issuer.env.client.post(
        "https://sts.windows.net/_emulator/tokens", json={"org": ORG, "user": "admin", "aud": BASE}, headers=headers
    )
    token = minted.json()["access_token"]
    assert claims_of(token)["iss"] == entra_v1

    principal = issuer.validator(entra_v1).validate(token)

    assert principal.subject == issuer.env.emulator.identities(ORG).user("admin").oid
    assert discovery_url(entra_v1) == (
        f"https://login.microsoftonline.com/{issuer.tenant}/.well-known/openid-configuration"
    )
    assert discovery_url(f"https://login.microsoftonline.com/{issuer.tenant}/v2.0") == (
        f"https://login.microsoftonline.com/{issuer.tenant}/v2.0/.well-known/openid-configuration"
    )


# ----- refused tokens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_missing(issuer: Issuer, token: str) -> None:
    assert reason(issuer.validator(), token) == "missing"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "...."])
def test_garbage_is_malformed(issuer: Issuer, token: str) -> None:
    assert reason(issuer.validator(), token) == "malformed"


def test_a_token_signed_with_a_key_outside_the_jwks_is_refused(issuer: Issuer) -> None:
    validator = issuer.validator()

    assert reason(validator, issuer.token(user="admin", sign_with="forged-key")) == "unknown key"


def test_a_forged_signature_under_a_published_kid_is_refused(issuer: Issuer) -> None:
    genuine = issuer.token(user="user")
    header = jwt.get_unverified_header(genuine)
    promoted = claims_of(genuine) | {"oid": issuer.env.emulator.identities(ORG).user("admin").oid}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(promoted, other_key, algorithm="RS256", headers={"kid": header["kid"]})

    assert reason(issuer.validator(), forged) == "bad signature"


def test_a_tampered_payload_is_refused(issuer: Issuer) -> None:
    head, _, signature = issuer.token(user="user").split(".")
    payload = claims_of(issuer.token(user="admin"))
    tampered = f"{head}.{_b64(json.dumps(payload).encode())}.{signature}"

    assert reason(issuer.validator(), tampered) == "bad signature"


def test_alg_none_is_refused(issuer: Issuer) -> None:
    claims = claims_of(issuer.token(user="admin"))
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."

    assert reason(issuer.validator(), unsigned) == "algorithm not accepted"


def test_hs256_is_refused_even_with_a_published_kid(issuer: Issuer) -> None:
    genuine = issuer.token(user="admin")
    kid = jwt.get_unverified_header(genuine)["kid"]
    symmetric = jwt.encode(
        claims_of(genuine), "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": kid}
    )

    assert reason(issuer.validator(), symmetric) == "algorithm not accepted"


def test_expiry_is_enforced_beyond_five_minutes_of_leeway(issuer: Issuer) -> None:
    validator = issuer.validator()

    assert reason(validator, issuer.token(user="admin", expires_in=-301)) == "expired"
    assert validator.validate(issuer.token(user="admin", expires_in=-120)).kind is PrincipalKind.USER


def test_a_token_valid_only_later_is_refused(issuer: Issuer) -> None:
    now = int(issuer.clock.now)
    validator = issuer.validator()

    assert reason(validator, issuer.token(user="admin", extra_claims={"nbf": now + 900})) == "not yet valid"
    assert validator.validate(issuer.token(user="admin", extra_claims={"nbf": now + 120})).kind is PrincipalKind.USER


def test_the_clock_decides_expiry(issuer: Issuer) -> None:
    validator = issuer.validator()
    token = issuer.token(user="admin", expires_in=600)
    validator.validate(token)

    issuer.clock.now += 600 + 301

    assert reason(validator, token) == "expired"


def test_an_issuer_not_configured_is_refused_without_fetching_its_keys(issuer: Issuer) -> None:
    before = issuer.discovery_fetches()

    assert reason(issuer.validator(issuer.v2), issuer.token(user="admin", version="1.0")) == "issuer not accepted"
    assert reason(issuer.validator(), issuer.token(user="admin", extra_claims={"iss": "https://evil.example/"})) == (
        "issuer not accepted"
    )
    assert issuer.discovery_fetches() == before


def test_a_token_for_another_audience_is_refused(issuer: Issuer) -> None:
    token = issuer.token(user="admin", aud="https://other.crm.dynamics.com")

    assert reason(issuer.validator(), token) == "audience not accepted"


def test_the_reason_never_repeats_the_token(issuer: Issuer) -> None:
    token = issuer.token(user="admin", aud="https://other.crm.dynamics.com")

    with pytest.raises(InvalidToken) as raised:
        issuer.validator().validate(token)

    assert token not in str(raised.value) and token.split(".")[1] not in repr(raised.value)


# ----- keys: cache, rotation, availability ------------------------------------------------------------------


def test_keys_are_fetched_once_and_again_after_their_ttl(issuer: Issuer) -> None:
    validator = TokenValidator([issuer.v1], [BASE], http=issuer.env.client, clock=issuer.clock, jwks_ttl_seconds=600)
    before = issuer.key_fetches()

    for user in ("admin", "teamadmin", "user"):
        validator.validate(issuer.token(user=user))
    assert issuer.key_fetches() == before + 1

    issuer.clock.now += 601
    validator.validate(issuer.token(user="admin", expires_in=3600))
    assert issuer.key_fetches() == before + 2


def test_a_rotated_signing_key_is_picked_up_at_once(issuer: Issuer) -> None:
    validator = issuer.validator()
    old = issuer.token(user="admin")
    validator.validate(old)

    rotated = issuer.env.admin("POST", "keys", {"use": True})
    new = issuer.token(user="admin")

    assert jwt.get_unverified_header(new)["kid"] == rotated["kid"]
    assert validator.validate(new).kind is PrincipalKind.USER
    assert validator.validate(old).kind is PrincipalKind.USER


def test_unknown_kids_refetch_at_most_once_per_interval(issuer: Issuer) -> None:
    validator = issuer.validator()
    validator.validate(issuer.token(user="admin"))
    before = issuer.key_fetches()

    for attempt in range(5):
        assert reason(validator, issuer.token(user="admin", sign_with=f"random-{attempt}")) == "unknown key"
    assert issuer.key_fetches() == before + 1

    issuer.clock.now += 31
    assert reason(validator, issuer.token(user="admin", sign_with="random-later")) == "unknown key"
    assert issuer.key_fetches() == before + 2


def test_concurrent_validations_share_one_key_fetch(issuer: Issuer) -> None:
    validator = issuer.validator()
    tokens = [issuer.token(user=user) for user in ("admin", "teamadmin", "user", "disabled", "app") * 4]
    before = issuer.key_fetches()
    results: list[Principal] = []
    errors: list[BaseException] = []

    def validate(token: str) -> None:
        try:
            results.append(validator.validate(token))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=validate, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(results) == len(tokens)
    assert issuer.key_fetches() == before + 1


def test_an_issuer_whose_discovery_fails_is_unavailable_not_a_bad_token(issuer: Issuer) -> None:
    foreign_tenant = "12345678-1234-4234-8234-123456789abc"
    token = issuer.token(user="admin", tenant=foreign_tenant)
    validator = issuer.validator(f"{BASE}/{foreign_tenant}/")

    with pytest.raises(IssuerUnavailable) as raised:
        validator.validate(token)

    assert foreign_tenant in str(raised.value) and "answered 400" in str(raised.value)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
