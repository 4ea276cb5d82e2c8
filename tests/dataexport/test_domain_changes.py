"""Mapping Web API rows to column values (DES §6.3, webapi §2.6-2.7), and change batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from test_destination_support import ACCOUNT_ID, CONTACT_ID, USER_ID, account_leads_schema, account_schema

from dataexport.domain.changes import ChangeBatch, Delete, Upsert, find_unknown_attributes, latest_per_id, row_to_values
from dataexport.errors import SkippableError, SourceUnavailable, TransientError, ValueConversionError

FV = "@OData.Community.Display.V1.FormattedValue"
LN = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def full_row() -> dict[str, object]:
    """An account row as the Web API sends it (no $select, both annotations requested)."""
    return {
        "@odata.etag": 'W/"40117"',
        "accountid": ACCOUNT_ID.upper(),
        "name": "Alpine Ski House",
        "statecode": 0,
        "statecode" + FV: "Active",
        "statuscode": 1,
        "industrycode": 3,
        "industrycode" + FV: "Consulting",
        "new_region": 100000001,
        "new_interests": "5,1,3",
        "new_interests" + FV: "Interest 5; Interest 1; Interest 3",
        "donotemail": False,
        "donotemail" + FV: "Allow",
        "_parentaccountid_value": None,
        "_primarycontactid_value": CONTACT_ID,
        "_primarycontactid_value" + FV: "Dana Birkby",
        "_primarycontactid_value" + LN: "contact",
        "_primarycontactid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "primarycontactid",
        "_ownerid_value": USER_ID,
        "_ownerid_value" + FV: "Avery Howard",
        "_ownerid_value" + LN: "systemuser",
        "_transactioncurrencyid_value": "6e3a0000-0000-4000-8000-000000000001",
        "_transactioncurrencyid_value" + LN: "transactioncurrency",
        "revenue": Decimal("1250000.0000"),
        "revenue" + FV: "$1,250,000.00",
        "revenue_base": Decimal("1250000.0000"),
        "exchangerate": Decimal("1.0000000000"),
        "new_score": Decimal("0.12345"),
        "new_ratio": 2,
        "numberofemployees": 9500,
        "versionnumber": 40117,
        "createdon": "2024-05-02T08:15:00Z",
        "createdon" + FV: "5/2/2024 8:15 AM",
        "new_founded": "2024-05-02",
        "description": "Ski 🎿 \u05e9\u05dc\u05d5\u05dd",
        "entityimageid": "7a000000-0000-4000-8000-00000000000A",
        "entityimage_url": "/Image/download.aspx?Entity=account",
        "entityimage_timestamp": 638500000000000000,
        "new_caseage": "3 days",
    }


def test_every_attribute_type_maps_to_its_python_value() -> None:
    upsert = row_to_values(account_schema(), full_row())
    values = upsert.values
    assert upsert.record_id == ACCOUNT_ID
    assert upsert.version == 40117
    assert values["accountid"] == ACCOUNT_ID
    assert values["name"] == "Alpine Ski House"
    assert values["statecode"] == 0 and values["statuscode"] == 1
    assert values["industrycode"] == 3 and values["new_region"] == 100000001
    assert values["new_interests"] == "1,3,5"
    assert values["donotemail"] is False
    assert values["parentaccountid"] is None and values["parentaccountid_entitytype"] is None
    assert values["parentaccountidname"] is None
    assert values["primarycontactid"] == CONTACT_ID
    assert values["primarycontactid_entitytype"] == "contact"
    assert values["primarycontactidname"] == "Dana Birkby"
    assert values["ownerid"] == USER_ID
    assert values["ownerid_entitytype"] == "systemuser"
    assert values["owneridname"] == "Avery Howard"
    assert values["owneridtype"] == "systemuser"
    assert values["owneridyominame"] is None
    assert values["transactioncurrencyid_entitytype"] == "transactioncurrency"
    assert values["revenue"] == Decimal("1250000.0000") and isinstance(values["revenue"], Decimal)
    assert values["new_ratio"] == Decimal(2) and isinstance(values["new_ratio"], Decimal)
    assert values["numberofemployees"] == 9500
    assert values["versionnumber"] == 40117
    assert values["createdon"] == datetime(2024, 5, 2, 8, 15, tzinfo=UTC)
    assert values["new_founded"] == datetime(2024, 5, 2, tzinfo=UTC)
    assert values["description"] == "Ski 🎿 \u05e9\u05dc\u05d5\u05dd"
    assert values["entityimageid"] == "7a000000-0000-4000-8000-00000000000a"
    assert values["entityimage_timestamp"] == 638500000000000000
    assert values["new_caseage"] == "3 days"
    assert upsert.unknown_attributes == frozenset()


def test_values_hold_exactly_the_table_columns_minus_system_ones() -> None:
    values = row_to_values(account_schema(), full_row()).values
    assert "Id" not in values and "SinkCreatedOn" not in values
    assert "statecodename" not in values and "entityimage" not in values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3,1", "1,3"), ("100000003,100000000", "100000000,100000003"), ("", None), (None, None), ("7", "7")],
)
def test_multi_select_is_sorted_ascending_and_empty_is_null(raw: str | None, expected: str | None) -> None:
    row = {**full_row(), "new_interests": raw}
    assert row_to_values(account_schema(), row).values["new_interests"] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-02", datetime(2024, 5, 2, tzinfo=UTC)),
        ("2024-05-02T08:15:00Z", datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
        ("2024-05-02T08:15:00.250Z", datetime(2024, 5, 2, 8, 15, 0, 250000, tzinfo=UTC)),
        ("2024-05-02T10:15:00+02:00", datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
        ("2024-05-02T08:15:00", datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
    ],
)
def test_datetimes_become_aware_utc(raw: str, expected: datetime) -> None:
    value = row_to_values(account_schema(), {**full_row(), "createdon": raw}).values["createdon"]
    assert value == expected
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def test_unknown_properties_are_reported_by_attribute_name() -> None:
    row = {
        **full_row(),
        "new_brandnew": "x",
        "_new_brandnewlookup_value": CONTACT_ID,
        "_new_brandnewlookup_value" + LN: "contact",
        "new_brandnew" + FV: "X",
    }
    upsert = row_to_values(account_schema(), row)
    assert upsert.unknown_attributes == {"new_brandnew", "new_brandnewlookup"}
    assert "new_brandnew" not in upsert.values
    assert find_unknown_attributes(account_schema(), full_row()) == frozenset()


def test_known_attributes_without_a_column_are_not_unknown() -> None:
    row = {**full_row(), "statecodename": "Active", "entityimage": "base64..."}
    assert row_to_values(account_schema(), row).unknown_attributes == frozenset()


def test_version_comes_from_the_etag_when_versionnumber_is_absent() -> None:
    row = {key: value for key, value in full_row().items() if key != "versionnumber"}
    upsert = row_to_values(account_schema(), row)
    assert upsert.version == 40117
    assert upsert.values["versionnumber"] is None


@pytest.mark.parametrize("missing", ["accountid", "both-versions"])
def test_rows_without_key_or_version_are_an_invalid_page(missing: str) -> None:
    row = full_row()
    if missing == "accountid":
        del row["accountid"]
    else:
        del row["versionnumber"], row["@odata.etag"]
    with pytest.raises(SourceUnavailable) as caught:
        row_to_values(account_schema(), row)
    assert isinstance(caught.value, TransientError)
    assert "entity=account" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "bad", "attribute"),
    [
        ("numberofemployees", "many", "numberofemployees"),
        ("numberofemployees", True, "numberofemployees"),
        ("revenue", "lots", "revenue"),
        ("donotemail", 1, "donotemail"),
        ("createdon", "yesterday", "createdon"),
        ("_ownerid_value", "not-a-guid", "ownerid"),
        ("new_interests", "1,two", "new_interests"),
        ("name", 42, "name"),
    ],
)
def test_values_of_the_wrong_shape_are_record_failures(key: str, bad: object, attribute: str) -> None:
    with pytest.raises(ValueConversionError) as caught:
        row_to_values(account_schema(), {**full_row(), key: bad})
    error = caught.value
    assert isinstance(error, SkippableError)
    assert error.attribute == attribute and error.record_id == ACCOUNT_ID and error.entity == "account"
    assert f"record_id={ACCOUNT_ID}" in str(error)


def test_integral_decimals_are_integers_and_floats_become_exact_decimals() -> None:
    row = {**full_row(), "numberofemployees": Decimal("12.0"), "revenue": 0.1}
    values = row_to_values(account_schema(), row).values
    assert values["numberofemployees"] == 12 and isinstance(values["numberofemployees"], int)
    assert values["revenue"] == Decimal("0.1")


def test_intersect_rows_map_their_plain_keys() -> None:
    row = {
        "@odata.etag": 'W/"7"',
        "accountleadid": "AB000000-0000-4000-8000-000000000001",
        "accountid": ACCOUNT_ID,
        "leadid": CONTACT_ID,
        "versionnumber": 7,
    }
    upsert = row_to_values(account_leads_schema(), row)
    assert upsert.record_id == "ab000000-0000-4000-8000-000000000001"
    assert dict(upsert.values) == {
        "accountid": ACCOUNT_ID,
        "accountleadid": "ab000000-0000-4000-8000-000000000001",
        "leadid": CONTACT_ID,
        "versionnumber": 7,
    }


def test_batch_runs_keep_stream_order() -> None:
    a, b, c = Upsert("a", 1), Delete("b"), Upsert("c", 3)
    batch = ChangeBatch("account", (a, Upsert("d", 2), b, Delete("e"), c))
    assert list(batch.runs()) == [(a, Upsert("d", 2)), (b, Delete("e")), (c,)]
    assert batch.upserts == (a, Upsert("d", 2), c) and batch.deletes == (b, Delete("e"))
    assert [len(chunk.changes) for chunk in batch.chunks(2)] == [2, 2, 1]
    assert list(ChangeBatch("account").runs()) == []


def test_batch_collects_unknown_attributes() -> None:
    batch = ChangeBatch("account", (Upsert("a", 1, unknown_attributes=frozenset({"x"})), Upsert("b", 1)))
    assert batch.unknown_attributes == {"x"}


def test_latest_per_id_keeps_the_highest_version() -> None:
    changes = [Upsert("a", 5, {"v": 5}), Upsert("a", 3, {"v": 3}), Upsert("b", 1), Upsert("a", 5, {"v": "later"})]
    assert latest_per_id(changes) == (Upsert("a", 5, {"v": "later"}), Upsert("b", 1))
