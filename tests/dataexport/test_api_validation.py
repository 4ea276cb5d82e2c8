"""Every profile validation rule of DES §2.3, over the real API (create, update, validate).

One table row per rule: the body is a valid §2.1 body with one change, and the answer must list exactly that
rule's ``Field``, ``Code`` and ``Message`` (§2.3 gives the exact texts), so a rule that also fires elsewhere or a
cascade of follow-on errors is caught. The selection rules run against the emulator's real catalogue:
``new_untracked`` has change tracking off, ``accountleads`` is an intersect entity, ``account_primary_contact`` is a
1:N relationship and ``accountleads_association`` the M:N one between ``account`` and ``lead``.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api_support import (
    METADATA,
    PROFILES,
    ServiceEnv,
    body_of,
    emulator_admin,
    emulator_process,
    service_env,
)

from dataexport.cli.emulator_process import EmulatorInfo
from dataverse_emulator.catalog.standard import standard_catalog

#: Accepted Key Vault hosts: the default suffix, and one exact host (no leading dot) for the §1.7 host rules.
VAULT_HOST = "vault.test.internal"
KEY_VAULT_CONFIG = f'[key_vault]\nhost_suffixes = [".vault.azure.net", "{VAULT_HOST}"]\n'
OTHER_ORG = "0c7e5b0a-6f0e-4b8d-9d0b-1e2f3a4b5c6d"
DROP = object()  # a change value that removes the field from the body
ORG = object()  # a change value replaced by the organization's id
ORG_UPPER = object()  # ... by the organization's id in upper case
FORMAT_MESSAGE = (
    "KeyVaultUri must be a Key Vault secret URL (https://<vault>.vault.azure.net/secrets/<name>/) "
    "or an env: or file: reference."
)
VERSION_MESSAGE = "KeyVaultUri must not include a secret version."
ACCOUNT_LEAD = [{"Name": "account"}, {"Name": "lead"}]
SELECTION_CHECKS = ("ProfileFields", "EntitySelection", "RelationshipSelection")
CREATE, UPDATE, VALIDATE = "create", "update", "validate"
ALL_ROUTES = (CREATE, UPDATE, VALIDATE)

_names = itertools.count(1)


def unique_name(prefix: str = "profile") -> str:
    """A profile name no other test uses (profiles of the module's service are never deleted)."""
    return f"{prefix}-{next(_names)}"


# ----- the rule table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One §2.3 rule, broken by one change to a valid body.

    Attributes:
        rule: the row id (field, code, case).
        change: fields replaced in the valid body (``DROP`` removes one, ``ORG`` is the organization's id).
        field, code, message: the one error detail the answer must list.
        routes: where the row applies: create (POST), update (PUT of a Draft profile), validate (POST validate).
        org_in_query: the create/validate call names the org by ``organizationId`` (else only the body can).
        validate_refuses: validate answers 400 (no org can be determined, §5) instead of a failed check.
    """

    rule: str
    change: Mapping[str, object]
    field: str
    code: str
    message: str
    routes: tuple[str, ...] = ALL_ROUTES
    org_in_query: bool = True
    validate_refuses: bool = False

    @property
    def expected(self) -> tuple[str, str, str]:
        return (self.field, self.code, self.message)

    def param(self) -> Any:
        return pytest.param(self, id=self.rule)


FIELD_RULES = [
    Rule("Name-Required-missing", {"Name": DROP}, "Name", "Required", "Name is required."),
    Rule("Name-Required-null", {"Name": None}, "Name", "Required", "Name is required."),
    Rule("Name-Required-blank", {"Name": "   "}, "Name", "Required", "Name is required."),
    Rule("Name-TooLong", {"Name": "n" * 101}, "Name", "TooLong", "Name must be at most 100 characters."),
    Rule(
        "OrganizationId-Required",
        {"OrganizationId": DROP},
        "OrganizationId",
        "Required",
        "OrganizationId is required.",
        routes=(CREATE, VALIDATE),
        org_in_query=False,
        validate_refuses=True,
    ),
    Rule(
        "OrganizationId-InvalidFormat",
        {"OrganizationId": "not-a-guid"},
        "OrganizationId",
        "InvalidFormat",
        "OrganizationId must be a GUID.",
    ),
    Rule(
        "OrganizationId-InvalidFormat-no-query",
        {"OrganizationId": "5f0b8c5e-3c1d-4a8e-9a53"},
        "OrganizationId",
        "InvalidFormat",
        "OrganizationId must be a GUID.",
        routes=(CREATE, VALIDATE),
        org_in_query=False,
        validate_refuses=True,
    ),
    Rule(
        "OrganizationId-Mismatch",
        {"OrganizationId": OTHER_ORG},
        "OrganizationId",
        "Mismatch",
        "OrganizationId does not match the organization named by the query parameters.",
        routes=(CREATE, VALIDATE),
        validate_refuses=True,
    ),
    Rule(
        "OrganizationId-Immutable",
        {"OrganizationId": OTHER_ORG},
        "OrganizationId",
        "Immutable",
        "OrganizationId cannot be changed.",
        routes=(UPDATE,),
    ),
    Rule("KeyVaultUri-Required-missing", {"KeyVaultUri": DROP}, "KeyVaultUri", "Required", "KeyVaultUri is required."),
    Rule("KeyVaultUri-Required-null", {"KeyVaultUri": None}, "KeyVaultUri", "Required", "KeyVaultUri is required."),
    Rule("KeyVaultUri-Required-blank", {"KeyVaultUri": " "}, "KeyVaultUri", "Required", "KeyVaultUri is required."),
    Rule("KeyVaultUri-InvalidFormat", {"KeyVaultUri": "reporting-sql"}, "KeyVaultUri", "InvalidFormat", FORMAT_MESSAGE),
    Rule(
        "KeyVaultUri-InvalidFormat-version",
        {"KeyVaultUri": "https://contoso-kv.vault.azure.net/secrets/reporting-sql/4f0a3c2b1d9e4e8f9a7b6c5d4e3f2a1b"},
        "KeyVaultUri",
        "InvalidFormat",
        VERSION_MESSAGE,
    ),
    *(
        Rule(
            f"SchemaName-InvalidFormat-{case}",
            {"SchemaName": value},
            "SchemaName",
            "InvalidFormat",
            "SchemaName must contain only letters and digits.",
        )
        for case, value in (("empty", ""), ("symbol", "dbo;drop"), ("underscore", "my_schema"), ("non-ascii", "sché"))
    ),
    Rule(
        "SchemaName-TooLong",
        {"SchemaName": "s" * 129},
        "SchemaName",
        "TooLong",
        "SchemaName must be at most 128 characters.",
    ),
    *(
        Rule(
            f"TablePrefix-InvalidFormat-{case}",
            {"TablePrefix": value},
            "TablePrefix",
            "InvalidFormat",
            "TablePrefix must contain only letters and digits.",
        )
        for case, value in (("underscore", "crm_"), ("space", "crm x"), ("blank", " "))
    ),
    Rule(
        "TablePrefix-TooLong",
        {"TablePrefix": "p" * 15},
        "TablePrefix",
        "TooLong",
        "TablePrefix must be shorter than 15 characters.",
    ),
    *(
        Rule(
            f"RetryCount-OutOfRange-{value}",
            {"RetryCount": value},
            "RetryCount",
            "OutOfRange",
            "RetryCount must be between 0 and 20.",
        )
        for value in (-1, 21)
    ),
    *(
        Rule(
            f"RetryInterval-OutOfRange-{value}",
            {"RetryInterval": value},
            "RetryInterval",
            "OutOfRange",
            "RetryInterval must be between 0 and 3600 seconds.",
        )
        for value in (-1, 3601)
    ),
]

SELECTION_RULES = [
    *(
        Rule(
            f"Entities-Required-{case}",
            {"Entities": value},
            "Entities",
            "Required",
            "At least one entity must be selected.",
        )
        for case, value in (("missing", DROP), ("null", None), ("empty", []))
    ),
    Rule(
        "Entities.Name-Required-missing",
        {"Entities": [{"Name": "account"}, {}]},
        "Entities[1].Name",
        "Required",
        "Entity name is required.",
    ),
    Rule(
        "Entities.Name-Required-blank",
        {"Entities": [{"Name": " "}, {"Name": "account"}]},
        "Entities[0].Name",
        "Required",
        "Entity name is required.",
    ),
    Rule(
        "Entities.Name-Duplicate",
        {"Entities": [{"Name": "account"}, {"Name": "contact"}, {"Name": "account"}]},
        "Entities[2].Name",
        "Duplicate",
        "Entity 'account' is listed more than once.",
    ),
    Rule(
        "Entities.Name-Duplicate-case-insensitive",
        {"Entities": [{"Name": "account"}, {"Name": "Account"}]},
        "Entities[1].Name",
        "Duplicate",
        "Entity 'Account' is listed more than once.",
    ),
    Rule(
        "Entities.Name-UnknownEntity",
        {"Entities": [{"Name": "account"}, {"Name": "new_nosuchtable"}]},
        "Entities[1].Name",
        "UnknownEntity",
        "Entity 'new_nosuchtable' does not exist in the organization.",
    ),
    Rule(
        "Entities.Name-ChangeTrackingDisabled",
        {"Entities": [{"Name": "account"}, {"Name": "new_untracked"}]},
        "Entities[1].Name",
        "ChangeTrackingDisabled",
        "Entity 'new_untracked' does not have change tracking enabled.",
    ),
    Rule(
        "Entities.Name-ChangeTrackingDisabled-system-table",
        {"Entities": [{"Name": "roletemplate"}]},
        "Entities[0].Name",
        "ChangeTrackingDisabled",
        "Entity 'roletemplate' does not have change tracking enabled.",
    ),
    *(
        Rule(
            f"Entities.Name-NotSupported-{spelling}",
            {"Entities": [{"Name": "task"}, {"Name": spelling}]},
            "Entities[1].Name",
            "NotSupported",
            "Entity 'activitypointer' cannot be exported; select the individual activity entities instead.",
        )
        for spelling in ("activitypointer", "ActivityPointer")
    ),
    Rule(
        "Entities.Name-NotSupported-intersect",
        {"Entities": [{"Name": "account"}, {"Name": "lead"}, {"Name": "accountleads"}]},
        "Entities[2].Name",
        "NotSupported",
        "Entity 'accountleads' is an intersect entity; select its relationship instead.",
    ),
    Rule(
        "Entities.Name-NotSupported-untracked-intersect",
        {"Entities": [{"Name": "new_widget_contact"}]},
        "Entities[0].Name",
        "NotSupported",
        "Entity 'new_widget_contact' is an intersect entity; select its relationship instead.",
    ),
    *(
        Rule(
            f"Relationships.Name-Required-{case}",
            {"Entities": ACCOUNT_LEAD, "Relationships": [item]},
            "Relationships[0].Name",
            "Required",
            "Relationship name is required.",
        )
        for case, item in (("missing", {}), ("null", {"Name": None}), ("blank", {"Name": ""}))
    ),
    Rule(
        "Relationships.Name-Duplicate",
        {
            "Entities": ACCOUNT_LEAD,
            "Relationships": [{"Name": "accountleads_association"}, {"Name": "accountleads_association"}],
        },
        "Relationships[1].Name",
        "Duplicate",
        "Relationship 'accountleads_association' is listed more than once.",
    ),
    Rule(
        "Relationships.Name-UnknownRelationship-unknown",
        {"Entities": ACCOUNT_LEAD, "Relationships": [{"Name": "new_nosuch_association"}]},
        "Relationships[0].Name",
        "UnknownRelationship",
        "Relationship 'new_nosuch_association' is not a many-to-many relationship in the organization.",
    ),
    Rule(
        "Relationships.Name-UnknownRelationship-one-to-many",
        {
            "Entities": [{"Name": "account"}, {"Name": "contact"}],
            "Relationships": [{"Name": "account_primary_contact"}],
        },
        "Relationships[0].Name",
        "UnknownRelationship",
        "Relationship 'account_primary_contact' is not a many-to-many relationship in the organization.",
    ),
    Rule(
        "Relationships.Name-EntityNotSelected",
        {
            "Entities": [{"Name": "account"}, {"Name": "contact"}],
            "Relationships": [{"Name": "accountleads_association"}],
        },
        "Relationships[0].Name",
        "EntityNotSelected",
        "Relationship 'accountleads_association' requires entities 'account' and 'lead' to be selected.",
    ),
]


def _invalid_type(case: str, field_name: str, type_name: str, change: Mapping[str, object], **options: Any) -> Rule:
    """§2.3 strict types: ``{Field} must be a {type}.``, never coerced, never a 422."""
    article = "an" if type_name[0] in "aeiou" else "a"
    message = f"{field_name} must be {article} {type_name}."
    return Rule(f"InvalidType-{case}", change, field_name, "InvalidType", message, **options)


TYPE_RULES = [
    _invalid_type("Name-number", "Name", "string", {"Name": 42}),
    _invalid_type("Name-array", "Name", "string", {"Name": ["p1"]}),
    _invalid_type("OrganizationId-number", "OrganizationId", "string", {"OrganizationId": 42}),
    _invalid_type(
        "OrganizationId-number-no-query",
        "OrganizationId",
        "string",
        {"OrganizationId": 42},
        routes=(CREATE, VALIDATE),
        org_in_query=False,
        validate_refuses=True,
    ),
    _invalid_type("KeyVaultUri-object", "KeyVaultUri", "string", {"KeyVaultUri": {"Uri": "env:REPORTING_SQL"}}),
    _invalid_type("SchemaName-number", "SchemaName", "string", {"SchemaName": 7}),
    _invalid_type("TablePrefix-boolean", "TablePrefix", "string", {"TablePrefix": False}),
    _invalid_type("RetryCount-string", "RetryCount", "integer", {"RetryCount": "12"}),
    _invalid_type("RetryCount-integral-float", "RetryCount", "integer", {"RetryCount": 5.0}),
    _invalid_type("RetryCount-fraction", "RetryCount", "integer", {"RetryCount": 5.5}),
    _invalid_type("RetryCount-boolean", "RetryCount", "integer", {"RetryCount": True}),
    _invalid_type("RetryInterval-string", "RetryInterval", "integer", {"RetryInterval": "5"}),
    _invalid_type("RetryInterval-integral-float", "RetryInterval", "integer", {"RetryInterval": 5.0}),
    _invalid_type("WriteDeleteLog-string", "WriteDeleteLog", "boolean", {"WriteDeleteLog": "true"}),
    _invalid_type("WriteDeleteLog-number", "WriteDeleteLog", "boolean", {"WriteDeleteLog": 1}),
    _invalid_type("Entities-object", "Entities", "array", {"Entities": {"Name": "account"}}),
    _invalid_type("Entities-string", "Entities", "array", {"Entities": "account"}),
    _invalid_type("Relationships-object", "Relationships", "array", {"Relationships": {}}),
    _invalid_type("Entities.item-string", "Entities[0]", "object", {"Entities": ["account"]}),
    _invalid_type(
        "Entities.Name-number", "Entities[1].Name", "string", {"Entities": [{"Name": "account"}, {"Name": 5}]}
    ),
    _invalid_type(
        "Relationships.Name-boolean",
        "Relationships[0].Name",
        "string",
        {"Entities": ACCOUNT_LEAD, "Relationships": [{"Name": True}]},
    ),
]

RULES = [*FIELD_RULES, *SELECTION_RULES, *TYPE_RULES]


def rules_for(route: str) -> list[Any]:
    return [rule.param() for rule in RULES if route in rule.routes]


# ----- fixtures and calls -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    with emulator_process(tmp_path_factory.mktemp("validation-emulator")) as info:
        yield info


@pytest.fixture(scope="module")
def env(emulator: EmulatorInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceEnv]:
    root = tmp_path_factory.mktemp("validation-service")
    with service_env(root, emulator, extra=KEY_VAULT_CONFIG) as service:
        service.accept_terms()
        yield service


@pytest.fixture(scope="module")
def draft(env: ServiceEnv) -> dict[str, Any]:
    """A Draft profile the update rows try to replace; a refused PUT must leave it as it was."""
    return new_profile(env, Name=unique_name("draft"), OrganizationId=env.org_id)


def make_body(env: ServiceEnv, change: Mapping[str, object]) -> dict[str, Any]:
    """A valid §2.1 body (a fresh name) with ``change`` applied."""
    body = env.profile_body(Name=unique_name())
    for key, value in change.items():
        if value is DROP:
            body.pop(key, None)
        elif value is ORG or value is ORG_UPPER:
            body[key] = env.org_id.upper() if value is ORG_UPPER else env.org_id
        else:
            body[key] = copy.deepcopy(value)  # rows are shared between tests
    return body


_tokens: dict[str, str] = {}


def call(env: ServiceEnv, method: str, path: str, **options: Any) -> httpx.Response:
    """``env.call`` as the admin user, with one token per emulator (minting one per call is slow)."""
    token = _tokens.get(env.info.base_url) or _tokens.setdefault(env.info.base_url, env.token("admin"))
    return env.call(method, path, token=token, **options)


def new_profile(env: ServiceEnv, **fields: Any) -> dict[str, Any]:
    """A created Draft profile (201) from the valid body with ``fields``."""
    response = call(env, "POST", PROFILES, params=org_query(env), json_body=env.profile_body(**fields))
    assert response.status_code == 201, response.text
    return body_of(response)


def org_query(env: ServiceEnv) -> dict[str, str]:
    return {"organizationId": env.org_id}


def create(env: ServiceEnv, body: object, *, org_in_query: bool = True) -> httpx.Response:
    return call(env, "POST", PROFILES, params=org_query(env) if org_in_query else None, json_body=body)


def update(env: ServiceEnv, profile_id: str, body: object) -> httpx.Response:
    return call(env, "PUT", f"{PROFILES}/{profile_id}", json_body=body)


def validate(env: ServiceEnv, body: object, *, org_in_query: bool = True) -> httpx.Response:
    return call(env, "POST", f"{PROFILES}/validate", params=org_query(env) if org_in_query else None, json_body=body)


def stored(env: ServiceEnv, profile_id: str) -> dict[str, Any]:
    response = call(env, "GET", f"{PROFILES}/{profile_id}")
    assert response.status_code == 200, response.text
    return body_of(response)


def profile_names(env: ServiceEnv) -> set[str]:
    response = call(env, "GET", PROFILES, params=org_query(env))
    assert response.status_code == 200, response.text
    return {profile["Name"] for profile in response.json()}


def failures(response: httpx.Response) -> list[tuple[str, str, str]]:
    """The (Field, Code, Message) of a §2.3 400 ``ValidationFailed`` answer, in order."""
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    error = body_of(response)["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationFailed", "One or more fields are invalid."), error
    details = error["Details"]
    assert isinstance(details, list) and details, error
    return [(detail["Field"], detail["Code"], detail["Message"]) for detail in details]


def check_details(response: httpx.Response) -> list[tuple[str, str, str]]:
    """The (Field, Code, Message) of every field-level detail of a 200 validate answer; each must sit in a Failed
    ProfileFields, EntitySelection or RelationshipSelection check (§5)."""
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    result = body_of(response)
    assert result["ProfileId"] is None, result
    found = []
    for check in result["Results"]:
        for detail in check["Details"]:
            if detail.get("Field") is not None:
                assert check["Name"] in SELECTION_CHECKS, check
                assert check["Status"] == "Failed", check
                found.append((detail["Field"], detail["Code"], detail["Message"]))
    return found


def check_status(response: httpx.Response, name: str) -> str:
    return str(next(check["Status"] for check in body_of(response)["Results"] if check["Name"] == name))


def assert_refused(response: httpx.Response, expected: tuple[str, str, str]) -> None:
    """A 400 with the §3.1 error body whose message, or one of whose details, is the rule's (§5: validate
    answers 400 when no org can be determined)."""
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    error = body_of(response)["Error"]
    assert isinstance(error["Code"], str) and error["Code"], error
    field_name, _code, message = expected
    in_details = [(d.get("Field"), d["Message"]) for d in error.get("Details", [])]
    assert error["Message"] == message or (field_name, message) in in_details, error


# ----- one rule per row -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", rules_for(CREATE))
def test_create_reports_the_rule(env: ServiceEnv, rule: Rule) -> None:
    """POST answers 400 ``ValidationFailed`` with exactly the broken rule, and saves nothing."""
    body = make_body(env, rule.change)
    response = create(env, body, org_in_query=rule.org_in_query)
    assert failures(response) == [rule.expected]
    if isinstance(body.get("Name"), str) and body["Name"].strip():
        assert body["Name"].strip() not in profile_names(env), "a refused body was saved"


@pytest.mark.parametrize("rule", rules_for(UPDATE))
def test_update_reports_the_rule(env: ServiceEnv, draft: dict[str, Any], rule: Rule) -> None:
    """PUT answers 400 with exactly the broken rule and leaves the stored profile as it was."""
    before = stored(env, draft["Id"])
    body = make_body(env, {"Name": draft["Name"], "OrganizationId": env.org_id, **rule.change})
    response = update(env, draft["Id"], body)
    assert failures(response) == [rule.expected]
    assert stored(env, draft["Id"]) == before


@pytest.mark.parametrize("rule", rules_for(VALIDATE))
def test_validate_reports_the_rule(env: ServiceEnv, rule: Rule) -> None:
    """validate answers 200 with the rule's detail once, in a Failed field or selection check (§5); when the
    body leaves no organization to check against, 400 naming the rule."""
    body = make_body(env, rule.change)
    response = validate(env, body, org_in_query=rule.org_in_query)
    if rule.validate_refuses:
        assert_refused(response, rule.expected)
        return
    assert check_details(response).count(rule.expected) == 1, response.text
    assert body_of(response)["Succeeded"] is False


# ----- accepted values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """A body change at a rule's boundary that must be accepted, and what the profile then holds."""

    case: str
    change: Mapping[str, object]
    holds: Mapping[str, object]

    def param(self) -> Any:
        return pytest.param(self, id=self.case)


ACCEPTED = [
    Accepted("Name-100-chars", {"Name": "N" * 100}, {"Name": "N" * 100}),
    Accepted("Name-100-chars-after-trim", {"Name": "  " + "T" * 100 + "  "}, {}),
    Accepted("OrganizationId-in-body-only", {"OrganizationId": ORG}, {"OrganizationId": ORG}),
    Accepted("OrganizationId-uppercase", {"OrganizationId": ORG_UPPER}, {"OrganizationId": ORG}),
    Accepted(
        "optional-fields-omitted",
        {"SchemaName": DROP, "TablePrefix": DROP, "RetryCount": DROP, "RetryInterval": DROP, "WriteDeleteLog": DROP},
        {"SchemaName": "dbo", "TablePrefix": "", "RetryCount": 12, "RetryInterval": 5, "WriteDeleteLog": False},
    ),
    Accepted("Relationships-omitted", {"Relationships": DROP}, {"Relationships": []}),
    Accepted("Relationships-null", {"Relationships": None}, {"Relationships": []}),
    Accepted("SchemaName-128-chars", {"SchemaName": "S" * 128}, {"SchemaName": "S" * 128}),
    Accepted("TablePrefix-14-chars", {"TablePrefix": "crm1234567890x"}, {"TablePrefix": "crm1234567890x"}),
    Accepted("TablePrefix-empty", {"TablePrefix": ""}, {"TablePrefix": ""}),
    Accepted("RetryCount-0", {"RetryCount": 0}, {"RetryCount": 0}),
    Accepted("RetryCount-20", {"RetryCount": 20}, {"RetryCount": 20}),
    Accepted("RetryInterval-0", {"RetryInterval": 0}, {"RetryInterval": 0}),
    Accepted("RetryInterval-3600", {"RetryInterval": 3600}, {"RetryInterval": 3600}),
    Accepted("WriteDeleteLog-false", {"WriteDeleteLog": False}, {"WriteDeleteLog": False}),
    Accepted(
        "Entities-stored-lowercase",
        {"Entities": [{"Name": "Account"}, {"Name": "CONTACT"}]},
        {"Entities": [{"Name": "account"}, {"Name": "contact"}]},
    ),
    Accepted(
        "Relationships-spelled-as-Dataverse",
        {"Entities": ACCOUNT_LEAD, "Relationships": [{"Name": "AccountLeads_Association"}]},
        {"Relationships": [{"Name": "accountleads_association"}]},
    ),
    Accepted(
        "Relationships-untracked-intersect",
        {"Entities": [{"Name": "new_widget"}, {"Name": "contact"}], "Relationships": [{"Name": "new_widget_contact"}]},
        {"Relationships": [{"Name": "new_widget_contact"}]},
    ),
]


@pytest.mark.parametrize("accepted", [row.param() for row in ACCEPTED])
def test_create_accepts_boundary_values(env: ServiceEnv, accepted: Accepted) -> None:
    """Values on the allowed side of each rule are saved, and defaults fill omitted optional fields (§2.1)."""
    body = make_body(env, accepted.change)
    response = create(env, body, org_in_query="OrganizationId" not in accepted.change)
    assert response.status_code == 201, response.text
    profile = body_of(response)
    for key, value in accepted.holds.items():
        assert profile[key] == (env.org_id if value is ORG else value), key
    assert stored(env, profile["Id"]) == profile


def test_update_may_omit_the_organization_id(env: ServiceEnv, draft: dict[str, Any]) -> None:
    """An omitted immutable field keeps its stored value on PUT (§2.1): no ``OrganizationId`` in the body."""
    body = make_body(env, {"Name": draft["Name"], "RetryCount": 7})
    response = update(env, draft["Id"], body)
    assert response.status_code == 200, response.text
    assert body_of(response)["OrganizationId"] == env.org_id
    assert body_of(response)["RetryCount"] == 7


# ----- the whole catalogue ---------------------------------------------------------------------------------


def exportable(env: ServiceEnv) -> tuple[list[str], list[dict[str, Any]]]:
    """The metadata routes' exportable entities and M:N relationships (§3.3)."""
    entities = call(env, "GET", f"{METADATA}/entities", params=org_query(env))
    relationships = call(env, "GET", f"{METADATA}/relationships", params=org_query(env))
    assert entities.status_code == relationships.status_code == 200, (entities.text, relationships.text)
    return [entity["LogicalName"] for entity in entities.json()], relationships.json()


def test_every_entity_and_relationship_the_metadata_routes_offer_is_accepted(env: ServiceEnv) -> None:
    """Everything ``metadata/entities`` and ``metadata/relationships`` offer passes the selection rules (§3.3)."""
    entities, relationships = exportable(env)
    assert relationships, "the sample organization has M:N relationships"
    change = {
        "Entities": [{"Name": name} for name in entities],
        "Relationships": [{"Name": relationship["SchemaName"]} for relationship in relationships],
    }
    response = create(env, make_body(env, change))
    assert response.status_code == 201, response.text
    assert body_of(response)["Relationships"] == change["Relationships"]


def test_every_other_table_of_the_catalogue_is_refused(env: ServiceEnv) -> None:
    """Each table the emulator's catalogue has but ``metadata/entities`` leaves out breaks one selection rule."""
    offered = set(exportable(env)[0])
    others = sorted(table.logical_name for table in standard_catalog().tables if table.logical_name not in offered)
    assert {"new_untracked", "accountleads"} <= set(others)
    found = failures(create(env, make_body(env, {"Entities": [{"Name": name} for name in others]})))
    assert [field_name for field_name, _code, _message in found] == [f"Entities[{i}].Name" for i in range(len(others))]
    assert {code for _field, code, _message in found} == {"ChangeTrackingDisabled", "NotSupported"}


# ----- several rules at once --------------------------------------------------------------------------------

MANY_BROKEN: dict[str, object] = {
    "Name": "",
    "KeyVaultUri": "ftp://contoso-kv.vault.azure.net/secrets/reporting-sql/",
    "SchemaName": "dbo-x",
    "TablePrefix": "p" * 15,
    "RetryCount": 21,
    "RetryInterval": -1,
    "WriteDeleteLog": "yes",
    "Entities": [
        {"Name": "account"},
        {"Name": "new_untracked"},
        {"Name": "ACCOUNT"},
        {"Name": "accountleads"},
        {"Name": "new_nosuchtable"},
        {},
    ],
    "Relationships": [{"Name": "accountleads_association"}, {"Name": "new_nosuch_association"}],
}
MANY_FAILURES = {
    ("Name", "Required", "Name is required."),
    ("KeyVaultUri", "InvalidFormat", FORMAT_MESSAGE),
    ("SchemaName", "InvalidFormat", "SchemaName must contain only letters and digits."),
    ("TablePrefix", "TooLong", "TablePrefix must be shorter than 15 characters."),
    ("RetryCount", "OutOfRange", "RetryCount must be between 0 and 20."),
    ("RetryInterval", "OutOfRange", "RetryInterval must be between 0 and 3600 seconds."),
    ("WriteDeleteLog", "InvalidType", "WriteDeleteLog must be a boolean."),
    ("Entities[1].Name", "ChangeTrackingDisabled", "Entity 'new_untracked' does not have change tracking enabled."),
    ("Entities[2].Name", "Duplicate", "Entity 'ACCOUNT' is listed more than once."),
    (
        "Entities[3].Name",
        "NotSupported",
        "Entity 'accountleads' is an intersect entity; select its relationship instead.",
    ),
    ("Entities[4].Name", "UnknownEntity", "Entity 'new_nosuchtable' does not exist in the organization."),
    ("Entities[5].Name", "Required", "Entity name is required."),
    (
        "Relationships[0].Name",
        "EntityNotSelected",
        "Relationship 'accountleads_association' requires entities 'account' and 'lead' to be selected.",
    ),
    (
        "Relationships[1].Name",
        "UnknownRelationship",
        "Relationship 'new_nosuch_association' is not a many-to-many relationship in the organization.",
    ),
}


def test_create_lists_every_failing_field_in_one_answer(env: ServiceEnv) -> None:
    """All rules are checked together: one 400 lists each failure once, and nothing else (§2.3)."""
    found = failures(create(env, make_body(env, MANY_BROKEN)))
    assert len(found) == len(set(found))
    assert set(found) == MANY_FAILURES


def test_update_lists_every_failing_field_in_one_answer(env: ServiceEnv, draft: dict[str, Any]) -> None:
    before = stored(env, draft["Id"])
    body = make_body(env, {**MANY_BROKEN, "OrganizationId": OTHER_ORG})
    found = failures(update(env, draft["Id"], body))
    assert len(found) == len(set(found))
    assert set(found) == MANY_FAILURES | {("OrganizationId", "Immutable", "OrganizationId cannot be changed.")}
    assert stored(env, draft["Id"]) == before


def test_create_without_an_organization_still_lists_every_field_rule(env: ServiceEnv) -> None:
    """With no org anywhere, the metadata rules cannot run, but the field rules still do (§2.3: every failing
    field in one response), next to ``OrganizationId`` ``Required``."""
    body = make_body(env, {"Name": "", "RetryCount": 21, "TablePrefix": "crm_"})
    found = set(failures(create(env, body, org_in_query=False)))
    assert found == {
        ("OrganizationId", "Required", "OrganizationId is required."),
        ("Name", "Required", "Name is required."),
        ("RetryCount", "OutOfRange", "RetryCount must be between 0 and 20."),
        ("TablePrefix", "InvalidFormat", "TablePrefix must contain only letters and digits."),
    }


def test_validate_reports_the_same_failures_once_each(env: ServiceEnv) -> None:
    """validate spreads the same §2.3 failures over ProfileFields, EntitySelection and RelationshipSelection,
    never repeating one in two checks (§5 check 1)."""
    response = validate(env, make_body(env, MANY_BROKEN))
    found = check_details(response)
    assert len(found) == len(set(found)), found
    assert set(found) == MANY_FAILURES
    assert body_of(response)["Succeeded"] is False
    assert {check_status(response, name) for name in SELECTION_CHECKS} == {"Failed"}


def test_validate_passes_the_field_checks_of_a_valid_body(env: ServiceEnv) -> None:
    response = validate(
        env, make_body(env, {"Entities": ACCOUNT_LEAD, "Relationships": [{"Name": "accountleads_association"}]})
    )
    assert check_details(response) == []
    assert [check_status(response, name) for name in SELECTION_CHECKS] == ["Passed"] * 3
    assert body_of(response)["Succeeded"] is True, response.text


# ----- bodies that are not a JSON object ---------------------------------------------------------------------


@dataclass(frozen=True)
class RawBody:
    case: str
    content: bytes
    content_type: str = "application/json"

    def param(self) -> Any:
        return pytest.param(self, id=self.case)


NOT_AN_OBJECT = [
    RawBody("malformed", b'{"Name": "p1",'),
    RawBody("single-quotes", b"{'Name': 'p1'}"),
    RawBody("array", b"[]"),
    RawBody("array-of-object", b'[{"Name": "p1"}]'),
    RawBody("string", b'"p1"'),
    RawBody("number", b"42"),
    RawBody("null", b"null"),
    RawBody("empty", b""),
    RawBody("whitespace", b"  \n"),
    RawBody("not-utf8", b'{"Name": "\xff\xfe"}'),
    RawBody("form-encoded", b"Name=p1&KeyVaultUri=env%3AX", "application/x-www-form-urlencoded"),
    RawBody("json-as-text-plain", b"", "text/plain"),
    RawBody("json-as-xml", b"", "application/xml"),
]


def raw_call(env: ServiceEnv, route: str, raw: RawBody, draft: dict[str, Any]) -> httpx.Response:
    """``raw`` sent to ``route``; an empty ``content`` under another media type carries a valid JSON object."""
    content = raw.content
    if not content and raw.content_type != "application/json":
        valid = make_body(env, {"Name": draft["Name"]} if route == UPDATE else {})
        content = json.dumps(valid).encode()
    path = {CREATE: PROFILES, VALIDATE: f"{PROFILES}/validate", UPDATE: f"{PROFILES}/{draft['Id']}"}[route]
    params = None if route == UPDATE else org_query(env)
    method = "PUT" if route == UPDATE else "POST"
    return call(env, method, path, params=params, content=content, headers={"Content-Type": raw.content_type})


@pytest.mark.parametrize("route", ALL_ROUTES)
@pytest.mark.parametrize("raw", [row.param() for row in NOT_AN_OBJECT])
def test_a_body_that_is_not_a_json_object_is_invalid_json(
    env: ServiceEnv, draft: dict[str, Any], route: str, raw: RawBody
) -> None:
    """400 ``ValidationFailed`` with one ``$`` ``InvalidJson`` detail on create, update and validate (§2.3, §5)."""
    before = stored(env, draft["Id"])
    response = raw_call(env, route, raw, draft)
    assert failures(response) == [("$", "InvalidJson", "Request body must be a JSON object.")]
    assert stored(env, draft["Id"]) == before


def test_a_json_content_type_with_charset_is_accepted(env: ServiceEnv) -> None:
    body = json.dumps(make_body(env, {})).encode()
    response = call(
        env,
        "POST",
        PROFILES,
        params=org_query(env),
        content=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


# ----- unknown and read-only fields ------------------------------------------------------------------------

READ_ONLY = {
    "Id": "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a",
    "State": "Active",
    "ActivationMode": "Full",
    "CreatedOn": "2001-02-03T04:05:06Z",
    "ModifiedOn": "2001-02-03T04:05:06Z",
    "Status": {"FailedNotificationsCount": 3},
    "ConnectorUrl": "https://elsewhere.example",
    "Colour": "blue",
}
READ_ONLY_WRONG_TYPES = {"Id": 5, "State": ["Active"], "CreatedOn": True, "Status": "none", "Colour": None}


@pytest.mark.parametrize("extra", [READ_ONLY, READ_ONLY_WRONG_TYPES], ids=["values", "wrong-types"])
def test_create_ignores_unknown_and_read_only_fields(env: ServiceEnv, extra: dict[str, object]) -> None:
    """Unknown and read-only request properties are ignored (§0), whatever their type."""
    response = create(env, make_body(env, extra))
    assert response.status_code == 201, response.text
    profile = body_of(response)
    assert profile["Id"] != READ_ONLY["Id"]
    assert (profile["State"], profile["ActivationMode"]) == ("Draft", None)
    assert not profile["CreatedOn"].startswith("2001")
    assert "Status" not in profile and "Colour" not in profile and "ConnectorUrl" not in profile
    assert call(env, "GET", f"{PROFILES}/{READ_ONLY['Id']}").status_code == 404


def test_update_ignores_unknown_and_read_only_fields(env: ServiceEnv) -> None:
    profile = new_profile(env, Name=unique_name())
    body = make_body(env, {**READ_ONLY, "Name": profile["Name"], "RetryCount": 9, "OrganizationId": ORG})
    response = update(env, profile["Id"], body)
    assert response.status_code == 200, response.text
    updated = body_of(response)
    assert (updated["Id"], updated["CreatedOn"]) == (profile["Id"], profile["CreatedOn"])
    assert (updated["State"], updated["ActivationMode"], updated["RetryCount"]) == ("Draft", None, 9)
    assert "Colour" not in updated


# ----- KeyVaultUri forms (§1.7) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretForm:
    case: str
    value: str
    problem: str | None  # the §2.3 message, or None when the form is accepted

    def param(self) -> Any:
        return pytest.param(self, id=self.case)


KEY_VAULT_FORMS = [
    SecretForm("vault-url", "https://contoso-kv.vault.azure.net/secrets/reporting-sql/", None),
    SecretForm("vault-url-with-port", "https://contoso-kv.vault.azure.net:443/secrets/reporting-sql/", None),
    SecretForm("vault-exact-host", f"https://{VAULT_HOST}/secrets/reporting-sql/", None),
    SecretForm("vault-exact-host-with-port", f"https://{VAULT_HOST}:8443/secrets/reporting-sql/", None),
    SecretForm("env", "env:REPORTING_SQL", None),
    SecretForm("file-absolute", "file:/run/secrets/reporting_sql", None),
    SecretForm("file-relative", "file:secrets/reporting_sql", None),
    SecretForm("bare-name", "reporting-sql", FORMAT_MESSAGE),
    SecretForm("http", "http://contoso-kv.vault.azure.net/secrets/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("other-scheme", "ftp://contoso-kv.vault.azure.net/secrets/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("host-not-a-vault", "https://contoso-kv.vault.azure.com/secrets/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("suffix-without-dot-boundary", "https://contosovault.azure.net/secrets/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("suffix-then-other-domain", "https://kv.vault.azure.net.example.com/secrets/x/", FORMAT_MESSAGE),
    SecretForm("exact-host-subdomain", f"https://kv.{VAULT_HOST}/secrets/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("key-not-secret", "https://contoso-kv.vault.azure.net/keys/reporting-sql/", FORMAT_MESSAGE),
    SecretForm("no-secret-name", "https://contoso-kv.vault.azure.net/secrets/", FORMAT_MESSAGE),
    SecretForm("vault-root", "https://contoso-kv.vault.azure.net/", FORMAT_MESSAGE),
    SecretForm("env-without-name", "env:", FORMAT_MESSAGE),
    SecretForm("file-without-path", "file:", FORMAT_MESSAGE),
    SecretForm("connection-string", "postgresql://u:p@db:5432/rep", FORMAT_MESSAGE),
    SecretForm(
        "version",
        "https://contoso-kv.vault.azure.net/secrets/reporting-sql/0123456789abcdef0123456789abcdef",
        VERSION_MESSAGE,
    ),
    SecretForm(
        "version-trailing-slash",
        "https://contoso-kv.vault.azure.net/secrets/reporting-sql/0123456789abcdef0123456789abcdef/",
        VERSION_MESSAGE,
    ),
]


@pytest.mark.parametrize("form", [row.param() for row in KEY_VAULT_FORMS])
def test_key_vault_uri_forms(env: ServiceEnv, form: SecretForm) -> None:
    """The three §1.7 forms and the host suffix rules; an accepted value is stored exactly as sent."""
    response = create(env, make_body(env, {"KeyVaultUri": form.value}))
    if form.problem is None:
        assert response.status_code == 201, response.text
        assert body_of(response)["KeyVaultUri"] == form.value
    else:
        assert failures(response) == [("KeyVaultUri", "InvalidFormat", form.problem)]


# ----- Duplicate names -------------------------------------------------------------------------------------


def duplicate(name: str) -> tuple[str, str, str]:
    return ("Name", "Duplicate", f"A profile named '{name}' already exists for this organization.")


@pytest.mark.parametrize("spelling", ["same", "lower", "upper", "padded"])
def test_create_refuses_a_name_the_organization_already_uses(env: ServiceEnv, spelling: str) -> None:
    """Names are unique per organization, compared case-insensitively after trimming (§2.1)."""
    existing = new_profile(env, Name=unique_name("Sales Reporting"))["Name"]
    spellings = {"same": existing, "lower": existing.lower(), "upper": existing.upper(), "padded": f" {existing}  "}
    name = spellings[spelling]
    assert failures(create(env, make_body(env, {"Name": name}))) == [duplicate(name.strip())]


def test_validate_reports_a_duplicate_name(env: ServiceEnv) -> None:
    existing = new_profile(env, Name=unique_name("Dup Validate"))["Name"]
    response = validate(env, make_body(env, {"Name": existing.swapcase()}))
    assert duplicate(existing.swapcase()) in check_details(response)
    assert check_status(response, "ProfileFields") == "Failed"


def test_update_refuses_another_profiles_name_but_not_its_own(env: ServiceEnv) -> None:
    first = new_profile(env, Name=unique_name("First"))
    second = new_profile(env, Name=unique_name("Second"))
    taken = first["Name"].upper()
    body = make_body(env, {"Name": taken, "OrganizationId": ORG})
    assert failures(update(env, second["Id"], body)) == [duplicate(taken)]
    own = first["Name"].lower()
    response = update(env, first["Id"], make_body(env, {"Name": own, "OrganizationId": ORG}))
    assert response.status_code == 200, response.text
    assert body_of(response)["Name"] == own


# ----- PUT after activation (§2.1, §2.3, §4.3) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def active(env: ServiceEnv) -> dict[str, Any]:
    """An Active profile (the scheduler is not started, so nothing syncs) with its own schema and prefix."""
    profile = new_profile(
        env, Name=unique_name("active"), SchemaName="rep", TablePrefix="crm", OrganizationId=env.org_id
    )
    response = call(env, "POST", f"{PROFILES}/{profile['Id']}/activate")
    assert response.status_code == 200, response.text
    assert body_of(response)["State"] == "Active"
    return body_of(response)


def active_body(env: ServiceEnv, active: dict[str, Any], change: Mapping[str, object]) -> dict[str, Any]:
    base = {"Name": active["Name"], "OrganizationId": ORG, "SchemaName": "rep", "TablePrefix": "crm"}
    return make_body(env, {**base, **change})


def _after_activation(field_name: str, rule: str, value: str) -> Rule:
    message = f"{field_name} cannot be changed after the profile has been activated."
    return Rule(rule, {field_name: value}, field_name, "Immutable", message, routes=(UPDATE,))


RECHECKED = {
    "Name-Required-blank",
    "OrganizationId-Immutable",
    "KeyVaultUri-InvalidFormat",
    "RetryCount-OutOfRange-21",
    "Entities.Name-ChangeTrackingDisabled",
    "Relationships.Name-EntityNotSelected",
    "InvalidType-WriteDeleteLog-string",
}
ACTIVE_RULES = [
    _after_activation("SchemaName", "SchemaName-Immutable", "other"),
    _after_activation("TablePrefix", "TablePrefix-Immutable", "new"),
    _after_activation("TablePrefix", "TablePrefix-Immutable-emptied", ""),
    *(rule for rule in RULES if rule.rule in RECHECKED),
]


@pytest.mark.parametrize("rule", [rule.param() for rule in ACTIVE_RULES])
def test_update_of_an_active_profile_is_validated_again(env: ServiceEnv, active: dict[str, Any], rule: Rule) -> None:
    """PUT of an Active profile runs every rule again, plus the after-activation immutability (§2.3, §4.3)."""
    before = stored(env, active["Id"])
    response = update(env, active["Id"], active_body(env, active, rule.change))
    assert failures(response) == [rule.expected]
    after = stored(env, active["Id"])
    assert after == before and after["State"] == "Active"


def test_update_of_an_active_profile_keeps_omitted_schema_and_prefix(env: ServiceEnv, active: dict[str, Any]) -> None:
    """After activation an omitted ``SchemaName``/``TablePrefix`` keeps its stored value (§2.1)."""
    body = active_body(env, active, {"SchemaName": DROP, "TablePrefix": DROP, "RetryCount": 4})
    response = update(env, active["Id"], body)
    assert response.status_code == 200, response.text
    profile = body_of(response)
    assert (profile["SchemaName"], profile["TablePrefix"], profile["RetryCount"]) == ("rep", "crm", 4)
    assert profile["State"] == "Active"


def test_schema_and_prefix_stay_immutable_after_deactivation(env: ServiceEnv) -> None:
    profile = new_profile(env, Name=unique_name("inactive"), SchemaName="old", TablePrefix="was")
    for step in ("activate", "deactivate"):
        response = call(env, "POST", f"{PROFILES}/{profile['Id']}/{step}")
        assert response.status_code == 200, response.text
    body = make_body(env, {"Name": profile["Name"], "OrganizationId": ORG, "SchemaName": "new", "TablePrefix": "was"})
    assert failures(update(env, profile["Id"], body)) == [
        ("SchemaName", "Immutable", "SchemaName cannot be changed after the profile has been activated.")
    ]


def test_a_draft_profile_may_change_schema_and_prefix(env: ServiceEnv) -> None:
    """Before the first activation ``SchemaName`` and ``TablePrefix`` are ordinary mutable fields (§2.1)."""
    profile = new_profile(env, Name=unique_name("draft-move"), SchemaName="old", TablePrefix="was")
    body = make_body(env, {"Name": profile["Name"], "OrganizationId": ORG, "SchemaName": "new", "TablePrefix": "now"})
    response = update(env, profile["Id"], body)
    assert response.status_code == 200, response.text
    assert (body_of(response)["SchemaName"], body_of(response)["TablePrefix"]) == ("new", "now")


# ----- metadata that cannot be read -----------------------------------------------------------------------


def test_selection_rules_answer_503_when_metadata_cannot_be_read(emulator: EmulatorInfo, tmp_path: Path) -> None:
    """The entity rules need Dataverse metadata: when it cannot be read, 503 ``OrganizationUnavailable`` (§2.3)
    rather than a guess. A fresh service (cold metadata cache) over the module's emulator."""
    with service_env(tmp_path / "cold", emulator) as cold:
        cold.accept_terms()
        refuse = {"match": {"path_regex": "EntityDefinitions"}, "action": {"status": 403, "message": "denied"}}
        emulator_admin(emulator, "POST", "faults", {"rules": [refuse]})
        try:
            response = create(cold, make_body(cold, {}))
        finally:
            emulator_admin(emulator, "DELETE", "faults")
        assert response.status_code == 503, response.text
        assert body_of(response)["Error"]["Code"] == "OrganizationUnavailable"
        assert create(cold, make_body(cold, {})).status_code == 201
