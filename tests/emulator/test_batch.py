"""``$batch``: parsing, targets, changesets, failure handling and response framing (spec §5.6, §6.3).

Writes run through the real dispatcher into a real SQLite ``OrgStore``; tests about parsing and
framing use a recording ``answer`` so they can look at the exact inner requests and responses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataverse_emulator.catalog.model import AttributeDef, AttributeType, Catalog, TableDef
from dataverse_emulator.clock import Clock
from dataverse_emulator.errors import WebApiError
from dataverse_emulator.odata.prefer import parse_prefer
from dataverse_emulator.odata.querystring import parse_query
from dataverse_emulator.storage import OrgInfo, OrgStore
from dataverse_emulator.webapi.batch import count_inner_requests, handle_batch
from dataverse_emulator.webapi.context import ApiRequest, ApiResponse, Caller, TrackingSettings
from dataverse_emulator.webapi.dispatch import dispatch

ROOT = "https://contoso.example/api/data/v9.2/"
CONTACT_ID = "61a0b1c2-d3e4-4f56-8789-0a1b2c3d4e5f"
CONTACT_URL = f"{ROOT}contacts({CONTACT_ID})"
CALLER = Caller("9d2b4f6e-1a3c-4e5f-8a7b-0c1d2e3f4a5b", None, is_application=True)
MISSING_2 = "Content-ID Reference: '$2' does not exist in the batch context."

# ----- a tiny organization ---------------------------------------------------------------------


def column(name: str, kind: AttributeType, type_name: str, **extra: object) -> AttributeDef:
    return AttributeDef.model_validate(
        {"logical_name": name, "schema_name": name, "type": kind, "type_name": type_name, **extra}
    )


def key(name: str) -> AttributeDef:
    return column(name, AttributeType.UNIQUEIDENTIFIER, "UniqueidentifierType", is_primary_id=True)


CONTACT = TableDef(
    logical_name="contact",
    schema_name="Contact",
    entity_set_name="contacts",
    primary_id="contactid",
    primary_name="lastname",
    object_type_code=2,
    attributes=(key("contactid"), column("lastname", AttributeType.STRING, "StringType", max_length=10)),
)
ACCOUNT = TableDef(
    logical_name="account",
    schema_name="Account",
    entity_set_name="accounts",
    primary_id="accountid",
    primary_name="name",
    object_type_code=1,
    attributes=(
        key("accountid"),
        column("name", AttributeType.STRING, "StringType", max_length=100),
        column("primarycontactid", AttributeType.LOOKUP, "LookupType", targets=("contact",)),
    ),
)


def new_store(path: Path) -> OrgStore:
    store = OrgStore(path, Clock())
    info = OrgInfo("3f5e1d2c-0000-4000-8000-000000000001", "org1", "org1", "Org One", "t", "e", "bu")
    store.initialize(info, Catalog(tables=(CONTACT, ACCOUNT)))
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OrgStore]:
    org = new_store(tmp_path / "o.db")
    yield org
    org.close()


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrgStore]:
    """For property tests whose ``answer`` never writes."""
    org = new_store(tmp_path_factory.mktemp("batch") / "o.db")
    yield org
    org.close()


# ----- building requests -----------------------------------------------------------------------


def part(line: str, *headers: str, body: str = "", content_id: str | None = None) -> str:
    """One ``application/http`` part (without its delimiter), CRLF line endings."""
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        mime.append(f"Content-ID: {content_id}")
    return "\r\n".join([*mime, "", line, *headers, "", body])


def changeset(*members: str, boundary: str = "changeset_a1") -> str:
    inner = "".join(f"--{boundary}\r\n{member}\r\n" for member in members)
    return f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{inner}--{boundary}--'


def batch_body(*parts: str, boundary: str = "batch_7f3c") -> bytes:
    return ("".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n").encode()


def outer(
    store: OrgStore,
    body: bytes,
    *,
    content_type: str | None = 'multipart/mixed; boundary="batch_7f3c"',
    prefer: Sequence[str] = (),
) -> ApiRequest:
    headers = {"authorization": "Bearer outer-token", "prefer": ", ".join(prefer)}
    if content_type is not None:
        headers["content-type"] = content_type
    return ApiRequest(
        method="POST",
        segments=("$batch",),
        query=parse_query(""),
        prefs=parse_prefer(list(prefer)),
        headers=headers,
        body=body,
        root_url=ROOT,
        store=store,
        caller=CALLER,
        tracking=TrackingSettings(),
    )


class Recorder:
    """An ``answer`` that records inner requests and replies from a script (default: 200 with the path)."""

    def __init__(self, script: Callable[[ApiRequest], ApiResponse] | None = None) -> None:
        self.seen: list[ApiRequest] = []
        self.script = script

    def __call__(self, request: ApiRequest) -> ApiResponse:
        self.seen.append(request)
        if self.script is not None:
            return self.script(request)
        return ApiResponse(200, {"path": "/".join(request.segments)})


def real_answer(request: ApiRequest) -> ApiResponse:
    """What the application does: dispatch, errors as responses, ``$batch`` routed back here."""
    try:
        return dispatch(request, batch=lambda nested: handle_batch(nested, real_answer))
    except WebApiError as error:
        return ApiResponse(error.status, {"error": {"code": error.code, "message": error.message}})


def batch_error(request: ApiRequest, answer: Callable[[ApiRequest], ApiResponse] | None = None) -> WebApiError:
    with pytest.raises(WebApiError) as caught:
        handle_batch(request, answer or Recorder())
    assert caught.value.status == 400
    return caught.value


def text_of(response: ApiResponse) -> str:
    """The response body with its random boundaries replaced by ``batchresponse_B``/``changesetresponse_C``."""
    assert isinstance(response.body, bytes)
    text = response.body.decode()
    text = re.sub(r"batchresponse_[0-9a-f-]{36}", "batchresponse_B", text)
    return re.sub(r"changesetresponse_[0-9a-f-]{36}", "changesetresponse_C", text)


def status_lines(response: ApiResponse) -> list[str]:
    return re.findall(r"^HTTP/1\.1 .*?(?=\r$)", text_of(response), flags=re.MULTILINE)


# ----- the spec example --------------------------------------------------------------------------

SPEC_GET = (
    "GET /api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes/"
    "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata?$select=LogicalName,DateTimeBehavior HTTP/1.1"
)
SPEC_REQUEST = batch_body(
    part(SPEC_GET, "Accept: application/json"),
    changeset(
        part(
            "POST https://contoso.example/api/data/v9.2/contacts HTTP/1.1",
            "Content-Type: application/json",
            body='{"lastname": "Ng"}',
            content_id="1",
        )
    ),
)
ATTRIBUTES = {
    "@odata.context": "c",
    "value": [{"LogicalName": "createdon", "DateTimeBehavior": {"Value": "UserLocal"}}],
}


def spec_script(request: ApiRequest) -> ApiResponse:
    if request.method == "GET":
        return ApiResponse(200, ATTRIBUTES)
    return ApiResponse(204, None, {"Location": CONTACT_URL, "OData-EntityId": CONTACT_URL})


SPEC_RESPONSE = "\r\n".join(
    [
        "--batchresponse_B",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "HTTP/1.1 200 OK",
        "Content-Type: application/json; odata.metadata=minimal",
        "OData-Version: 4.0",
        "",
        '{"@odata.context":"c","value":[{"LogicalName":"createdon","DateTimeBehavior":{"Value":"UserLocal"}}]}',
        "--batchresponse_B",
        "Content-Type: multipart/mixed; boundary=changesetresponse_C",
        "",
        "--changesetresponse_C",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 1",
        "",
        "HTTP/1.1 204 No Content",
        "OData-Version: 4.0",
        f"Location: {CONTACT_URL}",
        f"OData-EntityId: {CONTACT_URL}",
        "",
        "",
        "--changesetresponse_C--",
        "--batchresponse_B--",
        "",
    ]
)


def test_the_spec_example_is_answered_with_the_exact_framing(store: OrgStore) -> None:
    response = handle_batch(outer(store, SPEC_REQUEST), Recorder(spec_script))

    assert response.status == 200
    assert re.fullmatch(r"multipart/mixed; boundary=batchresponse_[0-9a-f-]{36}", response.content_type)
    assert response.headers == {}
    assert text_of(response) == SPEC_RESPONSE


def test_the_spec_example_becomes_two_inner_requests(store: OrgStore) -> None:
    recorder = Recorder(spec_script)
    handle_batch(outer(store, SPEC_REQUEST), recorder)

    get, post = recorder.seen
    assert (get.method, get.segments) == (
        "GET",
        ("EntityDefinitions(LogicalName='account')", "Attributes", "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata"),
    )
    assert get.query.select == ("LogicalName", "DateTimeBehavior")
    assert get.headers == {"accept": "application/json"}
    assert (post.method, post.segments, post.body) == ("POST", ("contacts",), b'{"lastname": "Ng"}')
    assert post.headers == {"content-type": "application/json"}
    assert (post.caller, post.store, post.root_url) == (CALLER, store, ROOT)


def test_bare_line_feeds_parse_like_crlf(store: OrgStore) -> None:
    crlf, lf = Recorder(spec_script), Recorder(spec_script)
    handle_batch(outer(store, SPEC_REQUEST), crlf)
    response = handle_batch(outer(store, SPEC_REQUEST.replace(b"\r\n", b"\n")), lf)

    assert response.status == 200
    assert [(r.method, r.segments, r.query, r.headers, r.body) for r in lf.seen] == [
        (r.method, r.segments, r.query, r.headers, r.body) for r in crlf.seen
    ]
    assert b"\r\n" in response.encoded() and b"\n\n" not in response.encoded()


@pytest.mark.parametrize(
    "content_type",
    [
        'multipart/mixed; boundary="batch_7f3c"',
        "multipart/mixed; boundary=batch_7f3c",
        "Multipart/Mixed;boundary=batch_7f3c; charset=utf-8",
    ],
)
def test_the_boundary_may_be_quoted_or_not(store: OrgStore, content_type: str) -> None:
    recorder = Recorder(spec_script)
    response = handle_batch(outer(store, SPEC_REQUEST, content_type=content_type), recorder)
    assert (response.status, len(recorder.seen)) == (200, 2)


# ----- targets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "segments", "root"),
    [
        ("https://contoso.example/api/data/v9.2/accounts(1)/name", ("accounts(1)", "name"), ROOT),
        ("/api/data/v9.2/accounts(1)/name", ("accounts(1)", "name"), ROOT),
        ("/org1/api/data/v9.2/accounts(1)/name", ("accounts(1)", "name"), ROOT),
        ("accounts(1)/name", ("accounts(1)", "name"), ROOT),
        ("api/data/v9.2/accounts(1)/name", ("accounts(1)", "name"), ROOT),
        ("/api/data/v9.1/accounts(1)/name", ("accounts(1)", "name"), "https://contoso.example/api/data/v9.1/"),
        ("accounts%28name%3D%27A%20B%27%29/name", ("accounts(name='A B')", "name"), ROOT),
        ("/api/data/v9.2/", (), ROOT),
    ],
)
def test_every_target_form_reaches_the_same_resource(
    store: OrgStore, target: str, segments: tuple[str, ...], root: str
) -> None:
    recorder = Recorder()
    response = handle_batch(outer(store, batch_body(part(f"GET {target} HTTP/1.1"))), recorder)

    assert response.status == 200
    (inner,) = recorder.seen
    assert (inner.segments, inner.root_url) == (segments, root)


def test_the_inner_query_is_decoded_like_a_top_level_one(store: OrgStore) -> None:
    recorder = Recorder()
    line = "GET accounts?%24select=name%2Crevenue&$filter=name eq 'A B'&$top=5 HTTP/1.1"
    handle_batch(outer(store, batch_body(part(line))), recorder)

    (inner,) = recorder.seen
    assert (inner.query.select, inner.query.filter, inner.query.top) == (("name", "revenue"), "name eq 'A B'", 5)


def test_inner_headers_and_preferences_belong_to_their_own_request(store: OrgStore) -> None:
    recorder = Recorder()
    body = batch_body(
        part("GET accounts HTTP/1.1", "Prefer: odata.maxpagesize=10", 'Prefer: odata.include-annotations="*"'),
        part("GET contacts HTTP/1.1", 'If-None-Match: W/"5"'),
    )
    handle_batch(outer(store, body, prefer=["odata.continue-on-error"]), recorder)

    first, second = recorder.seen
    assert (first.prefs.maxpagesize, first.prefs.include_annotations) == (10, ("*",))
    assert first.headers == {"prefer": 'odata.maxpagesize=10, odata.include-annotations="*"'}
    assert (second.prefs.maxpagesize, second.prefs.continue_on_error) == (None, False)
    assert second.headers == {"if-none-match": 'W/"5"'}
    assert all(inner.caller == CALLER for inner in recorder.seen)


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/contacts", 404, "Resource not found for the segment 'contacts'."),
        ("/api/data/v8.0/contacts", 404, "Resource not found for the segment 'v8.0'."),
        ("contacts?$skip=1", 400, None),
    ],
)
def test_a_bad_target_fails_only_its_own_part(store: OrgStore, target: str, status: int, message: str | None) -> None:
    recorder = Recorder()
    body = batch_body(part(f"GET {target} HTTP/1.1"), part("GET contacts HTTP/1.1"))
    response = handle_batch(outer(store, body, prefer=["odata.continue-on-error"]), recorder)

    assert status_lines(response)[0].startswith(f"HTTP/1.1 {status} ")
    assert [inner.segments for inner in recorder.seen] == [("contacts",)]
    if message is not None:
        assert message in text_of(response)


# ----- Content-ID references -------------------------------------------------------------------


def create_contact(content_id: str, lastname: str = "Ng") -> str:
    return part(
        "POST contacts HTTP/1.1",
        "Content-Type: application/json",
        body=f'{{"lastname": "{lastname}"}}',
        content_id=content_id,
    )


def test_a_reference_in_the_url_addresses_the_created_row(store: OrgStore) -> None:
    update = part("PATCH $1 HTTP/1.1", "Content-Type: application/json", body='{"lastname": "Lee"}', content_id="2")
    response = handle_batch(outer(store, batch_body(changeset(create_contact("1"), update))), real_answer)

    assert status_lines(response) == ["HTTP/1.1 204 No Content", "HTTP/1.1 204 No Content"]
    (row,) = store.scan("contact")
    assert row.data["lastname"] == "Lee"
    assert text_of(response).count(f"OData-EntityId: {ROOT}contacts({row.id})") == 2


def test_a_reference_with_a_path_after_it_resolves(store: OrgStore) -> None:
    recorder = Recorder(lambda r: ApiResponse(204, None, {"OData-EntityId": CONTACT_URL}))
    tail = part("PUT $1/lastname HTTP/1.1", "Content-Type: application/json", body='{"value": "X"}')
    handle_batch(outer(store, batch_body(changeset(create_contact("1"), tail))), recorder)

    assert recorder.seen[1].segments == (f"contacts({CONTACT_ID})", "lastname")


def test_a_reference_in_odata_bind_links_the_created_row(store: OrgStore) -> None:
    account = part(
        "POST accounts HTTP/1.1",
        "Content-Type: application/json",
        body='{"name": "Fourth Coffee", "primarycontactid@odata.bind": "$1"}',
        content_id="2",
    )
    response = handle_batch(outer(store, batch_body(changeset(create_contact("1"), account))), real_answer)

    assert response.status == 200
    (contact,) = store.scan("contact")
    (created,) = store.scan("account")
    assert created.data["primarycontactid"] == ["contact", contact.id]


def test_references_in_nested_and_collection_binds_are_resolved(store: OrgStore) -> None:
    recorder = Recorder(lambda r: ApiResponse(204, None, {"OData-EntityId": CONTACT_URL}))
    body = '{"a": [{"x@odata.bind": "$1"}], "y@odata.bind": ["$1", "/contacts(5)"], "note": "$1"}'
    handle_batch(
        outer(store, batch_body(changeset(create_contact("1"), part("POST accounts HTTP/1.1", body=body)))), recorder
    )

    assert recorder.seen[1].body == (
        b'{"a":[{"x@odata.bind":"' + CONTACT_URL.encode() + b'"}],'
        b'"y@odata.bind":["' + CONTACT_URL.encode() + b'","/contacts(5)"],"note":"$1"}'
    )


@pytest.mark.parametrize(
    "body",
    [
        batch_body(changeset(create_contact("1"), part("PATCH $2 HTTP/1.1", body="{}", content_id="3"))),
        batch_body(changeset(part("PATCH $2 HTTP/1.1", body="{}", content_id="1"), create_contact("2"))),
        batch_body(changeset(create_contact("2")), changeset(part("PATCH $2 HTTP/1.1", body="{}"))),
        batch_body(create_contact("2"), part("GET $2 HTTP/1.1")),
    ],
    ids=["undeclared", "declared-later", "other-changeset", "outside-a-changeset"],
)
def test_a_reference_to_no_earlier_member_rejects_the_batch(store: OrgStore, body: bytes) -> None:
    recorder = Recorder()
    assert batch_error(outer(store, body), recorder).message == MISSING_2
    assert recorder.seen == []


def test_a_bind_reference_to_no_entity_fails_the_changeset(store: OrgStore) -> None:
    account = part("POST accounts HTTP/1.1", body='{"name": "A", "primarycontactid@odata.bind": "$2"}', content_id="9")
    response = handle_batch(outer(store, batch_body(changeset(create_contact("1"), account))), real_answer)

    assert response.status == 400
    assert status_lines(response) == ["HTTP/1.1 400 Bad Request"]
    assert "Content-ID: 9\r\n" in text_of(response) and MISSING_2 in text_of(response)
    assert store.count("contact") == 0


def test_a_reference_to_a_member_that_created_nothing_fails_the_changeset(store: OrgStore) -> None:
    recorder = Recorder(lambda r: ApiResponse(204))
    delete = part(f"DELETE contacts({CONTACT_ID}) HTTP/1.1", content_id="2")
    update = part("PATCH $2 HTTP/1.1", body="{}", content_id="3")
    response = handle_batch(outer(store, batch_body(changeset(delete, update))), recorder)

    assert status_lines(response) == ["HTTP/1.1 400 Bad Request"]
    assert "Content-ID: 3\r\n" in text_of(response) and MISSING_2 in text_of(response)
    assert len(recorder.seen) == 1


def test_a_body_that_is_not_json_reaches_the_handler_unchanged(store: OrgStore) -> None:
    recorder = Recorder(lambda r: ApiResponse(204, None, {"OData-EntityId": CONTACT_URL}))
    broken = part("POST accounts HTTP/1.1", body='{"x@odata.bind": "$1"')
    handle_batch(outer(store, batch_body(changeset(create_contact("1"), broken))), recorder)

    assert recorder.seen[1].body == b'{"x@odata.bind": "$1"'


# ----- changesets --------------------------------------------------------------------------------


def test_a_failing_member_rolls_the_whole_changeset_back(store: OrgStore) -> None:
    before = store.counter
    body = batch_body(changeset(create_contact("1"), create_contact("2", lastname="far too long a name")))
    response = handle_batch(outer(store, body), real_answer)

    assert response.status == 400
    assert (store.count("contact"), store.counter) == (0, before)
    expected_head = "\r\n".join(
        [
            "--batchresponse_B",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "Content-ID: 2",
            "",
            "HTTP/1.1 400 Bad Request",
            "Content-Type: application/json; odata.metadata=minimal",
            "OData-Version: 4.0",
            "",
            '{"error":{"code":"0x80044331",',
        ]
    )
    assert text_of(response).startswith(expected_head)
    assert text_of(response).endswith("}\r\n--batchresponse_B--\r\n")


def test_writes_made_by_the_failing_member_itself_are_rolled_back(store: OrgStore) -> None:
    def write_then_fail(request: ApiRequest) -> ApiResponse:
        with request.store.write() as tx:
            tx.create("contact", CONTACT_ID, {"lastname": "half"})
        return ApiResponse(500, {"error": {"code": "0x80040216", "message": "boom"}})

    before = store.counter
    response = handle_batch(outer(store, batch_body(changeset(create_contact("1")))), write_then_fail)

    assert status_lines(response) == ["HTTP/1.1 500 Internal Server Error"]
    assert (store.count("contact"), store.counter) == (0, before)


def test_a_committed_changeset_keeps_its_rows_and_versions(store: OrgStore) -> None:
    before = store.counter
    response = handle_batch(outer(store, batch_body(changeset(create_contact("1"), create_contact("2")))), real_answer)

    assert response.status == 200
    assert (store.count("contact"), store.counter) == (2, before + 2)
    assert "Content-ID: 1\r\n" in text_of(response) and "Content-ID: 2\r\n" in text_of(response)


# ----- failures ------------------------------------------------------------------------------------


def by_path(request: ApiRequest) -> ApiResponse:
    if request.segments == ("missing",):
        return ApiResponse(404, {"error": {"code": "0x0", "message": "Resource not found for the segment 'missing'."}})
    return ApiResponse(200, {"path": "/".join(request.segments)})


THREE_READS = batch_body(part("GET one HTTP/1.1"), part("GET missing HTTP/1.1"), part("GET three HTTP/1.1"))


def test_the_batch_stops_at_the_first_failure(store: OrgStore) -> None:
    recorder = Recorder(by_path)
    response = handle_batch(outer(store, THREE_READS), recorder)

    assert response.status == 400
    assert status_lines(response) == ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]
    assert [r.segments for r in recorder.seen] == [("one",), ("missing",)]
    assert "Preference-Applied" not in response.headers


def test_continue_on_error_runs_everything(store: OrgStore) -> None:
    recorder = Recorder(by_path)
    response = handle_batch(outer(store, THREE_READS, prefer=["odata.continue-on-error"]), recorder)

    assert response.status == 200
    assert status_lines(response) == ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"]
    assert response.headers == {"Preference-Applied": "odata.continue-on-error"}


def test_continue_on_error_runs_past_a_rolled_back_changeset(store: OrgStore) -> None:
    body = batch_body(
        changeset(create_contact("1", "Kept"), boundary="cs1"),
        changeset(create_contact("2"), create_contact("3", lastname="far too long a name"), boundary="cs2"),
        create_contact("4", "Also"),
    )
    response = handle_batch(outer(store, body, prefer=["odata.continue-on-error"]), real_answer)

    assert response.status == 200
    assert status_lines(response) == ["HTTP/1.1 204 No Content", "HTTP/1.1 400 Bad Request", "HTTP/1.1 204 No Content"]
    assert sorted(str(row.data["lastname"]) for row in store.scan("contact")) == ["Also", "Kept"]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (201, "HTTP/1.1 201 Created"),
        (304, "HTTP/1.1 304 Not Modified"),
        (412, "HTTP/1.1 412 Precondition Failed"),
        (429, "HTTP/1.1 429 Too Many Requests"),
        (503, "HTTP/1.1 503 Service Unavailable"),
    ],
)
def test_status_lines_carry_the_canonical_reason_phrase(store: OrgStore, status: int, line: str) -> None:
    headers = {"Retry-After": "7"} if status == 429 else {}
    recorder = Recorder(lambda r: ApiResponse(status, {"x": 1}, headers))
    response = handle_batch(outer(store, batch_body(part("GET a HTTP/1.1"))), recorder)

    assert status_lines(response) == [line]
    if status == 304:
        assert "Content-Type: application/json" not in text_of(response) and '{"x":1}' not in text_of(response)
    if status == 429:
        assert "Retry-After: 7\r\n" in text_of(response)


def test_a_top_level_content_id_is_echoed(store: OrgStore) -> None:
    response = handle_batch(outer(store, batch_body(part("GET a HTTP/1.1", content_id="read-1"))), Recorder())
    assert "Content-ID: read-1\r\n\r\nHTTP/1.1 200 OK" in text_of(response)


# ----- batch rules ---------------------------------------------------------------------------------


def reads(count: int) -> list[str]:
    return [part(f"GET accounts?n={n} HTTP/1.1") for n in range(count)]


def test_a_thousand_requests_are_allowed(store: OrgStore) -> None:
    recorder = Recorder()
    response = handle_batch(outer(store, batch_body(*reads(1000))), recorder)
    assert (response.status, len(recorder.seen), len(status_lines(response))) == (200, 1000, 1000)


@pytest.mark.parametrize(
    "body",
    [batch_body(*reads(1001)), batch_body(*reads(999), changeset(create_contact("1"), create_contact("2")))],
    ids=["1001-reads", "changeset-members-count"],
)
def test_more_than_a_thousand_requests_reject_the_batch(store: OrgStore, body: bytes) -> None:
    recorder = Recorder()
    assert "1001 requests" in batch_error(outer(store, body), recorder).message
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (batch_body(changeset(create_contact("1"), part("GET contacts HTTP/1.1"))), "cannot contain a GET"),
        (batch_body(part("POST $batch HTTP/1.1")), "cannot contain another $batch"),
        (batch_body(part("POST https://contoso.example/api/data/v9.2/$batch HTTP/1.1")), "another $batch"),
        (batch_body(changeset(create_contact("1"), changeset(create_contact("2"), boundary="x"))), "another changeset"),
        (batch_body(create_contact("1"), changeset(create_contact("1"))), "Content-ID '1' is used more than once"),
    ],
    ids=["get-in-changeset", "nested-batch", "nested-batch-absolute", "nested-changeset", "duplicate-content-id"],
)
def test_batch_rules_reject_the_batch_before_anything_runs(store: OrgStore, body: bytes, message: str) -> None:
    recorder = Recorder()
    assert message in batch_error(outer(store, body), recorder).message
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, SPEC_REQUEST),
        ("application/json", SPEC_REQUEST),
        ("multipart/mixed", SPEC_REQUEST),
        ("multipart/mixed; boundary=" + "b" * 71, SPEC_REQUEST),
        ("multipart/mixed; boundary=batch*7f3c", SPEC_REQUEST),
        ('multipart/mixed; boundary="batch_7f3c"', SPEC_REQUEST.removesuffix(b"--batch_7f3c--\r\n")),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body("Content-Type: text/plain\r\n\r\nhello")),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body("\r\nGET a HTTP/1.1\r\n")),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body(part("GET"))),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body("Content-Type: application/http\r\n\r\n")),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body(part("GET a SPDY/3"))),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body(part("GET a HTTP/1.1", "no colon here"))),
        ('multipart/mixed; boundary="batch_7f3c"', batch_body(part("GET a HTTP/1.1")).replace(b"GET a", b"GET \xff")),
        (
            'multipart/mixed; boundary="batch_7f3c"',
            batch_body(part("GET a HTTP/1.1").replace("binary", "base64")),
        ),
    ],
    ids=[
        "no-content-type",
        "not-multipart",
        "no-boundary",
        "boundary-too-long",
        "boundary-bad-chars",
        "no-closing-delimiter",
        "part-not-http",
        "part-without-headers",
        "no-target",
        "no-request-line",
        "not-http",
        "bad-inner-header",
        "not-utf8",
        "base64",
    ],
)
def test_malformed_bodies_are_a_400(store: OrgStore, content_type: str | None, body: bytes) -> None:
    recorder = Recorder()
    error = batch_error(outer(store, body, content_type=content_type), recorder)
    assert error.code == "0x0"
    assert recorder.seen == []


def test_an_empty_batch_is_an_empty_multipart(store: OrgStore) -> None:
    response = handle_batch(outer(store, b"preamble\r\n--batch_7f3c--\r\nepilogue"), Recorder())
    assert (response.status, text_of(response)) == (200, "--batchresponse_B--\r\n")


def test_folded_header_lines_continue_the_previous_header(store: OrgStore) -> None:
    recorder = Recorder()
    body = batch_body(part("GET a HTTP/1.1", "Prefer: odata.maxpagesize=10,", "\todata.track-changes"))
    handle_batch(outer(store, body), recorder)

    (inner,) = recorder.seen
    assert (inner.prefs.maxpagesize, inner.prefs.track_changes) == (10, True)


def test_transport_padding_and_a_preamble_are_ignored(store: OrgStore) -> None:
    body = b"This is a preamble.\r\n" + SPEC_REQUEST.replace(b"--batch_7f3c\r\n", b"--batch_7f3c \t\r\n")
    recorder = Recorder(spec_script)
    assert handle_batch(outer(store, body), recorder).status == 200
    assert len(recorder.seen) == 2


# ----- throttling count ----------------------------------------------------------------------------


def test_count_inner_requests_counts_changeset_members(store: OrgStore) -> None:
    body = batch_body(*reads(3), changeset(create_contact("1"), create_contact("2")))
    assert count_inner_requests(outer(store, body)) == 5


@pytest.mark.parametrize(
    "request_of",
    [
        lambda s: outer(s, b"garbage"),
        lambda s: outer(s, b"--batch_7f3c--\r\n"),
        lambda s: outer(s, SPEC_REQUEST, content_type="text/plain"),
        lambda s: replace(outer(s, SPEC_REQUEST), segments=("accounts",)),
    ],
    ids=["garbage", "empty-batch", "wrong-content-type", "not-a-batch"],
)
def test_anything_else_counts_as_one_request(store: OrgStore, request_of: Callable[[OrgStore], ApiRequest]) -> None:
    assert count_inner_requests(request_of(store)) == 1


# ----- robustness --------------------------------------------------------------------------------

FRAGMENTS = [
    "--batch_7f3c",
    "--batch_7f3c--",
    "--cs",
    "--cs--",
    "Content-Type: application/http",
    "Content-Type: multipart/mixed; boundary=cs",
    'Content-Type: multipart/mixed; boundary="',
    "Content-Transfer-Encoding: binary",
    "Content-ID: 1",
    "Content-ID: 2",
    "",
    " folded",
    "GET accounts HTTP/1.1",
    "POST contacts HTTP/1.1",
    "PATCH $1 HTTP/1.1",
    "DELETE $2/x?$select=a HTTP/1.1",
    "GET https://h/api/data/v9.2/$batch HTTP/1.1",
    "GET /api/data/v7/a%ZZ HTTP/1.1",
    "Prefer: return=representation",
    '{"x@odata.bind": "$1"}',
    '{"x@odata.bind": ["$9"]}',
    "\x00\xff",
]


def assert_well_behaved(request: ApiRequest) -> None:
    try:
        response = handle_batch(request, by_path)
    except WebApiError as error:
        assert (error.status, error.code) == (400, "0x0")
    else:
        assert response.status in (200, 400)
        assert response.content_type.startswith("multipart/mixed; boundary=batchresponse_")
        assert text_of(response).endswith("--batchresponse_B--\r\n")
    assert count_inner_requests(request) >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000))
def test_arbitrary_bytes_are_a_400_or_a_batch_response(shared_store: OrgStore, body: bytes) -> None:
    assert_well_behaved(outer(shared_store, body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=20), max_size=40),
    endings=st.lists(st.sampled_from(["\r\n", "\n", "\r"]), min_size=1),
    prefer=st.sampled_from([(), ("odata.continue-on-error",)]),
)
def test_batch_shaped_garbage_is_a_400_or_a_batch_response(
    shared_store: OrgStore, lines: list[str], endings: list[str], prefer: tuple[str, ...]
) -> None:
    text = "".join(line + endings[index % len(endings)] for index, line in enumerate(lines))
    body = text.encode("utf-8", "surrogatepass")
    assert_well_behaved(outer(shared_store, body, prefer=prefer))
