"""The ``dataverse-emulator`` commands against a running emulator process: token, workload, restart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import orjson
from conftest import RunningEmulator, _child_environment, emulator_command, start_emulator


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*emulator_command(), *args], capture_output=True, text=True, timeout=timeout, env=_child_environment()
    )


def test_token_command_prints_a_token_the_web_api_accepts(emulator_process: RunningEmulator) -> None:
    credentials = emulator_process.credentials
    verify = credentials.ssl_context()
    for user, expected in ((None, "app"), ("admin", "admin")):
        args = ["token", "--data-dir", str(emulator_process.data_dir)] + (["--user", user] if user else [])
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip()
        who = httpx.get(f"{credentials.web_api}WhoAmI", headers={"Authorization": f"Bearer {token}"}, verify=verify)
        assert who.status_code == 200, (expected, who.text)


def test_unknown_sample_user_is_a_clear_error(emulator_process: RunningEmulator) -> None:
    result = run_cli("token", "--data-dir", str(emulator_process.data_dir), "--user", "nobody")
    assert result.returncode != 0
    assert "unknown sample user 'nobody'" in result.stderr


def test_workload_records_each_committed_change(emulator_process: RunningEmulator, tmp_path: Path) -> None:
    out = tmp_path / "changes.jsonl"
    result = run_cli(
        "workload",
        "--data-dir",
        str(emulator_process.data_dir),
        "--rate",
        "10",
        "--duration",
        "1.5",
        "--tables",
        "account",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) == 15
    assert [r["seq"] for r in records] == list(range(15))
    assert all(r["committed_at"] >= r["sent_at"] for r in records)
    credentials = emulator_process.credentials
    token = run_cli("token", "--data-dir", str(emulator_process.data_dir)).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    last_op = {r["id"]: r for r in records}
    for record_id, record in last_op.items():
        response = httpx.get(
            f"{credentials.web_api}accounts({record_id})?$select=versionnumber",
            headers=headers,
            verify=credentials.ssl_context(),
        )
        if record["op"] == "delete":
            assert response.status_code == 404
        else:
            assert response.status_code == 200 and response.json()["versionnumber"] == record["version"]


def test_workload_rejects_bad_options(emulator_process: RunningEmulator) -> None:
    result = run_cli("workload", "--data-dir", str(emulator_process.data_dir), "--mix", "1,2")
    assert result.returncode != 0 and "three non-negative weights" in result.stderr


def test_a_restart_keeps_the_organization_and_its_versions(tmp_path: Path) -> None:
    args = ["--port", "0", "--sample-org", "keep", "--scale", "2", "--seed", "4"]
    data_dir = tmp_path / "data"
    with start_emulator(data_dir, args) as first:
        token = run_cli("token", "--data-dir", str(data_dir)).stdout.strip()
        client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, verify=first.credentials.ssl_context())
        created = client.post(f"{first.credentials.web_api}accounts", json={"name": "Survives restart"})
        location = created.headers["Location"]
        version = client.get(location).json()["versionnumber"]
        client.close()
    with start_emulator(data_dir, args) as second:
        token = run_cli("token", "--data-dir", str(data_dir)).stdout.strip()
        url = location.replace(first.credentials.base_url, second.credentials.base_url)
        row = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, verify=second.credentials.ssl_context())
        assert row.status_code == 200 and row.json()["versionnumber"] == version
