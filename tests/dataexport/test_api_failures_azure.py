"""``GET profiles/{id}/failures`` with the Azure Blob failure store (DES §8.6), on Azurite: the service, configured
with ``failure_store.backend = "azure_blob"``, hands out a read+list SAS URL to the profile's own container, the
engine's failure files land there, and deleting the profile removes the container."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from test_api_support import PROFILES, emulator_process, service_env

from dataexport.cli.demo import write_secret
from dataexport.cli.emulator_process import EmulatorInfo
from support.azurite import run_azurite

LINE = "2024-05-02T08:00:00Z,account,11111111-1111-1111-1111-111111111111,Upsert,RecordRejected,too long"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    with emulator_process(tmp_path_factory.mktemp("failures-azure")) as info:
        yield info


def test_failures_link_is_a_sas_url_to_the_profiles_own_container(emulator: EmulatorInfo, tmp_path: Path) -> None:
    (tmp_path / "azurite").mkdir()
    with run_azurite(tmp_path / "azurite") as connection_string:
        write_secret(tmp_path / "service" / "secrets" / "blob", connection_string)
        extra = '[failure_store]\nbackend = "azure_blob"\nconnection_string = "file:secrets/blob"\n'
        account_key = re.search(r"AccountKey=([^;]+)", connection_string)
        assert account_key is not None
        with service_env(tmp_path / "service", emulator, extra=extra, secrets=(account_key.group(1),)) as env:
            env.accept_terms()
            profile = env.create_profile()
            written = env.runtime.failure_files.write_lines(profile["Id"], [LINE], at=datetime(2024, 5, 2, tzinfo=UTC))
            assert written is not None

            link = env.call("GET", f"{PROFILES}/{profile['Id']}/failures").json()
            parts = urlsplit(link["FailuresBlobUri"])
            assert parts.path.endswith(f"/failures-{profile['Id']}")
            assert "sig=" in parts.query and "AccountKey" not in link["FailuresBlobUri"]
            base = f"{parts.scheme}://{parts.netloc}{parts.path}"
            with httpx.Client(timeout=30) as http:
                listing = http.get(f"{base}?restype=container&comp=list&{parts.query}")
                assert listing.status_code == 200 and f"<Name>{written}</Name>" in listing.text
                assert http.get(f"{base}/{written}?{parts.query}").text == f"{LINE}\n"

                assert env.call("DELETE", f"{PROFILES}/{profile['Id']}").status_code == 204
                assert http.get(f"{base}/{written}?{parts.query}").status_code == 404
