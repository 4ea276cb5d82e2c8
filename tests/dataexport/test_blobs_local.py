"""The local failure files: DES §8.4 layout, write-once, listing, traversal refusal, retention and signed links."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dataexport.blobs import LocalFailureFiles, UrlSigner, ensure_key_file
from dataexport.engine import FailureStore, LocalFailureStore
from dataexport.store.values import FailureLog

PROFILE = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
OTHER = "0f1e2d3c-4b5a-4968-8776-655443322110"
AT = datetime(2025, 3, 7, 9, 14, 0, tzinfo=UTC)
LINE = "Entity: contact, RecordId: N/A, NotificationTime: 3/7/2025 9:14:00 AM, ChangeType: New, FailureReason: x"
SIGNER = UrlSigner(b"k" * 32)


@pytest.fixture
def files(tmp_path: Path) -> LocalFailureFiles:
    return LocalFailureFiles(tmp_path / "failures", SIGNER, "https://dx.example.test/")


def _age(files: LocalFailureFiles, profile_id: str, path: str, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(files.profile_root(profile_id) / path, (stamp, stamp))


def test_logs_and_json_files_land_in_their_hour_folders(files: LocalFailureFiles) -> None:
    log = files.write_lines(PROFILE, [LINE], at=AT, log=FailureLog.FORCE_REFRESH)
    data = files.write_json(PROFILE, "data", f"contact_{OTHER}_20250307T091400Z", b'{"name":"x"}', at=AT)
    meta = files.write_json(PROFILE, "metadata", "contact_20250307T091400Z", b"{}", at=AT)
    assert log == "forcerefreshfailurelog/2025/03/07/09/20250307T091400Z-0.log"
    assert data == f"data/2025/03/07/09/contact_{OTHER}_20250307T091400Z.json"
    assert meta == "metadata/2025/03/07/09/contact_20250307T091400Z.json"
    assert files.open_file(PROFILE, data) == b'{"name":"x"}'
    assert files.open_file(PROFILE, log) == f"{LINE}\n".encode()


def test_files_are_written_once_and_a_taken_name_moves_on(files: LocalFailureFiles) -> None:
    first = files.write_json(PROFILE, "unprocessablemessages", "contact_gone", b"1", at=AT)
    second = files.write_json(PROFILE, "unprocessablemessages", "contact_gone", b"2", at=AT)
    assert (first, second) == (
        "unprocessablemessages/2025/03/07/09/contact_gone.json",
        "unprocessablemessages/2025/03/07/09/contact_gone-1.json",
    )
    assert files.open_file(PROFILE, first) == b"1"
    assert files.open_file(PROFILE, second) == b"2"
    with pytest.raises(ValueError, match="holds no JSON"):
        files.write_json(PROFILE, "failurelog", "x", b"{}", at=AT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not safe"):
        files.write_json(PROFILE, "data", "../escape", b"{}", at=AT)


def test_the_engine_keeps_its_import_and_contract(tmp_path: Path) -> None:
    store: FailureStore = LocalFailureFiles(tmp_path, SIGNER, "http://x")
    assert store.write_lines(PROFILE, ["a"], at=AT) == "failurelog/2025/03/07/09/20250307T091400Z-0.log"
    legacy: FailureStore = LocalFailureStore(tmp_path)
    assert legacy.write_lines(PROFILE, ["b"], at=AT) == "failurelog/2025/03/07/09/20250307T091400Z-1.log"


def test_listing_is_newest_first_with_sizes(files: LocalFailureFiles) -> None:
    old = files.write_lines(PROFILE, ["old"], at=AT)
    new = files.write_lines(PROFILE, ["newer line"], at=AT + timedelta(hours=2))
    assert old is not None and new is not None
    _age(files, PROFILE, old, AT)
    _age(files, PROFILE, new, AT + timedelta(hours=2))
    listed = files.list_files(PROFILE)
    assert [(item.path, item.size, item.last_modified) for item in listed] == [
        (new, len(b"newer line\n"), AT + timedelta(hours=2)),
        (old, len(b"old\n"), AT),
    ]
    assert files.list_files(OTHER) == []


def test_paths_that_could_leave_the_profile_are_refused(files: LocalFailureFiles, tmp_path: Path) -> None:
    files.write_lines(PROFILE, ["mine"], at=AT)
    files.write_lines(OTHER, ["theirs"], at=AT)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    (files.profile_root(PROFILE) / "leak.log").symlink_to(secret)
    for path in (f"../{OTHER}/failurelog/2025/03/07/09/20250307T091400Z-0.log", "/etc/passwd", "a\\..\\b", "", "."):
        with pytest.raises(ValueError, match="does not name a failure file"):
            files.open_file(PROFILE, path)
    with pytest.raises(FileNotFoundError, match="list the files"):
        files.open_file(PROFILE, "leak.log")
    with pytest.raises(FileNotFoundError):
        files.open_file(PROFILE, "failurelog/2025/03/07/09/missing.log")
    assert "leak.log" not in [item.path for item in files.list_files(PROFILE)]
    with pytest.raises(ValueError, match="cannot name a folder"):
        files.list_files("..")


def test_purge_removes_files_whose_hour_ended_and_keeps_the_rest(files: LocalFailureFiles) -> None:
    cutoff = AT + timedelta(days=30)
    expired = [
        files.write_lines(PROFILE, ["old"], at=AT),
        files.write_json(OTHER, "data", "contact_1", b"{}", at=cutoff - timedelta(hours=1)),
    ]
    kept = [
        files.write_lines(PROFILE, ["current hour"], at=cutoff),
        files.write_json(OTHER, "metadata", "contact", b"{}", at=cutoff + timedelta(days=1)),
    ]
    assert files.purge(cutoff) == 2
    assert files.purge(cutoff) == 0
    remaining = {item.path for profile in (PROFILE, OTHER) for item in files.list_files(profile)}
    assert remaining == set(kept)
    assert not (files.profile_root(PROFILE) / "failurelog/2025/03/07").exists()
    assert expired[0] is not None and not (files.profile_root(PROFILE) / expired[0]).exists()


def test_delete_profile_removes_everything_and_is_idempotent(files: LocalFailureFiles) -> None:
    files.write_lines(PROFILE, ["x"], at=AT)
    files.write_lines(OTHER, ["y"], at=AT)
    files.delete_profile(PROFILE)
    files.delete_profile(PROFILE)
    assert not files.has_profile(PROFILE)
    assert files.list_files(PROFILE) == []
    assert len(files.list_files(OTHER)) == 1


def test_shared_link_verifies_for_its_profile_until_it_expires(files: LocalFailureFiles) -> None:
    now = datetime(2025, 3, 7, 10, 0, 0, tzinfo=UTC)
    link = files.share(PROFILE, now=now)
    parts = urlsplit(link.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://dx.example.test/crm/exporter/failurestore/{PROFILE}"
    )
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert link.expires_on == datetime(2025, 3, 8, 10, 0, 0, tzinfo=UTC)
    assert query["se"] == str(int(link.expires_on.timestamp()))
    assert files.has_profile(PROFILE) and files.list_files(PROFILE) == []
    assert SIGNER.verify(PROFILE, query["se"], query["sig"], now + timedelta(hours=23, minutes=59))
    assert not SIGNER.verify(PROFILE, query["se"], query["sig"], now + timedelta(hours=24))
    assert not SIGNER.verify(OTHER, query["se"], query["sig"], now)
    assert not UrlSigner(b"z" * 32).verify(PROFILE, query["se"], query["sig"], now)
    later = str(int(query["se"]) + 3600)
    assert not SIGNER.verify(PROFILE, later, query["sig"], now)
    for se, sig in ((None, query["sig"]), (query["se"], None), ("-1", query["sig"]), (query["se"], "zz")):
        assert not SIGNER.verify(PROFILE, se, sig, now)


def test_the_signing_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "url-signing.key"
    assert ensure_key_file(key_file)
    first = key_file.read_text()
    assert not ensure_key_file(key_file)
    assert key_file.read_text() == first
    assert len(bytes.fromhex(first.strip())) == 32
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "key=<hidden>" in repr(UrlSigner.from_secret(first.strip()))
