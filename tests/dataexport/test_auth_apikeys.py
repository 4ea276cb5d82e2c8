"""Static API keys (des.md §3.1 ``apikey`` mode): recognition, refusals, and the value never leaking."""

from __future__ import annotations

import pytest

from dataexport.auth import ApiKeyAuthenticator, InvalidToken, Principal, PrincipalKind, api_key_allows

ORG_A = "c0ffee00-1234-4abc-9def-0123456789ab"
ORG_B = "0ddba11a-5678-4abc-9def-0123456789ab"
CI_VALUE = "ci-key-6f1d2c9a8b7e4f30a1b2c3d4e5f60718"
OPS_VALUE = "ops-key-0a9b8c7d6e5f40312233445566778899"


@pytest.fixture
def keys() -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(
        [("ci", CI_VALUE, frozenset({ORG_A.upper()})), ("ops", OPS_VALUE, frozenset({"*"}))],
    )


def test_a_configured_key_names_its_holder_and_orgs(keys: ApiKeyAuthenticator) -> None:
    principal = keys.authenticate(CI_VALUE)

    assert principal == Principal(PrincipalKind.API_KEY, "ci", organizations=frozenset({ORG_A}))
    assert principal.display == "API key 'ci'"
    assert api_key_allows(ORG_A, principal) and not api_key_allows(ORG_B, principal)
    assert api_key_allows(ORG_B, keys.authenticate(OPS_VALUE))


def test_surrounding_whitespace_is_ignored(keys: ApiKeyAuthenticator) -> None:
    assert keys.authenticate(f"  {OPS_VALUE}\n").subject == "ops"


@pytest.mark.parametrize("presented", [CI_VALUE[:-1], CI_VALUE + "x", CI_VALUE.upper(), "ci", "Bearer " + CI_VALUE])
def test_anything_but_an_exact_value_is_an_unknown_key(keys: ApiKeyAuthenticator, presented: str) -> None:
    with pytest.raises(InvalidToken) as raised:
        keys.authenticate(presented)

    assert raised.value.reason == "unknown key"
    assert presented not in str(raised.value)


@pytest.mark.parametrize("presented", ["", "   "])
def test_no_value_is_missing(keys: ApiKeyAuthenticator, presented: str) -> None:
    with pytest.raises(InvalidToken, match="missing"):
        keys.authenticate(presented)


def test_no_keys_configured_accepts_nothing() -> None:
    with pytest.raises(InvalidToken, match="unknown key"):
        ApiKeyAuthenticator([]).authenticate(CI_VALUE)


def test_the_values_never_appear_in_a_repr(keys: ApiKeyAuthenticator) -> None:
    shown = repr(keys) + repr(keys.authenticate(CI_VALUE)) + repr(keys.authenticate(OPS_VALUE))

    assert "ci" in shown and "ops" in shown
    assert CI_VALUE not in shown and OPS_VALUE not in shown


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ([("ci", CI_VALUE, frozenset({ORG_A})), ("ci", OPS_VALUE, frozenset({ORG_B}))], "ci is configured more"),
        ([("", CI_VALUE, frozenset({ORG_A}))], "empty name"),
        ([("ci", " ", frozenset({ORG_A}))], "API key 'ci' has an empty value"),
        ([("ci", CI_VALUE, frozenset())], "API key 'ci' names no organization"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_key_not_its_value(
    config: list[tuple[str, str, frozenset[str]]], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        ApiKeyAuthenticator(config)

    assert CI_VALUE not in str(raised.value) and OPS_VALUE not in str(raised.value)
