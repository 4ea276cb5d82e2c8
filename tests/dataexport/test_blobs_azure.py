"""The Azure Blob failure files against a real Azurite: containers per profile, write-once blobs, container SAS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from dataexport.blobs.azure import AzureBlobFailureFiles
from dataexport.blobs.base import FailureStoreUnavailable
from dataexport.store.values import FailureLog
from support.azurite import run_azurite

PROFILE = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
OTHER = "0f1e2d3c-4b5a-4968-8776-655443322110"
AT = datetime(2025, 3, 7, 9, 14, 0, tzinfo=UTC)
LINE = "Entity: lead, RecordId: N/A, NotificationTime: 3/7/2025 9:14:00 AM, ChangeType: New, FailureReason: denied"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_azurite(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


@pytest.fixture
def files(azurite: str) -> Iterator[AzureBlobFailureFiles]:
    store = AzureBlobFailureFiles.from_connection_string(azurite)
    yield store
    for profile_id in (PROFILE, OTHER):
        store.delete_profile(profile_id)


def _blob_names(listing: httpx.Response) -> list[str]:
    root = ElementTree.fromstring(listing.content)
    return [element.text or "" for element in root.iter("Name")]


def test_writes_land_in_the_profiles_container_once_each(files: AzureBlobFailureFiles, azurite: str) -> None:
    first = files.write_lines(PROFILE, [LINE], at=AT)
    second = files.write_lines(PROFILE, [LINE, LINE], at=AT, log=FailureLog.FORCE_REFRESH)
    third = files.write_lines(PROFILE, ["again"], at=AT)
    data = files.write_json(PROFILE, "data", "lead_1", b'{"x": 1}', at=AT)
    again = files.write_json(PROFILE, "data", "lead_1", b'{"x": 2}', at=AT)
    assert first == "failurelog/2025/03/07/09/20250307T091400Z-0.log"
    assert second == "forcerefreshfailurelog/2025/03/07/09/20250307T091400Z-0.log"
    assert third == "failurelog/2025/03/07/09/20250307T091400Z-1.log"
    assert (data, again) == ("data/2025/03/07/09/lead_1.json", "data/2025/03/07/09/lead_1-1.json")
    assert files.open_file(PROFILE, first) == f"{LINE}\n".encode()
    assert files.open_file(PROFILE, data) == b'{"x": 1}'
    assert files.write_lines(PROFILE, [], at=AT) is None
    service = BlobServiceClient.from_connection_string(azurite)
    assert service.get_container_client(f"failures-{PROFILE}").exists()
    listed = files.list_files(PROFILE)
    assert {item.path for item in listed} == {first, second, third, data, again}
    assert [item.last_modified for item in listed] == sorted((item.last_modified for item in listed), reverse=True)
    assert {item.path: item.size for item in listed}[second] == 2 * len(f"{LINE}\n".encode())


def test_unknown_profiles_and_files_read_as_missing(files: AzureBlobFailureFiles) -> None:
    assert files.list_files(OTHER) == []
    assert not files.has_profile(OTHER)
    with pytest.raises(FileNotFoundError, match=OTHER):
        files.open_file(OTHER, "failurelog/2025/03/07/09/x.log")
    with pytest.raises(ValueError, match="does not name a failure file"):
        files.open_file(PROFILE, "../failures-other/x.log")
    with pytest.raises(ValueError, match="cannot name a blob container"):
        files.list_files("Not--Valid")


def test_the_sas_link_lists_and_reads_one_profile_without_credentials(files: AzureBlobFailureFiles) -> None:
    now = datetime.now(UTC)
    path = files.write_lines(PROFILE, [LINE], at=AT)
    theirs = files.write_lines(OTHER, ["theirs"], at=AT)
    link = files.share(PROFILE, now=now, ttl=timedelta(hours=24))
    parts = urlsplit(link.url)
    query = parse_qs(parts.query)
    assert parts.path.endswith(f"/failures-{PROFILE}")
    assert (query["sr"], query["sp"]) == (["c"], ["rl"])
    assert abs(link.expires_on - (now + timedelta(hours=24))) < timedelta(seconds=1)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    with httpx.Client() as http:
        listing = http.get(f"{base}?restype=container&comp=list&{parts.query}")
        assert listing.status_code == 200
        assert _blob_names(listing) == [path]
        download = http.get(f"{base}/{path}?{parts.query}")
        assert download.status_code == 200
        assert download.text == f"{LINE}\n"
        other_base = base.replace(PROFILE, OTHER)
        assert http.get(f"{other_base}/{theirs}?{parts.query}").status_code == 403
        assert http.get(f"{other_base}?restype=container&comp=list&{parts.query}").status_code == 403
        upload = http.put(f"{base}/new.log?{parts.query}", content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
        assert upload.status_code == 403


def test_an_expired_sas_is_refused(files: AzureBlobFailureFiles) -> None:
    path = files.write_lines(PROFILE, [LINE], at=AT)
    link = files.share(PROFILE, now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(hours=24))
    parts = urlsplit(link.url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert httpx.get(f"{base}/{path}?{parts.query}").status_code == 403
    assert httpx.get(f"{base}?restype=container&comp=list&{parts.query}").status_code == 403


def test_a_shared_profile_without_failures_lists_empty(files: AzureBlobFailureFiles) -> None:
    link = files.share(OTHER, now=datetime.now(UTC))
    parts = urlsplit(link.url)
    listing = httpx.get(f"{parts.scheme}://{parts.netloc}{parts.path}?restype=container&comp=list&{parts.query}")
    assert listing.status_code == 200
    assert _blob_names(listing) == []


def test_purge_and_delete_profile(files: AzureBlobFailureFiles) -> None:
    cutoff = AT + timedelta(days=30)
    files.write_lines(PROFILE, ["old"], at=AT)
    files.write_json(OTHER, "metadata", "lead", b"{}", at=cutoff - timedelta(hours=1))
    kept = files.write_lines(PROFILE, ["current"], at=cutoff)
    newer = files.write_json(OTHER, "data", "lead_2", b"{}", at=cutoff + timedelta(hours=3))
    assert files.purge(cutoff) == 2
    assert files.purge(cutoff) == 0
    assert [item.path for item in files.list_files(PROFILE)] == [kept]
    assert [item.path for item in files.list_files(OTHER)] == [newer]
    files.delete_profile(PROFILE)
    files.delete_profile(PROFILE)
    assert not files.has_profile(PROFILE)
    assert files.list_files(PROFILE) == []
    assert files.has_profile(OTHER)


def test_an_unreachable_account_is_a_transient_error_without_the_key(azurite: str) -> None:
    port = azurite.split("127.0.0.1:")[1].split("/")[0]
    key = dict(part.split("=", 1) for part in azurite.split(";") if "=" in part)["AccountKey"]
    closed = azurite.replace(f"127.0.0.1:{port}", "127.0.0.1:9")
    store = AzureBlobFailureFiles(BlobServiceClient.from_connection_string(closed, retry_total=0), account_key=key)
    with pytest.raises(FailureStoreUnavailable, match="cannot be reached") as raised:
        store.write_lines(PROFILE, [LINE], at=AT)
    assert isinstance(raised.value, OSError)
    assert key not in str(raised.value)
    assert PROFILE in str(raised.value)
