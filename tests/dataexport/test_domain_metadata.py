"""Content of the DES metadata tables (DES §6.5)."""

from __future__ import annotations

from test_destination_support import REGION_SET, account_leads_schema, account_schema, labels

from dataexport.domain.metadata import AttributeRow, LabelRow, TargetRow, entity_metadata_rows, label_rows
from dataexport.domain.schema import Label, Labels, Option, OptionSet


def test_label_rows_per_language_plus_user_localized() -> None:
    labels = Labels(
        localized=(Label(language_code=1033, text="Consulting"), Label(language_code=1031, text="Beratung")),
        user_localized=Label(language_code=1031, text="Beratung"),
    )
    assert label_rows("industrycode", 3, labels) == (
        LabelRow("industrycode", 3, False, 1033, "Consulting"),
        LabelRow("industrycode", 3, False, 1031, "Beratung"),
        LabelRow("industrycode", 3, True, 1031, "Beratung"),
    )
    assert label_rows("x", 1, Labels()) == ()


def test_option_set_rows_cover_picklists_and_multi_selects_only() -> None:
    rows = entity_metadata_rows(account_schema())
    assert {row.option_set for row in rows.option_sets} == {"industrycode", "new_region", "new_interests"}
    consulting = [r for r in rows.option_sets if r.option_set == "industrycode" and r.option == 3]
    assert sorted((r.is_user_localized, r.language_code, r.label) for r in consulting) == [
        (False, 1031, "Beratung"),
        (False, 1033, "Consulting"),
        (True, 1033, "Consulting"),
    ]


def test_state_and_status_rows() -> None:
    rows = entity_metadata_rows(account_schema())
    assert {(r.option, r.language_code, r.label) for r in rows.states if not r.is_user_localized} == {
        (0, 1033, "Active"),
        (0, 1031, "Aktiv"),
        (1, 1033, "Inactive"),
        (1, 1031, "Inaktiv"),
    }
    assert {(r.state, r.option) for r in rows.statuses} == {(0, 1), (1, 2)}


def test_global_option_sets_prefer_the_given_definition() -> None:
    newer = OptionSet(name="new_region", is_global=True, options=(Option(value=100000009, labels=labels("West")),))
    assert set(entity_metadata_rows(account_schema()).global_option_sets) == {"new_region"}
    from_attribute = entity_metadata_rows(account_schema()).global_option_sets["new_region"]
    assert {(r.option, r.language_code) for r in from_attribute} == {
        (100000000, 1033),
        (100000000, 1031),
        (100000001, 1033),
    }
    given = entity_metadata_rows(account_schema(), {"new_region": newer}).global_option_sets["new_region"]
    assert {(r.option, r.label) for r in given} == {(100000009, "West")}
    assert REGION_SET.is_global


def test_one_target_row_per_lookup_target() -> None:
    rows = entity_metadata_rows(account_schema(), target_primary_ids={"systemuser": "systemuserid", "team": "teamid"})
    assert set(rows.targets) == {
        TargetRow("ownerid", "systemuser", "systemuserid"),
        TargetRow("ownerid", "team", "teamid"),
        TargetRow("parentaccountid", "account", None),
        TargetRow("primarycontactid", "contact", None),
        TargetRow("transactioncurrencyid", "transactioncurrency", None),
    }
    assert entity_metadata_rows(account_leads_schema()).targets == ()


def test_attribute_rows_follow_column_order_with_type_names_and_precision() -> None:
    rows = {row.attribute: row for row in entity_metadata_rows(account_schema()).attributes}
    assert list(rows)[:3] == ["statecode", "statuscode", "industrycode"]
    assert rows["new_interests"] == AttributeRow("new_interests", "MultiSelectPicklist", 17, "meta-new_interests", None)
    assert rows["revenue_base"] == AttributeRow("revenue_base", "Money", 8, "meta-revenue_base", 4)
    assert rows["new_ratio"].precision == 2
    assert rows["ownerid"].attribute_type == "Owner" and rows["ownerid"].attribute_type_code == 9
    assert rows["owneridtype"].attribute_type == "EntityName"
    assert "entityimage" not in rows and "ownerid_entitytype" not in rows
