"""The export profile value, its JSON names and its field rules (DES §1.7, §2.1, §2.3)."""

from __future__ import annotations

import pytest
from test_destination_support import ACCOUNT_LEADS

from dataexport.domain.profile import ActivationMode, ExportProfile, ProfileState
from dataexport.domain.profile_rules import (
    EntityInfo,
    SelectionCatalog,
    duplicate_name,
    validate_profile_body,
    validate_selection,
    validate_update,
)
from dataexport.domain.secret_refs import SecretReferenceKind, parse_secret_reference, secret_reference_problem
from dataexport.domain.sync import RetryPolicy

ORG = "5f0b8c5e-3c1d-4a8e-9a53-2f8f1a7c6d10"
VAULT = "https://contoso-kv.vault.azure.net/secrets/reporting-sql/"


def body(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "Name": "Sales to reporting",
        "OrganizationId": ORG,
        "KeyVaultUri": VAULT,
        "SchemaName": "dbo",
        "TablePrefix": "crm",
        "RetryCount": 12,
        "RetryInterval": 5,
        "WriteDeleteLog": True,
        "Entities": [{"Name": "account"}, {"Name": "contact"}, {"Name": "lead"}],
        "Relationships": [{"Name": "accountleads_association"}],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def codes(details: tuple[object, ...]) -> list[tuple[str | None, str]]:
    return [(d.field, d.code) for d in details]  # type: ignore[attr-defined]


def test_the_spec_create_body_is_valid_and_round_trips() -> None:
    assert validate_profile_body(body()) == ()
    profile = ExportProfile.model_validate({**body(), "Id": "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"})
    assert profile.retry_policy == RetryPolicy(12, 5)
    assert profile.entity_names == ("account", "contact", "lead")
    assert profile.state is ProfileState.DRAFT and profile.activation_mode is None
    dumped = profile.model_dump(by_alias=True, mode="json")
    assert (
        dumped["KeyVaultUri"] == VAULT
        and dumped["WriteDeleteLog"] is True
        and dumped["Entities"][0] == {"Name": "account"}
    )
    assert ActivationMode("MetadataOnly") is ActivationMode.METADATA_ONLY


def test_defaults_apply_when_optional_fields_are_omitted() -> None:
    minimal = {"Id": "x", "Name": "n", "OrganizationId": ORG, "KeyVaultUri": "env:SQL", "Entities": [{"Name": "a"}]}
    profile = ExportProfile.model_validate(minimal)
    assert (profile.schema_name, profile.table_prefix, profile.retry_count, profile.retry_interval) == (
        "dbo",
        "",
        12,
        5,
    )
    assert profile.write_delete_log is False and profile.relationships == ()


def test_not_an_object() -> None:
    details = validate_profile_body([1, 2])
    assert codes(details) == [("$", "InvalidJson")]
    assert details[0].message == "Request body must be a JSON object."


def test_all_failing_fields_are_reported_together_with_spec_messages() -> None:
    details = validate_profile_body(
        body(Name="  ", TablePrefix="crm_reporting_x", SchemaName="dbo;drop", RetryCount=21, RetryInterval=-1)
    )
    messages = {(d.field, d.code): d.message for d in details}
    assert messages == {
        ("Name", "Required"): "Name is required.",
        ("SchemaName", "InvalidFormat"): "SchemaName must contain only letters and digits.",
        ("TablePrefix", "InvalidFormat"): "TablePrefix must contain only letters and digits.",
        ("TablePrefix", "TooLong"): "TablePrefix must be shorter than 15 characters.",
        ("RetryCount", "OutOfRange"): "RetryCount must be between 0 and 20.",
        ("RetryInterval", "OutOfRange"): "RetryInterval must be between 0 and 3600 seconds.",
    }


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("RetryCount", "12", "integer"),
        ("RetryCount", 5.0, "integer"),
        ("RetryCount", True, "integer"),
        ("WriteDeleteLog", "true", "boolean"),
        ("WriteDeleteLog", 1, "boolean"),
        ("Name", 7, "string"),
        ("Entities", {"Name": "account"}, "array"),
    ],
)
def test_wrong_json_types_are_never_coerced(field: str, value: object, kind: str) -> None:
    details = validate_profile_body(body(**{field: value}))
    assert codes(details) == [(field, "InvalidType")]
    article = "an" if kind[0] in "aeiou" else "a"
    assert details[0].message == f"{field} must be {article} {kind}."


def test_name_length_and_schema_length() -> None:
    details = validate_profile_body(body(Name="n" * 101, SchemaName="s" * 129, TablePrefix="p" * 14))
    assert codes(details) == [("Name", "TooLong"), ("SchemaName", "TooLong")]
    assert validate_profile_body(body(Name=" " + "n" * 100 + " ")) == ()


def test_organization_rules() -> None:
    assert codes(validate_profile_body(body(OrganizationId=_DROP))) == [("OrganizationId", "Required")]
    assert validate_profile_body(body(OrganizationId=_DROP), query_organization_id=ORG) == ()
    assert codes(validate_profile_body(body(OrganizationId="nope"))) == [("OrganizationId", "InvalidFormat")]
    other = "00000000-0000-0000-0000-000000000001"
    assert codes(validate_profile_body(body(), query_organization_id=other)) == [("OrganizationId", "Mismatch")]
    assert validate_profile_body(body(), query_organization_id=ORG.upper()) == ()


