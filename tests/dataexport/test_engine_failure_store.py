"""The local failure store: DES layout, one new file per write, never overwritten (DES §8.4)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dataexport.engine.failure_store import LocalFailureStore
from dataexport.store.values import FailureLog

PROFILE = "b7d4c3a2-1f0e-4d5c-8b7a-6e5f4d3c2b1a"
AT = datetime(2025, 3, 7, 9, 14, 0, tzinfo=UTC)


def test_lines_land_in_the_hour_folder_of_their_log(tmp_path: Path) -> None:
    store = LocalFailureStore(tmp_path)
    path = store.write_lines(PROFILE, ["line one", "line two"], at=AT)
    assert path == "failurelog/2025/03/07/09/20250307T091400Z-0.log"
    assert (tmp_path / PROFILE / path).read_text(encoding="utf-8") == "line one\nline two\n"
    forced = store.write_lines(PROFILE, ["again"], at=AT, log=FailureLog.FORCE_REFRESH)
    assert forced == "forcerefreshfailurelog/2025/03/07/09/20250307T091400Z-0.log"


def test_a_second_write_in_the_same_second_gets_a_new_file(tmp_path: Path) -> None:
    store = LocalFailureStore(tmp_path)
    first = store.write_lines(PROFILE, ["a"], at=AT)
    second = store.write_lines(PROFILE, ["b"], at=AT)
    assert first != second
    folder = tmp_path / PROFILE / "failurelog/2025/03/07/09"
    assert sorted(p.read_text() for p in folder.iterdir()) == ["a\n", "b\n"]


def test_concurrent_writers_never_share_a_file(tmp_path: Path) -> None:
    store = LocalFailureStore(tmp_path)
    threads = [
        threading.Thread(target=store.write_lines, args=(PROFILE, [f"line {n}"]), kwargs={"at": AT}) for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folder = tmp_path / PROFILE / "failurelog/2025/03/07/09"
    files = list(folder.iterdir())
    assert len(files) == 20
    assert sorted(p.read_text() for p in files) == sorted(f"line {n}\n" for n in range(20))


def test_nothing_is_written_for_no_lines_and_unsafe_profile_ids_are_refused(tmp_path: Path) -> None:
    store = LocalFailureStore(tmp_path)
    assert store.write_lines(PROFILE, [], at=AT) is None
    assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="cannot name a folder"):
        store.write_lines("../elsewhere", ["x"], at=AT)
