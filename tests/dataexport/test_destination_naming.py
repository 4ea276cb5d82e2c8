"""Destination names (DES §6.1): prefix, spelling, validation, truncation."""

from __future__ import annotations

import hashlib

import pytest

from dataexport.destination.sql.naming import Naming, fit_identifier, validate_identifier
from dataexport.errors import InvalidIdentifier, TerminalError


def test_prefix_is_lowercased_and_joined_with_one_underscore() -> None:
    naming = Naming.create("CRM", None)
    assert naming.entity_table("account") == "crm_account"
    assert naming.fixed_table("OptionSetMetadata") == "crm_OptionSetMetadata"
    assert naming.fixed_table("DeleteLog") == "crm_DeleteLog"
    assert naming.seen_table("account") == "crm_accountSeenIds"
    assert naming.primary_key("crm_account") == "pk_crm_account"
    assert naming.column("SinkCreatedOn") == "SinkCreatedOn"


def test_without_prefix_names_are_bare() -> None:
    naming = Naming.create("", None)
    assert naming.entity_table("account") == "account"
    assert naming.fixed_table("AttributeMetadata") == "AttributeMetadata"


def test_lowercase_engines_fold_every_name() -> None:
    naming = Naming.create("Crm", "dbo", fold_lowercase=True)
    assert naming.fixed_table("OptionSetMetadata") == "crm_optionsetmetadata"
    assert naming.column("Id") == "id"


@pytest.mark.parametrize("bad", ["dbo;drop", "a b", 'x"y', "crm-1", "", "naïve"])
def test_unsafe_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_identifier(bad, "SchemaName")
    assert isinstance(caught.value, TerminalError)
    assert "use letters, digits and underscores only" in str(caught.value)
    with pytest.raises(InvalidIdentifier):
        Naming.create("crm", None).entity_table(bad)


def test_prefix_and_schema_are_validated_when_the_naming_is_built() -> None:
    with pytest.raises(InvalidIdentifier, match="TablePrefix 'crm;'"):
        Naming.create("crm;", None)
    with pytest.raises(InvalidIdentifier, match="SchemaName 'dbo drop'"):
        Naming.create("crm", "dbo drop")


def test_truncation_keeps_the_limit_and_a_hash_of_the_full_name() -> None:
    name = "crm_" + "new_averyveryverylongcustomentitylogicalname_withsuffix"
    cut = fit_identifier(name, 30)
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    assert cut == name[:21] + "_" + digest
    assert len(cut) == 30
    assert fit_identifier(name[:30], 30) == name[:30]
    assert fit_identifier(name, None) == name


def test_truncation_applies_to_every_created_identifier() -> None:
    naming = Naming.create("crm", None, max_identifier_length=63)
    long_attribute = "new_" + "x" * 60
    assert len(naming.column(long_attribute + "_entitytype")) == 63
    assert naming.column(long_attribute + "_entitytype") != naming.column(long_attribute + "_entitytypf")
    assert len(naming.entity_table("new_" + "y" * 70)) == 63
    assert len(naming.seen_table("new_" + "y" * 55)) == 63
    assert len(naming.primary_key("crm_" + "z" * 62)) == 63
