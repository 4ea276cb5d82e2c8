"""The private CA and server certificate: created once, reused, reissued for new hosts, trusted by clients."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from test_identity_support import serve_https

from dataverse_emulator.identity.tls import (
    TlsFiles,
    TlsSetupError,
    ensure_certificates,
    reissue_reason,
    san_entries,
    subject_alt_names,
)


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(path: Path) -> set[str]:
    return {str(name.value) for name in subject_alt_names(_certificate(path))}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_call_creates_ca_and_server_certificate_with_loopback_names(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls")

    assert files == TlsFiles(tmp_path / "tls/ca.pem", tmp_path / "tls/server.pem", tmp_path / "tls/server-key.pem")
    assert _sans(files.cert_pem) == {"localhost", "127.0.0.1", "::1"}
    assert _mode(tmp_path / "tls/ca-key.pem") == 0o600
    assert _mode(files.key_pem) == 0o600


def test_ca_is_a_ten_year_signing_authority(tmp_path: Path) -> None:
    ca = _certificate(ensure_certificates(tmp_path).ca_pem)

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical and constraints.value.ca
    assert usage.key_cert_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= timedelta(days=3650)


def test_server_certificate_is_a_server_leaf_linked_to_the_ca(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path)
    ca, leaf = _certificate(files.ca_pem), _certificate(files.cert_pem)

    leaf.verify_directly_issued_by(ca)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    ca_skid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    akid = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert akid == ca_skid
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_second_call_reuses_everything(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path, ["emulator.test"])
    before = {path: path.read_bytes() for path in (first.ca_pem, first.cert_pem, first.key_pem)}

    second = ensure_certificates(tmp_path, ["EMULATOR.test"])

    assert second == first
    assert {path: path.read_bytes() for path in before} == before


def test_new_host_reissues_only_the_server_certificate_and_keeps_old_names(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path, ["one.test"])
    ca_before, leaf_before = files.ca_pem.read_bytes(), files.cert_pem.read_bytes()

    ensure_certificates(tmp_path, ["two.test", "10.1.2.3", "[fd00::1]"])

    assert files.ca_pem.read_bytes() == ca_before
    assert files.cert_pem.read_bytes() != leaf_before
    assert _sans(files.cert_pem) == {
        "localhost",
        "127.0.0.1",
        "::1",
        "one.test",
        "two.test",
        "10.1.2.3",
        "fd00::1",
    }


def test_server_certificate_from_another_ca_is_replaced(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "a")
    other = ensure_certificates(tmp_path / "b")
    files.cert_pem.write_bytes(other.cert_pem.read_bytes())
    files.key_pem.write_bytes(other.key_pem.read_bytes())

    ensure_certificates(tmp_path / "a")

    _certificate(files.cert_pem).verify_directly_issued_by(_certificate(files.ca_pem))


def test_supplied_ca_without_key_cannot_reissue(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    (tmp_path / "ca-key.pem").unlink()

    ensure_certificates(tmp_path)  # nothing to reissue: fine
    with pytest.raises(TlsSetupError, match=r"ca-key\.pem is missing"):
        ensure_certificates(tmp_path, ["new.test"])


@pytest.mark.parametrize("host", ["localhost:8443", "https://localhost", "bad host", ""])
def test_hosts_with_ports_or_schemes_are_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ValueError, match="not a DNS name or IP address"):
        ensure_certificates(tmp_path, [host])


def test_reissue_reason_flags_expiring_certificate(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path)
    key = load_pem_private_key(files.key_pem.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    leaf, ca = _certificate(files.cert_pem), _certificate(files.ca_pem)
    wanted = san_entries(["localhost"])

    assert reissue_reason(leaf, key, ca, wanted, datetime.now(UTC)) is None
    later = leaf.not_valid_after_utc - timedelta(days=1)
    assert reissue_reason(leaf, key, ca, wanted, later) == "server certificate expires soon"
    assert "missing" in str(reissue_reason(leaf, key, ca, san_entries(["new.test"]), datetime.now(UTC)))


def test_bracketed_ipv6_is_an_ip_entry() -> None:
    assert san_entries(["[::1]"]) == {x509.IPAddress(ipaddress.ip_address("::1"))}


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture(scope="module")
def https_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, TlsFiles]]:
    files = ensure_certificates(tmp_path_factory.mktemp("tls"))
    app = Starlette(routes=[Route("/", _hello)])
    with serve_https(app, files) as port:
        yield port, files


def test_httpx_trusts_the_server_through_the_ca(https_port: tuple[int, TlsFiles]) -> None:
    port, files = https_port
    for host in ("127.0.0.1", "localhost"):
        context = ssl.create_default_context(cafile=str(files.ca_pem))
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        response = httpx.get(f"https://{host}:{port}/", verify=context)
        assert response.text == "hello"


def test_httpx_without_the_ca_refuses_the_server(https_port: tuple[int, TlsFiles]) -> None:
    port, _ = https_port
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://127.0.0.1:{port}/", verify=ssl.create_default_context())


def test_requests_trusts_the_server_through_requests_ca_bundle(
    https_port: tuple[int, TlsFiles], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, files = https_port
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(files.ca_pem))

    assert requests.get(f"https://localhost:{port}/", timeout=10).text == "hello"