@pytest.mark.parametrize(
    ("value", "message_start"),
    [
        ("https://contoso-kv.vault.azure.net/secrets/reporting-sql/0123456789abcdef", "KeyVaultUri must not include"),
        ("https://evil.example.com/secrets/reporting-sql/", "KeyVaultUri must be a Key Vault secret URL"),
        ("http://contoso-kv.vault.azure.net/secrets/reporting-sql/", "KeyVaultUri must be a Key Vault secret URL"),
        ("Server=tcp:x;Password=p", "KeyVaultUri must be a Key Vault secret URL"),
        ("env:", "KeyVaultUri must be a Key Vault secret URL"),
        ("file:", "KeyVaultUri must be a Key Vault secret URL"),
    ],
)
def test_key_vault_uri_forms(value: str, message_start: str) -> None:
    details = validate_profile_body(body(KeyVaultUri=value))
    assert codes(details) == [("KeyVaultUri", "InvalidFormat")]
    assert details[0].message.startswith(message_start)


def test_secret_references_parse_into_their_kind() -> None:
    assert parse_secret_reference(VAULT).kind is SecretReferenceKind.KEY_VAULT
    assert parse_secret_reference(VAULT).secret_name == "reporting-sql"
    assert parse_secret_reference("env:REPORTING_SQL").target == "REPORTING_SQL"
    assert parse_secret_reference("file:secrets/reporting_sql").target == "secrets/reporting_sql"
    assert parse_secret_reference("file:/run/x").secret_name is None
    local = "https://127.0.0.1:8443/secrets/reporting-sql/"
    assert secret_reference_problem(local) is not None
    assert secret_reference_problem(local, ("127.0.0.1",)) is None
    with pytest.raises(ValueError, match="must not include a secret version"):
        parse_secret_reference(VAULT + "v1")


def test_entity_and_relationship_list_rules() -> None:
    details = validate_profile_body(
        body(
            Entities=[{"Name": "account"}, {"Name": "Account"}, {"Name": " "}, {"Name": "activitypointer"}, "x"],
            Relationships=[{"Name": "r"}, {"Name": "R"}, {}],
        )
    )
    assert codes(details) == [
        ("Entities[1].Name", "Duplicate"),
        ("Entities[2].Name", "Required"),
        ("Entities[3].Name", "NotSupported"),
        ("Entities[4]", "InvalidType"),
        ("Relationships[1].Name", "Duplicate"),
        ("Relationships[2].Name", "Required"),
    ]
    assert details[0].message == "Entity 'Account' is listed more than once."
    assert details[2].message == (
        "Entity 'activitypointer' cannot be exported; select the individual activity entities instead."
    )
    empty = validate_profile_body(body(Entities=[]))
    assert codes(empty) == [("Entities", "Required")]
    assert empty[0].message == "At least one entity must be selected."


def test_selection_rules_use_the_catalog() -> None:
    catalog = SelectionCatalog(
        entities={
            "account": EntityInfo(change_tracking=True),
            "lead": EntityInfo(change_tracking=True),
            "new_invoice": EntityInfo(change_tracking=False),
            "accountleads": EntityInfo(change_tracking=True, is_intersect=True),
        },
        relationships={"accountleads_association": ACCOUNT_LEADS},
    )
    details = validate_selection(
        ["account", "new_invoice", "ghost", "accountleads"], ["accountleads_association", "nope"], catalog
    )
    assert [(d.field, d.code, d.message) for d in details] == [
        ("Entities[1].Name", "ChangeTrackingDisabled", "Entity 'new_invoice' does not have change tracking enabled."),
        ("Entities[2].Name", "UnknownEntity", "Entity 'ghost' does not exist in the organization."),
        (
            "Entities[3].Name",
            "NotSupported",
            "Entity 'accountleads' is an intersect entity; select its relationship instead.",
        ),
        (
            "Relationships[0].Name",
            "EntityNotSelected",
            "Relationship 'accountleads_association' requires entities 'account' and 'lead' to be selected.",
        ),
        (
            "Relationships[1].Name",
            "UnknownRelationship",
            "Relationship 'nope' is not a many-to-many relationship in the organization.",
        ),
    ]
    assert validate_selection(["account", "lead"], ["accountleads_association"], catalog) == ()


def test_update_rules() -> None:
    changed = {"OrganizationId": "00000000-0000-0000-0000-000000000001", "SchemaName": "rep", "TablePrefix": "crm"}
    before = validate_update(ORG, "dbo", "crm", changed, activated=False)
    assert codes(before) == [("OrganizationId", "Immutable")]
    after = validate_update(ORG, "dbo", "crm", changed, activated=True)
    assert codes(after) == [("OrganizationId", "Immutable"), ("SchemaName", "Immutable")]
    assert after[1].message == "SchemaName cannot be changed after the profile has been activated."


def test_duplicate_profile_names_compare_case_insensitively() -> None:
    details = duplicate_name("Sales", ["sales ", "Other"])
    assert codes(details) == [("Name", "Duplicate")]
    assert details[0].message == "A profile named 'Sales' already exists for this organization."
    assert duplicate_name("Sales", ["Other"]) == ()
