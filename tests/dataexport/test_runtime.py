"""The composition root of ``serve`` without a running organization: what it builds from a configuration, the
retention purge, the default token issuers, and the errors it gives for secrets it cannot read."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataexport.blobs.local import LocalFailureFiles
from dataexport.config.loading import build_service_config
from dataexport.errors import DataExportError
from dataexport.runtime import build_runtime, default_issuers, public_base_url, purge_retention

TENANT = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
CLIENT = "11111111-2222-3333-4444-555555555555"
PROFILE = "b7d4c3a2-0000-4000-8000-000000000001"


def document(**top: object) -> dict[str, object]:
    organization = {"url": "https://contoso.crm.dynamics.com", "tenant_id": TENANT, "client_id": CLIENT}
    return {"organizations": {"contoso": {**organization, "client_secret": "env:CONTOSO_SECRET"}}, **top}


def test_the_local_failure_store_is_built_with_a_private_signing_key_and_purged_by_age(tmp_path: Path) -> None:
    config = build_service_config(document(port=9000), base_dir=tmp_path)
    runtime = build_runtime(config, environ={})
    try:
        assert isinstance(runtime.failure_files, LocalFailureFiles)
        key = tmp_path / "var" / "url-signing.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        old = datetime(2024, 1, 1, 8, tzinfo=UTC)
        kept = runtime.failure_files.write_lines(PROFILE, ["recent"], at=old + timedelta(days=29))
        runtime.failure_files.write_lines(PROFILE, ["old"], at=old)

        assert purge_retention(runtime.store, runtime.failure_files, old + timedelta(days=30, hours=2), 30) == 1
        assert [stored.path for stored in runtime.failure_files.list_files(PROFILE)] == [kept]
        link = runtime.failure_files.share(PROFILE, now=old, ttl=timedelta(hours=24))
        assert link.url.startswith(f"{public_base_url(config)}/crm/exporter/failurestore/{PROFILE}?")
    finally:
        runtime.close()


def test_default_issuers_are_both_entra_forms_of_each_tenant(tmp_path: Path) -> None:
    public = build_service_config(document(), base_dir=tmp_path)
    assert default_issuers(public) == (
        f"https://sts.windows.net/{TENANT}/",
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
    )
    custom = document()
    custom["organizations"]["contoso"]["authority"] = "https://localhost:8443"  # type: ignore[index]
    assert default_issuers(build_service_config(custom, base_dir=tmp_path)) == (
        f"https://localhost:8443/{TENANT}/",
        f"https://localhost:8443/{TENANT}/v2.0",
    )
    listed = build_service_config(document(auth={"issuers": ["https://issuer.example/"]}), base_dir=tmp_path)
    assert default_issuers(listed) == ("https://issuer.example/",)


def test_an_api_key_that_cannot_be_read_stops_the_start_naming_the_reference(tmp_path: Path) -> None:
    auth = {"mode": "apikey", "api_keys": [{"key": "env:AUTOMATION_KEY", "organizations": ["*"]}]}
    config = build_service_config(document(auth=auth), base_dir=tmp_path)
    with pytest.raises(DataExportError, match="AUTOMATION_KEY"):
        build_runtime(config, environ={})
    runtime = build_runtime(config, environ={"AUTOMATION_KEY": "k" * 40})
    try:
        assert runtime.context.challenge is None
        assert runtime.context.authenticate("k" * 40).organizations == frozenset({"*"})
    finally:
        runtime.close()
