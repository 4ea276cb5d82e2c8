"""Wire rules of the emulated Web API (spec sections 1-3 and 6), over HTTP through Starlette's TestClient."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from dataverse_emulator.app import create_app
from dataverse_emulator.emulator import Emulator, OrgRequest
from dataverse_emulator.identity.tokens import TokenRequest
from dataverse_emulator.settings import Settings
from dataverse_emulator.storage import OrgStore

BASE = "http://testserver"
ROOT = f"{BASE}/api/data/v9.2/"
TRACK = {"Prefer": "odata.track-changes, odata.maxpagesize=5"}


@dataclass
class Env:
    emulator: Emulator
    client: TestClient
    store: OrgStore

    def get(self, path: str, **kwargs: object) -> object:
        return self.client.get(path if path.startswith("http") else ROOT + path, **kwargs)  # type: ignore[arg-type]


def app_token(emulator: Emulator, aud: str = BASE, **changes: object) -> str:
    persistent = emulator.persistent
    request = TokenRequest(persistent.tenant_id, "app", persistent.client_id, persistent.app_object_id, aud)
    for key, value in changes.items():
        object.__setattr__(request, key, value)
    return emulator.issuer.mint(request, base_url=BASE)


def user_token(emulator: Emulator, key: str) -> str:
    user = emulator.identities("contoso").user(key)
    persistent = emulator.persistent
    request = TokenRequest(persistent.tenant_id, "user", persistent.client_id, user.oid, BASE, upn=user.upn)
    return emulator.issuer.mint(request, base_url=BASE)


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[Env]:
    emulator = Emulator(Settings(data_dir=tmp_path))
    store = emulator.create_org(OrgRequest("contoso", scale=6, seed=3))
    client = TestClient(create_app(emulator.settings, emulator))
    client.headers["Authorization"] = f"Bearer {app_token(emulator)}"
    yield Env(emulator, client, store)
    client.close()


def follow(env: Env, url: str, headers: dict[str, str]) -> tuple[list[dict[str, object]], str, list[str]]:
    """Page through a sequence; return rows, the final deltaLink and the nextLinks seen."""
    rows: list[dict[str, object]] = []
    next_links: list[str] = []
    while True:
        response = env.client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["value"])
        if "@odata.nextLink" in body:
            assert "@odata.deltaLink" not in body
            url = body["@odata.nextLink"]
            next_links.append(url)
            continue
        return rows, body.get("@odata.deltaLink", ""), next_links


def token_of(delta_link: str) -> str:
    return unquote(delta_link.split("$deltatoken=")[1])


# ----- transport and URL conventions (§1) ---------------------------------------------------------


def test_every_response_carries_odata_version_and_request_ids(env: Env) -> None:
    ok = env.get("WhoAmI")
    missing = env.get("nosuchset")
    for response in (ok, missing):
        assert response.headers["OData-Version"] == "4.0"
        assert response.headers["REQ_ID"] == response.headers["x-ms-service-request-id"]
    assert ok.headers["content-type"].startswith("application/json")


def test_three_query_encodings_parse_identically(env: Env) -> None:
    forms = [
        "accounts?$select=name,revenue&$filter=statecode eq 0&$orderby=name",
        "accounts?%24select=name%2Crevenue&%24filter=statecode+eq+0&%24orderby=name",
        "accounts?$select=name,revenue&$filter=statecode%20eq%200&$orderby=name",
    ]
    bodies = [env.get(form).json() for form in forms]
    assert bodies[0]["value"] and bodies[0] == bodies[1] == bodies[2]


def test_links_echo_the_requested_version(env: Env) -> None:
    response = env.client.get(f"{BASE}/api/data/v9.0/contacts", headers=TRACK)
    body = response.json()
    assert body["@odata.context"].startswith(f"{BASE}/api/data/v9.0/$metadata#contacts")
    assert body["@odata.nextLink"].startswith(f"{BASE}/api/data/v9.0/contacts?")


def test_service_document_with_and_without_trailing_slash(env: Env) -> None:
    for url in (f"{BASE}/api/data/v9.2", f"{BASE}/api/data/v9.2/"):
        body = env.client.get(url).json()
        assert {"name": "accounts", "kind": "EntitySet", "url": "accounts"} in body["value"]


def test_prefer_in_one_or_two_headers_is_the_same(env: Env) -> None:
    one = env.client.get(ROOT + "contacts", headers={"Prefer": "odata.track-changes,odata.maxpagesize=4"})
    two = env.client.get(
        ROOT + "contacts", headers=[("Prefer", "odata.track-changes"), ("Prefer", "odata.maxpagesize=4")]
    )
    assert len(one.json()["value"]) == len(two.json()["value"]) == 4
    for response in (one, two):
        applied = response.headers["Preference-Applied"]
        assert "odata.track-changes" in applied and "odata.maxpagesize=4" in applied


# ----- reads (§2) ----------------------------------------------------------------------------------


def test_rows_carry_etag_key_and_explicit_nulls(env: Env) -> None:
    body = env.get("accounts?$select=name,fax").json()
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "name", "fax", "accountid"}
        assert re.fullmatch(r'W/"\d+"', row["@odata.etag"])
    assert any(row["fax"] is None for row in env.get("accounts?$select=fax").json()["value"])


def test_rows_without_select_have_system_columns_and_lookups_as_value(env: Env) -> None:
    row = env.get("accounts?$top=1").json()["value"][0]
    for column in ("createdon", "modifiedon", "versionnumber", "_ownerid_value", "_transactioncurrencyid_value"):
        assert column in row
    assert "ownerid" not in row and "owneridtype" not in row and "primarycontactidname" not in row
    assert row["@odata.etag"] == f'W/"{row["versionnumber"]}"'


def test_unknown_select_column_is_a_400_naming_it(env: Env) -> None:
    for column in ("nosuchcolumn", "ownerid"):
        response = env.get(f"accounts?$select={column}")
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "0x0",
            "message": f"Could not find a property named '{column}' on type 'Microsoft.Dynamics.CRM.account'.",
        }


def test_annotations_only_when_asked_and_lookuplogicalname_on_every_lookup(env: Env) -> None:
    plain = env.get("contacts?$top=3").json()["value"]
    assert not any("@" in key and key != "@odata.etag" for row in plain for key in row)
    prefer = {"Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'}
    annotated = env.get("contacts?$top=3", headers=prefer).json()["value"]
    for row in annotated:
        for key, value in row.items():
            if key.startswith("_") and key.endswith("_value") and value is not None:
                assert row[f"{key}@Microsoft.Dynamics.CRM.lookuplogicalname"] in (
                    "account",
                    "contact",
                    "systemuser",
                    "team",
                    "businessunit",
                    "transactioncurrency",
                )
        assert not any("FormattedValue" in key for key in row)


def test_formatted_values_for_options_and_lookups(env: Env) -> None:
    prefer = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}
    row = env.get("accounts?$select=statecode,_ownerid_value,createdon&$top=1", headers=prefer).json()["value"][0]
    assert row["statecode@OData.Community.Display.V1.FormattedValue"] in ("Active", "Inactive")
    assert row["_ownerid_value@OData.Community.Display.V1.FormattedValue"]
    assert re.fullmatch(
        r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2} [AP]M", row["createdon@OData.Community.Display.V1.FormattedValue"]
    )


def test_filter_orderby_top_and_count(env: Env) -> None:
    everything = env.get("contacts?$select=fullname&$count=true").json()
    assert everything["@odata.count"] == env.store.count("contact")
    ordered = env.get("contacts?$select=fullname&$orderby=fullname desc&$top=4").json()["value"]
    names = [row["fullname"].lower() for row in ordered]
    assert len(names) == 4 and names == sorted(names, reverse=True)
    name = ordered[0]["fullname"]
    quoted = name.replace("'", "''")
    found = env.get(f"contacts?$select=fullname&$filter=fullname eq '{quoted.upper()}'").json()["value"]
    assert [row["fullname"] for row in found] == [name]
    count = env.get("contacts/$count?$filter=statecode eq 0")
    assert count.headers["content-type"].startswith("text/plain")
    assert int(count.text) == len(env.get("contacts?$select=fullname&$filter=statecode eq 0").json()["value"])


def test_top_is_ignored_with_maxpagesize(env: Env) -> None:
    body = env.get("contacts?$select=fullname&$top=2", headers={"Prefer": "odata.maxpagesize=3"}).json()
    assert len(body["value"]) == 3 and "@odata.nextLink" in body


def test_unsupported_filter_and_skip_are_400(env: Env) -> None:
    assert env.get("accounts?$filter=revenue add 5 gt 3").status_code == 400
    assert env.get("accounts?$skip=5").status_code == 400
    assert env.get("accounts?$select=name&$select=name").status_code == 400


def test_query_paging_is_stateless_and_accepts_a_new_page_size(env: Env) -> None:
    first = env.get("contacts?$select=fullname", headers={"Prefer": "odata.maxpagesize=7"}).json()
    next_link = first["@odata.nextLink"]
    again = env.client.get(next_link).json()
    bigger = env.client.get(next_link, headers={"Prefer": "odata.maxpagesize=100"}).json()
    assert again["value"][0] == bigger["value"][0]
    assert env.client.get(next_link).json() == again
    seen = [row["contactid"] for row in first["value"] + bigger["value"]]
    assert len(seen) == len(set(seen)) == env.store.count("contact")


def test_undecodable_skiptoken_is_400(env: Env) -> None:
    assert env.get("contacts?$skiptoken=garbage").status_code == 400


def test_single_row_and_not_modified(env: Env) -> None:
    row = env.get("accounts?$top=1").json()["value"][0]
    single = env.get(f"accounts({row['accountid']})?$select=name")
    assert single.json()["@odata.context"].endswith("$metadata#accounts(name)/$entity")
    unchanged = env.get(f"accounts({row['accountid']})", headers={"If-None-Match": row["@odata.etag"]})
    assert unchanged.status_code == 304
    missing = env.get("accounts(00000000-0000-0000-0000-000000000001)")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"


def test_expand_collection_navigation_for_the_admin_check(env: Env) -> None:
    admin = env.emulator.identities("contoso").user("admin")
    url = (
        f"systemusers?$filter=azureactivedirectoryobjectid eq {admin.oid}"
        "&$select=systemuserid,isdisabled&$expand=systemuserroles_association($select=name,_roletemplateid_value)"
    )
    users = env.get(url).json()["value"]
    assert len(users) == 1
    templates = {role["_roletemplateid_value"] for role in users[0]["systemuserroles_association"]}
    assert "627090ff-40a3-4053-8790-584edc5be201" in templates


# ----- change tracking (§3) ------------------------------------------------------------------------


def test_baseline_pages_then_delta_link_with_exact_token_layout(env: Env) -> None:
    rows, delta_link, next_links = follow(env, ROOT + "contacts?$select=fullname", TRACK)
    assert len(rows) == env.store.count("contact") and len({r["contactid"] for r in rows}) == len(rows)
    assert all("istracking%3D%22True%22" in link for link in next_links)
    assert delta_link.startswith(ROOT + "contacts?$select=fullname&$deltatoken=")
    assert re.fullmatch(r"\d+!\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", token_of(delta_link))
    assert re.search(r"\$deltatoken=\d+%21\d{2}%2f\d{2}%2f\d{4}%20\d{2}%3a\d{2}%3a\d{2}$", delta_link)


def test_delta_reports_changes_then_tombstones_and_empty_afterwards(env: Env) -> None:
    _, delta_link, _ = follow(env, ROOT + "contacts", TRACK)
    ids = [r["contactid"] for r in env.get("contacts?$select=contactid&$top=3").json()["value"]]
    assert env.client.patch(ROOT + f"contacts({ids[0]})", json={"jobtitle": "Buyer"}).status_code == 204
    assert env.client.delete(ROOT + f"contacts({ids[1]})").status_code == 204
    created = env.client.post(ROOT + "contacts", json={"lastname": "Newer"})
    new_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    body = env.client.get(delta_link).json()
    assert body["@odata.context"].endswith("/$delta")
    values = body["value"]
    assert [v.get("contactid") for v in values[:2]] == [ids[0], new_id]
    assert values[0]["jobtitle"] == "Buyer"
    assert values[2] == {
        "@odata.context": f"{ROOT}$metadata#contacts/$deletedEntity",
        "id": ids[1],
        "reason": "deleted",
    }
    empty = env.client.get(body["@odata.deltaLink"]).json()
    assert empty["value"] == [] and empty["@odata.deltaLink"] != delta_link


def test_snapshot_rule_of_the_spec_example(env: Env) -> None:
    headers = {"Prefer": "odata.track-changes, odata.maxpagesize=2"}
    ids = sorted(r["contactid"] for r in env.get("contacts?$select=contactid").json()["value"])
    first = env.client.get(ROOT + "contacts", headers=headers).json()
    changed = first["value"][1]["contactid"]
    env.client.patch(ROOT + f"contacts({changed})", json={"jobtitle": "Changed during paging"})
    rows, delta_link, _ = follow(env, first["@odata.nextLink"], headers)
    assert sorted([r["contactid"] for r in first["value"]] + [r["contactid"] for r in rows]) == ids
    snapshot = int(token_of(delta_link).split("!")[0])
    assert snapshot < env.store.counter
    env.client.delete(ROOT + f"contacts({first['value'][0]['contactid']})")
    delta, _, _ = follow(env, delta_link, headers)
    assert [d.get("contactid") or d.get("id") for d in delta] == [changed, first["value"][0]["contactid"]]


def test_created_then_deleted_is_only_a_tombstone(env: Env) -> None:
    _, delta_link, _ = follow(env, ROOT + "contacts", TRACK)
    created = env.client.post(ROOT + "contacts", json={"lastname": "Brief"})
    url = created.headers["Location"]
    env.client.delete(url)
    values = env.client.get(delta_link).json()["value"]
    assert len(values) == 1 and values[0]["reason"] == "deleted"


@pytest.mark.parametrize(
    "option", ["$filter=statecode eq 0", "$orderby=fullname", "$top=3", "$expand=parentcustomerid_account"]
)
def test_options_rejected_under_tracking(env: Env, option: str) -> None:
    response = env.get(f"contacts?{option}", headers=TRACK)
    name = option.split("=")[0]
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.'
    )


def test_untracked_table_and_bad_token(env: Env) -> None:
    untracked = next(t for t in env.store.catalog.tables if not t.change_tracking and not t.is_intersect)
    response = env.get(untracked.entity_set_name, headers=TRACK)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80040203",
        "message": f"Change tracking is not enabled for the entity '{untracked.logical_name}'.",
    }
    bad = env.get("contacts?$deltatoken=notatoken")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "Invalid delta token."


def test_partly_encoded_deltatoken_is_accepted(env: Env) -> None:
    _, delta_link, _ = follow(env, ROOT + "contacts", TRACK)
    token = token_of(delta_link)
    version, moment = token.split("!")
    partly = f"{version}%21{moment.replace('/', '%2F').replace(':', '%3A').replace(' ', '+')}"
    assert env.get(f"contacts?$deltatoken={partly}").status_code == 200


@pytest.mark.parametrize("style", ["400", "410"])
def test_expired_token_in_both_styles(env: Env, style: str) -> None:
    _, delta_link, _ = follow(env, ROOT + "contacts?$select=fullname", TRACK)
    env.emulator.set_tracking(expired_style=style)
    env.emulator.clock.advance(8 * 86400)
    env.client.headers["Authorization"] = f"Bearer {app_token(env.emulator)}"
    response = env.client.get(delta_link)
    assert response.status_code == int(style)
    assert response.json()["error"] == {
        "code": "0x80044352",
        "message": "Version stamp associated with the client has expired. Please perform a full sync.",
    }
    if style == "410":
        assert response.headers["Location"] == ROOT + "contacts?$select=fullname"


def test_delta_count(env: Env) -> None:
    _, delta_link, _ = follow(env, ROOT + "contacts", TRACK)
    ids = [r["contactid"] for r in env.get("contacts?$select=contactid&$top=2").json()["value"]]
    env.client.patch(ROOT + f"contacts({ids[0]})", json={"jobtitle": "A"})
    env.client.delete(ROOT + f"contacts({ids[1]})")
    token = delta_link.split("$deltatoken=")[1]
    assert env.get(f"contacts/$count?$deltatoken={token}").text == "2"


def test_association_appears_in_the_intersect_delta(env: Env) -> None:
    _, delta_link, _ = follow(env, ROOT + "accountleadscollection", TRACK)
    account = env.get("accounts?$select=accountid&$top=1").json()["value"][0]["accountid"]
    lead = env.get("leads?$select=leadid&$top=1").json()["value"][0]["leadid"]
    ref = {"@odata.id": f"{ROOT}leads({lead})"}
    assert env.client.post(ROOT + f"accounts({account})/accountleads_association/$ref", json=ref).status_code == 204
    values = env.client.get(delta_link).json()["value"]
    assert [(v["accountid"], v["leadid"]) for v in values] == [(account, lead)]
    gone = env.client.delete(ROOT + f"accounts({account})/accountleads_association({lead})/$ref")
    assert gone.status_code == 204
    after = env.client.get(delta_link).json()["value"]
    assert after[-1]["reason"] == "deleted" and after[-1]["id"] == values[0]["accountleadid"]


# ----- writes (§5) ---------------------------------------------------------------------------------


def test_create_returns_entity_id_headers_or_representation(env: Env) -> None:
    created = env.client.post(ROOT + "accounts", json={"name": "Fourth Example", "revenue": 1250000})
    assert created.status_code == 204
    assert created.headers["OData-EntityId"] == created.headers["Location"]
    assert re.fullmatch(re.escape(ROOT) + r"accounts\([0-9a-f-]{36}\)", created.headers["Location"])
    represented = env.client.post(
        ROOT + "accounts?$select=name,revenue",
        json={"name": "Fifth", "revenue": 12.5},
        headers={"Prefer": "return=representation"},
    )
    assert represented.status_code == 201
    body = represented.json()
    assert body["name"] == "Fifth" and body["revenue"] == 12.5
    assert body["@odata.context"].endswith("$metadata#accounts/$entity")


def test_patch_upsert_and_conditions(env: Env) -> None:
    new_id = "6f1d2e3c-4b5a-4697-8877-665544332211"
    assert env.client.patch(ROOT + f"accounts({new_id})", json={"name": "Upserted"}).status_code == 204
    assert (
        env.client.patch(
            ROOT + f"accounts({new_id})", json={"name": "Again"}, headers={"If-None-Match": "*"}
        ).status_code
        == 412
    )
    other = "6f1d2e3c-4b5a-4697-8877-665544332299"
    missing = env.client.patch(ROOT + f"accounts({other})", json={"name": "X"}, headers={"If-Match": "*"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
    stale = env.client.patch(ROOT + f"accounts({new_id})", json={"name": "Y"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "0x80060882"


def test_write_validation_errors(env: Env) -> None:
    too_long = env.client.post(ROOT + "accounts", json={"name": "x" * 161})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
    unknown = env.client.post(ROOT + "accounts", json={"nosuch": 1})
    assert unknown.status_code == 400
    bad_json = env.client.post(ROOT + "accounts", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "error" in bad_json.json()
    duplicate_id = env.get("accounts?$top=1").json()["value"][0]["accountid"]
    assert env.client.post(ROOT + "accounts", json={"accountid": duplicate_id}).status_code == 412


def test_bind_sets_a_lookup(env: Env) -> None:
    contact = env.get("contacts?$select=contactid,fullname&$top=1").json()["value"][0]
    created = env.client.post(
        ROOT + "accounts", json={"name": "Bound", "primarycontactid@odata.bind": f"/contacts({contact['contactid']})"}
    )
    prefer = {"Prefer": 'odata.include-annotations="*"'}
    row = env.client.get(created.headers["Location"] + "?$select=_primarycontactid_value", headers=prefer).json()
    assert row["_primarycontactid_value"] == contact["contactid"]
    assert row["_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert row["_primarycontactid_value@OData.Community.Display.V1.FormattedValue"] == contact["fullname"]


# ----- functions, identity, errors (§6, §7) ---------------------------------------------------------


def test_who_am_i_and_current_organization(env: Env) -> None:
    who = env.get("WhoAmI()").json()
    info = env.store.info
    assert who["OrganizationId"] == info.organization_id
    assert who["UserId"] == env.emulator.identities("contoso").user("app").systemuserid
    url = "RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'"
    detail = env.get(url).json()["Detail"]
    assert detail["OrganizationId"] == who["OrganizationId"] and detail["TenantId"] == info.tenant_id
    assert env.get("RetrieveCurrentOrganization(AccessType=@p1)?@p1='Nowhere'").status_code == 400


def test_missing_forged_and_foreign_tokens(env: Env) -> None:
    anonymous = env.client.get(ROOT + "accounts", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith(
        "Bearer authorization_uri="
    )
    forged = env.client.get(ROOT + "accounts", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    wrong_audience = app_token(env.emulator, aud="https://elsewhere.example")
    assert env.client.get(ROOT + "accounts", headers={"Authorization": f"Bearer {wrong_audience}"}).status_code == 401
    disabled = env.client.get(
        ROOT + "WhoAmI", headers={"Authorization": f"Bearer {user_token(env.emulator, 'disabled')}"}
    )
    assert disabled.status_code == 403 and disabled.json()["error"]["code"] == "0x80040220"
    admin = env.client.get(ROOT + "WhoAmI", headers={"Authorization": f"Bearer {user_token(env.emulator, 'admin')}"})
    assert admin.json()["UserId"] == env.emulator.identities("contoso").user("admin").systemuserid


def test_unknown_set_and_method(env: Env) -> None:
    missing = env.get("widgets")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "0x0", "message": "Resource not found for the segment 'widgets'."}
    assert env.client.put(ROOT + "accounts", json={}).status_code == 405


def test_bulk_delete_by_primary_ids(env: Env) -> None:
    ids = [r["accountid"] for r in env.get("accounts?$select=accountid&$top=2").json()["value"]]
    query = {
        "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression",
        "EntityName": "account",
        "Criteria": {
            "FilterOperator": "And",
            "Conditions": [
                {
                    "AttributeName": "accountid",
                    "Operator": "In",
                    "Values": [{"Value": i, "Type": "System.Guid"} for i in ids],
                }
            ],
        },
    }
    response = env.client.post(ROOT + "BulkDelete", json={"JobName": "x", "QuerySet": [query]})
    assert response.status_code == 200 and re.fullmatch(r"[0-9a-f-]{36}", response.json()["JobId"])
    assert all(env.get(f"accounts({i})").status_code == 404 for i in ids)
    whole_table = {"EntityName": "account", "Criteria": {"Conditions": []}}
    assert env.client.post(ROOT + "BulkDelete", json={"QuerySet": [whole_table]}).status_code == 400


def test_links_and_issuer_follow_the_public_url(tmp_path: Path) -> None:
    public = "https://dataverse.example:9443"
    emulator = Emulator(Settings(data_dir=tmp_path, public_url=public))
    emulator.create_org(OrgRequest("contoso", scale=2, seed=1))
    persistent = emulator.persistent
    request = TokenRequest(persistent.tenant_id, "app", persistent.client_id, persistent.app_object_id, public)
    token = emulator.issuer.mint(request, base_url=public)
    with TestClient(create_app(emulator.settings, emulator)) as client:
        body = client.get(ROOT + "contacts", headers={**TRACK, "Authorization": f"Bearer {token}"}).json()
    assert body["@odata.context"].startswith(f"{public}/api/data/v9.2/$metadata#contacts")
    assert body["@odata.nextLink"].startswith(f"{public}/api/data/v9.2/contacts?")
