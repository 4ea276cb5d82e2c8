"""Admin schema changes (spec §9.3 ``POST /_emulator/orgs/<name>/schema``), seen through the Web API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_admin_support import AdminEnv, admin_env

EXTRA = {
    "logical_name": "new_extra",
    "schema_name": "new_Extra",
    "type": "String",
    "type_name": "StringType",
    "max_length": 100,
}
GADGET = {
    "logical_name": "new_gadget",
    "schema_name": "new_Gadget",
    "entity_set_name": "new_gadgets",
    "primary_id": "new_gadgetid",
    "primary_name": "new_name",
    "object_type_code": 10099,
    "is_custom": True,
    "attributes": [
        {
            "logical_name": "new_gadgetid",
            "schema_name": "new_GadgetId",
            "type": "Uniqueidentifier",
            "type_name": "UniqueidentifierType",
            "is_primary_id": True,
        },
        {
            "logical_name": "new_name",
            "schema_name": "new_Name",
            "type": "String",
            "type_name": "StringType",
            "max_length": 100,
            "is_primary_name": True,
        },
    ],
}


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[AdminEnv]:
    with admin_env(tmp_path) as built:
        yield built


def schema(env: AdminEnv, **body: Any) -> dict[str, Any]:
    return env.ok("POST", "orgs/contoso/schema", body)  # type: ignore[no-any-return]


def attribute_metadata(env: AdminEnv, table: str, attribute: str) -> Any:
    return env.api("GET", f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{attribute}')")


def first_account(env: AdminEnv) -> str:
    return str(env.api("GET", "accounts?$select=name").json()["value"][0]["accountid"])


def test_add_attribute_appears_in_metadata_and_rows(env: AdminEnv) -> None:
    before = env.store.metadata_version
    result = schema(env, op="add_attribute", table="account", definition=EXTRA)
    assert result["changed"] is True
    assert result["metadata_version"] == before + 1
    assert attribute_metadata(env, "account", "new_extra").json()["MaxLength"] == 100
    account_id = first_account(env)
    assert env.api("GET", f"accounts({account_id})?$select=new_extra").json()["new_extra"] is None
    assert env.api("PATCH", f"accounts({account_id})", json={"new_extra": "hello"}).status_code == 204
    assert env.api("GET", f"accounts({account_id})?$select=new_extra").json()["new_extra"] == "hello"
    assert ("account", "new_extra", False) in [(c.table, c.attribute, c.deleted) for c in env.store.metadata_changes()]


def test_widen_grows_max_length_only(env: AdminEnv) -> None:
    schema(env, op="widen", table="account", attribute="name", max_length=400)
    assert attribute_metadata(env, "account", "name").json()["MaxLength"] == 400
    narrower = env.admin(
        "POST", "orgs/contoso/schema", {"op": "widen", "table": "account", "attribute": "name", "max_length": 10}
    )
    assert narrower.status_code == 400
    assert "'max_length'" in narrower.json()["error"]["message"]


def test_retype_converts_stored_values_or_clears_them(env: AdminEnv) -> None:
    schema(env, op="add_attribute", table="account", definition=EXTRA)
    ids = [row["accountid"] for row in env.api("GET", "accounts?$select=name").json()["value"][:2]]
    env.api("PATCH", f"accounts({ids[0]})", json={"new_extra": "42"})
    env.api("PATCH", f"accounts({ids[1]})", json={"new_extra": "forty-two"})
    versions = [env.api("GET", f"accounts({i})?$select=versionnumber").json()["versionnumber"] for i in ids]
    result = schema(env, op="retype", table="account", attribute="new_extra", type="Integer")
    assert result["rows_rewritten"] == 2
    metadata = attribute_metadata(env, "account", "new_extra").json()
    assert metadata["AttributeType"] == "Integer"
    assert metadata["AttributeTypeName"] == {"Value": "IntegerType"}
    rows = [env.api("GET", f"accounts({i})?$select=new_extra,versionnumber").json() for i in ids]
    assert [row["new_extra"] for row in rows] == [42, None]
    assert [row["versionnumber"] for row in rows] == versions, "a schema change is not a row write"


def test_remove_attribute_removes_it_from_metadata_and_rows(env: AdminEnv) -> None:
    schema(env, op="add_attribute", table="account", definition=EXTRA)
    account_id = first_account(env)
    env.api("PATCH", f"accounts({account_id})", json={"new_extra": "gone soon"})
    schema(env, op="remove_attribute", table="account", attribute="new_extra")
    assert attribute_metadata(env, "account", "new_extra").status_code == 404
    assert env.api("GET", f"accounts({account_id})?$select=new_extra").status_code == 400
    assert "new_extra" not in env.store.get("account", account_id).data  # type: ignore[union-attr]
    primary = env.admin(
        "POST", "orgs/contoso/schema", {"op": "remove_attribute", "table": "account", "attribute": "accountid"}
    )
    assert primary.status_code == 400


def test_add_and_remove_a_table(env: AdminEnv) -> None:
    schema(env, op="add_table", table="new_gadget", definition=GADGET)
    assert env.api("GET", "new_gadgets").json()["value"] == []
    assert env.api("POST", "new_gadgets", json={"new_name": "Sprocket"}).status_code == 204
    rows, _ = env.baseline("new_gadgets")
    assert [row["new_name"] for row in rows] == ["Sprocket"]
    schema(env, op="remove_table", table="new_gadget")
    assert env.api("GET", "new_gadgets").status_code == 404
    assert env.store.count("new_gadget") == 0


def test_removing_a_sample_table_drops_its_rows_and_relationships(env: AdminEnv) -> None:
    assert env.store.count("task") > 0
    schema(env, op="remove_table", table="task")
    assert env.store.count("task") == 0
    catalog = env.store.catalog
    assert catalog.table("task") is None
    assert all("task" not in (r.referenced_entity, r.referencing_entity) for r in catalog.one_to_many)


def test_enable_tracking_on_an_untracked_table(env: AdminEnv) -> None:
    tables = env.store.catalog.tables
    untracked = next(t for t in tables if not t.change_tracking and t.can_change_tracking_be_enabled)
    fixed = next(t for t in tables if not t.change_tracking and not t.can_change_tracking_be_enabled)
    response = env.admin("POST", "orgs/contoso/schema", {"op": "enable_tracking", "table": fixed.logical_name})
    assert response.status_code == 400
    assert "cannot be enabled" in response.json()["error"]["message"]
    refused = env.api("GET", untracked.entity_set_name, headers={"Prefer": "odata.track-changes"})
    assert refused.status_code == 400
    before = env.store.metadata_version
    assert schema(env, op="enable_tracking", table=untracked.logical_name)["metadata_version"] == before + 1
    assert env.baseline(untracked.entity_set_name)[1]
    again = schema(env, op="enable_tracking", table=untracked.logical_name)
    assert (again["changed"], again["metadata_version"]) == (False, before + 1)


def test_expire_tokens_expires_the_tables_delta_links(env: AdminEnv) -> None:
    _, accounts_link = env.baseline("accounts")
    _, contacts_link = env.baseline("contacts")
    schema(env, op="widen", table="account", attribute="name", max_length=300, expire_tokens=True)
    assert env.api("GET", accounts_link).json()["error"]["code"] == "0x80044352"
    assert env.api("GET", contacts_link).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"op": "disable_tracking", "table": "account"}, "'op'"),
        ({"op": "widen", "table": "nothing", "attribute": "name", "max_length": 5}, "'table'"),
        ({"op": "widen", "table": "account", "attribute": "nothing", "max_length": 500}, "'attribute'"),
        ({"op": "widen", "table": "account", "attribute": "revenue", "max_length": 500}, "String"),
        ({"op": "add_attribute", "table": "account"}, "'definition'"),
        ({"op": "add_attribute", "table": "account", "definition": {"logical_name": "x"}}, "schema_name"),
        ({"op": "add_attribute", "table": "account", "definition": {**EXTRA, "logical_name": "name"}}, "already"),
        ({"op": "retype", "table": "account", "attribute": "name", "type": "Text"}, "'type'"),
        ({"op": "add_table", "table": "account", "definition": {**GADGET, "logical_name": "account"}}, "exists"),
        ({"op": "enable_tracking", "table": "account", "colour": "red"}, "colour"),
    ],
)
def test_invalid_schema_requests_are_400_naming_the_problem(env: AdminEnv, body: dict[str, Any], named: str) -> None:
    response = env.admin("POST", "orgs/contoso/schema", body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_schema_of_an_unknown_org_is_404(env: AdminEnv) -> None:
    response = env.admin("POST", "orgs/elsewhere/schema", {"op": "enable_tracking", "table": "account"})
    assert response.status_code == 404
