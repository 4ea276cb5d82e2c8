"""The local failure store's signed routes (DES §8.6, §3.5), through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dataexport.api.failurestore import failure_store_router
from dataexport.blobs import LocalFailureFiles, UrlSigner

PROFILE = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
OTHER = "0f1e2d3c-4b5a-4968-8776-655443322110"
AT = datetime(2025, 3, 7, 9, 14, 0, tzinfo=UTC)
LINES = [
    "Entity: contact, RecordId: 0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22, NotificationTime: 3/7/2025 9:14:00 AM, "
    "ChangeType: Update, FailureReason: Cannot create a row of size 8112.",
    "Entity: lead, RecordId: N/A, NotificationTime: 3/7/2025 9:14:00 AM, ChangeType: Trigger Initial Export, "
    "FailureReason: CREATE TABLE permission denied in database 'rep'.",
]


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(AT + timedelta(minutes=5))


@pytest.fixture
def files(tmp_path: Path) -> LocalFailureFiles:
    return LocalFailureFiles(tmp_path, UrlSigner(b"s" * 32), "http://testserver")


@pytest.fixture
def client(files: LocalFailureFiles, clock: MovableClock) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(failure_store_router(files, UrlSigner(b"s" * 32), clock))
    with TestClient(app) as test_client:
        yield test_client


def _link(files: LocalFailureFiles, clock: MovableClock, profile_id: str = PROFILE) -> tuple[str, str]:
    """The shared link's path and query, as a user would paste it."""
    parts = urlsplit(files.share(profile_id, now=clock()).url)
    return parts.path, parts.query


def test_the_link_lists_files_newest_first_and_serves_the_des_lines(
    client: TestClient, files: LocalFailureFiles, clock: MovableClock
) -> None:
    log = files.write_lines(PROFILE, LINES, at=AT)
    data = files.write_json(PROFILE, "data", "contact_0d9e3c4a-77b1-4f1e-9a0e-5c2b8d6f1a22", b'{"a": 1}', at=AT)
    path, query = _link(files, clock)
    listed = client.get(f"{path}?{query}")
    assert listed.status_code == 200
    body = listed.json()
    assert [item["Path"] for item in body["Files"]] == [data, log]
    assert body["Files"][1]["Size"] == len("".join(f"{line}\n" for line in LINES).encode())
    assert all(item["LastModified"].endswith("Z") for item in body["Files"])
    downloaded = client.get(f"{path}/{log}?{query}")
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "text/plain; charset=utf-8"
    assert downloaded.text.splitlines() == LINES
    document = client.get(f"{path}/{data}?{query}")
    assert document.headers["content-type"] == "application/json"
    assert document.json() == {"a": 1}


def test_a_fresh_profile_lists_nothing(client: TestClient, files: LocalFailureFiles, clock: MovableClock) -> None:
    path, query = _link(files, clock)
    answer = client.get(f"{path}?{query}")
    assert answer.status_code == 200
    assert answer.json() == {"Files": []}


def test_missing_forged_moved_or_expired_signatures_are_refused(
    client: TestClient, files: LocalFailureFiles, clock: MovableClock
) -> None:
    log = files.write_lines(PROFILE, LINES, at=AT)
    files.write_lines(OTHER, ["theirs"], at=AT)
    path, query = _link(files, clock)
    se = query.split("&")[0]
    forged = UrlSigner(b"f" * 32).sign(PROFILE, int(se.removeprefix("se=")))
    attempts = [
        path,
        f"{path}?{se}",
        f"{path}?{se}&sig={forged}",
        f"{path}?{se}&sig=not-hex",
        f"/crm/exporter/failurestore/{OTHER}?{query}",
        f"{path}/{log}?{se}&sig={forged}",
    ]
    for url in attempts:
        refused = client.get(url)
        assert refused.status_code == 403, url
        assert refused.json()["Error"]["Code"] == "InvalidSignature"
    clock.now += timedelta(hours=24)
    expired = client.get(f"{path}/{log}?{query}")
    assert expired.status_code == 403
    assert "expired" in expired.json()["Error"]["Message"]


def test_unknown_profiles_and_paths_answer_404(
    client: TestClient, files: LocalFailureFiles, clock: MovableClock
) -> None:
    signer = UrlSigner(b"s" * 32)
    se = int((clock() + timedelta(hours=1)).timestamp())
    unknown = client.get(f"/crm/exporter/failurestore/{OTHER}?se={se}&sig={signer.sign(OTHER, se)}")
    assert unknown.status_code == 404
    assert unknown.json()["Error"]["Code"] == "NotFound"
    files.write_lines(PROFILE, LINES, at=AT)
    path, query = _link(files, clock)
    for missing in ("failurelog/2025/03/07/09/nothing.log", "..%2F..%2Fetc%2Fpasswd", "failurelog%5C..%5Cx.log"):
        answer = client.get(f"{path}/{missing}?{query}")
        assert answer.status_code == 404, missing
        assert answer.json()["Error"]["Code"] == "NotFound"
    files.delete_profile(PROFILE)
    assert client.get(f"{path}?{query}").status_code == 404


def test_the_routes_are_documented_without_bearer_security(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    listing = document["paths"]["/crm/exporter/failurestore/{profileId}"]["get"]
    assert listing["operationId"] == "FailureStore_ListFiles"
    assert {"200", "403", "404"} <= set(listing["responses"])
    download = document["paths"]["/crm/exporter/failurestore/{profileId}/{path}"]["get"]
    assert "text/plain" in download["responses"]["200"]["content"]
    assert "security" not in listing
