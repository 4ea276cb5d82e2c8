"""Microsoft's Dataverse SDK (``powerplatform-dataverse-client``), unchanged, against the emulator.

Spec §1.7, §7.3, §9.1: the client is built exactly as the SDK documents it,
``DataverseClient(base_url, credential)``, with an azure-identity ``ClientSecretCredential`` whose
authority is the emulator (instance discovery off). The only adaptation is trusting the emulator's CA
through ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``. Counts and existence are cross-checked with raw
httpx requests that do not go through the SDK.

When one of these tests fails, the emulator deviates from Dataverse: fix the emulator, not the test.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient

if TYPE_CHECKING:
    from conftest import EmulatorCredentials

pytestmark = pytest.mark.sdk

PAGE_SIZE = 7
SAMPLE_TABLES = {
    "account": ("accounts", "accountid"),
    "contact": ("contacts", "contactid"),
    "lead": ("leads", "leadid"),
    "opportunity": ("opportunities", "opportunityid"),
    "incident": ("incidents", "incidentid"),
    "task": ("tasks", "activityid"),
    "new_widget": ("new_widgets", "new_widgetid"),
}
#: account columns → (AttributeType, AttributeTypeName.Value, @odata.type), spec §4.2 and §9.2.
ACCOUNT_COLUMNS = {
    "accountid": ("Uniqueidentifier", "UniqueidentifierType", "UniqueIdentifierAttributeMetadata"),
    "name": ("String", "StringType", "StringAttributeMetadata"),
    "revenue": ("Money", "MoneyType", "MoneyAttributeMetadata"),
    "revenue_base": ("Money", "MoneyType", "MoneyAttributeMetadata"),
    "address1_latitude": ("Double", "DoubleType", "DoubleAttributeMetadata"),
    "primarycontactid": ("Lookup", "LookupType", "LookupAttributeMetadata"),
    "versionnumber": ("BigInt", "BigIntType", "BigIntAttributeMetadata"),
}


@pytest.fixture
def sdk_client(emulator_credentials: EmulatorCredentials, emulator_trusted_ca: Path) -> Iterator[DataverseClient]:
    """The SDK client as its documentation builds it, authenticated by azure-identity against the emulator."""
    credential = ClientSecretCredential(
        emulator_credentials.tenant_id,
        emulator_credentials.client_id,
        emulator_credentials.client_secret,
        authority=emulator_credentials.base_url,
        disable_instance_discovery=True,
        connection_verify=str(emulator_trusted_ca),
    )
    with credential, DataverseClient(emulator_credentials.base_url, credential) as client:
        yield client


def test_lists_the_sample_tables(sdk_client: DataverseClient) -> None:
    tables = sdk_client.tables.list()

    by_name = {table["LogicalName"]: table for table in tables}
    assert set(SAMPLE_TABLES) <= set(by_name)
    for logical_name, (entity_set, primary_id) in SAMPLE_TABLES.items():
        table = by_name[logical_name]
        assert (table["EntitySetName"], table["PrimaryIdAttribute"]) == (entity_set, primary_id)
    assert by_name["account"]["PrimaryNameAttribute"] == "name"
    assert all(table["IsPrivate"] is False for table in tables)


def test_lists_account_columns_with_their_types(sdk_client: DataverseClient) -> None:
    columns = {column["LogicalName"]: column for column in sdk_client.tables.list_columns("account")}

    for name, (attribute_type, type_name, derived) in ACCOUNT_COLUMNS.items():
        column = columns[name]
        assert (column["AttributeType"], column["AttributeTypeName"]["Value"], column["@odata.type"]) == (
            attribute_type,
            type_name,
            f"#Microsoft.Dynamics.CRM.{derived}",
        ), name
        assert column["EntityLogicalName"] == "account"
    assert columns["name"]["IsPrimaryName"] is True
    assert columns["accountid"]["IsPrimaryId"] is True
    assert columns["primarycontactidname"]["AttributeOf"] == "primarycontactid"


def test_pages_through_contacts(sdk_client: DataverseClient, emulator_http: httpx.Client) -> None:
    count_response = emulator_http.get("contacts/$count")
    assert count_response.status_code == 200, count_response.text
    total = int(count_response.text)
    assert total > 2 * PAGE_SIZE, "the sample org should have several pages of contacts"

    pages = list(sdk_client.records.list_pages("contact", select=["fullname"], page_size=PAGE_SIZE))

    sizes = [len(page) for page in pages]
    assert sum(sizes) == total
    assert len(pages) == math.ceil(total / PAGE_SIZE)
    assert all(size == PAGE_SIZE for size in sizes[:-1]), sizes
    ids = [record["contactid"] for page in pages for record in page]
    assert len(set(ids)) == total
    assert all("fullname" in record for page in pages for record in page)


def test_retrieves_one_contact(sdk_client: DataverseClient, emulator_http: httpx.Client) -> None:
    listed = emulator_http.get("contacts", params={"$select": "fullname", "$top": "1"})
    assert listed.status_code == 200, listed.text
    expected = listed.json()["value"][0]

    record = sdk_client.records.retrieve("contact", expected["contactid"], select=["fullname"])

    assert record is not None
    assert record.id == expected["contactid"] == record["contactid"]
    assert record["fullname"] == expected["fullname"]
    assert record.etag == expected["@odata.etag"]
    assert str(record.etag).startswith('W/"')
    assert sdk_client.records.retrieve("contact", str(uuid.uuid4())) is None


def test_creates_updates_reads_back_and_deletes_an_account(
    sdk_client: DataverseClient, emulator_http: httpx.Client
) -> None:
    name = f"SDK fidelity {uuid.uuid4().hex[:8]}"
    account_id = sdk_client.records.create("account", {"name": name, "revenue": 1250000.5})
    deleted = False
    try:
        assert str(uuid.UUID(account_id)) == account_id

        created = sdk_client.records.retrieve("account", account_id, select=["name", "revenue"])
        assert created is not None
        assert (created["name"], created["revenue"]) == (name, 1250000.5)

        sdk_client.records.update("account", account_id, {"name": f"{name} (renamed)"})
        updated = sdk_client.records.retrieve("account", account_id, select=["name"])
        assert updated is not None
        assert updated["name"] == f"{name} (renamed)"
        assert updated.etag != created.etag

        sdk_client.records.delete("account", account_id)
        deleted = True
    finally:
        if not deleted:
            emulator_http.delete(f"accounts({account_id})")

    gone = emulator_http.get(f"accounts({account_id})")
    assert gone.status_code == 404, gone.text
    assert gone.json()["error"]["code"] == "0x80040217"
    assert sdk_client.records.retrieve("account", account_id) is None


def test_lists_typed_account_columns(sdk_client: DataverseClient) -> None:
    """``typed=True`` reads through ``RetrieveMetadataChanges`` (spec §4.6) with a property projection."""
    columns = {column["LogicalName"]: column for column in sdk_client.tables.list_columns("account", typed=True)}

    assert columns["name"]["AttributeTypeName"]["Value"] == "StringType"
    assert columns["name"]["MaxLength"] == 160
    assert columns["revenue"]["Precision"] == 2
    assert columns["revenue_base"]["Precision"] == 4
    assert columns["address1_latitude"]["Precision"] == 5
