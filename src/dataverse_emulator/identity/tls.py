"""The emulator's private certificate authority and its HTTPS server certificate (spec §1.7).

Layout in ``data_dir``::

    ca.pem            CA certificate (share it: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, httpx verify=)
    ca-key.pem        CA private key, mode 0600
    server.pem        server certificate signed by the CA
    server-key.pem    server private key, mode 0600

The CA is created once and kept, so clients trust it across restarts; only the server certificate is
reissued, when a requested host is missing from its SANs or it is no longer valid. A CA supplied without
its key (``ca.pem`` only) is used as is while its server certificate fits; reissuing then fails clearly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dataverse_emulator.identity.private_files import write_private, write_public

ALWAYS_HOSTS = ("localhost", "127.0.0.1", "::1")
CA_VALIDITY = timedelta(days=3650)
# 825 days is the longest lifetime every mainstream TLS client still accepts for a server certificate.
SERVER_VALIDITY = timedelta(days=825)
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(hours=1)
_DNS_NAME = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")

# The emulator creates EC P-256 keys; an RSA CA supplied by the user is accepted too.
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class TlsSetupError(Exception):
    """The certificates in ``data_dir`` cannot be used or renewed; the message says what to do."""


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files a TLS server and its clients need."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


@dataclass(frozen=True)
class _Authority:
    certificate: x509.Certificate
    key: PrivateKey | None


def ensure_certificates(data_dir: Path, hosts: Sequence[str] = ()) -> TlsFiles:
    """Create or reuse the CA and a server certificate covering ``localhost``, ``127.0.0.1``, ``::1``
    and ``hosts``.

    Idempotent: a second call with the same or fewer hosts touches nothing. A missing host, an expired
    or soon-expiring server certificate, or one not issued by the current CA triggers a new server
    certificate (and key) whose SANs are the union of the old SANs and the requested ones.

    Args:
        data_dir: directory for the four PEM files; created if missing.
        hosts: extra DNS names (``*.example.test`` allowed) or IP addresses, without ports.

    Raises:
        ValueError: a host is not a DNS name or IP address.
        TlsSetupError: the server certificate must be reissued but the CA key is not available.
    """
    wanted = san_entries([*ALWAYS_HOSTS, *hosts])
    data_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server-key.pem")
    authority = _load_or_create_authority(files.ca_pem, data_dir / "ca-key.pem")
    current = _load_certificate(files.cert_pem)
    if reissue_reason(current, _load_key(files.key_pem), authority.certificate, wanted, _now()) is None:
        return files
    if authority.key is None:
        raise TlsSetupError(
            f"the server certificate in {data_dir} must be reissued but ca-key.pem is missing: "
            "add the CA key, or remove ca.pem to let the emulator create a new CA"
        )
    names = wanted | (subject_alt_names(current) if current is not None else frozenset())
    certificate, key = _issue_server_certificate(authority.certificate, authority.key, names)
    write_private(files.key_pem, _key_pem(key))
    write_public(files.cert_pem, certificate.public_bytes(serialization.Encoding.PEM))
    return files


def san_entries(hosts: Iterable[str]) -> frozenset[x509.GeneralName]:
    """SubjectAltName entries for ``hosts``: IP addresses as ``IPAddress``, the rest as ``DNSName``.

    Raises:
        ValueError: a host carries a port or a scheme, or is not a valid DNS name.
    """
    return frozenset(_san_entry(host) for host in hosts)


def _san_entry(host: str) -> x509.GeneralName:
    text = host.strip().removeprefix("[").removesuffix("]")
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not _DNS_NAME.fullmatch(name):
        raise ValueError(f"host {host!r} is not a DNS name or IP address (give it without scheme or port)")
    return x509.DNSName(name)


def subject_alt_names(certificate: x509.Certificate) -> frozenset[x509.GeneralName]:
    """The SubjectAltName entries of ``certificate`` (empty when it has none)."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(extension.value)


def reissue_reason(
    certificate: x509.Certificate | None,
    key: PrivateKey | None,
    authority: x509.Certificate,
    wanted: frozenset[x509.GeneralName],
    now: datetime,
) -> str | None:
    """Why the server certificate must be reissued, or ``None`` when it can be kept."""
    if certificate is None or key is None:
        return "no server certificate yet"
    if certificate.public_key() != key.public_key():
        return "server key does not match the certificate"
    if not _is_issued_by(certificate, authority):
        return "server certificate was not issued by the current CA"
    if certificate.not_valid_after_utc - RENEW_BEFORE < now:
        return "server certificate expires soon"
    missing = wanted - subject_alt_names(certificate)
    if missing:
        return f"hosts missing from the certificate: {sorted(str(name.value) for name in missing)}"
    return None


def _is_issued_by(certificate: x509.Certificate, authority: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load_or_create_authority(cert_path: Path, key_path: Path) -> _Authority:
    existing = _load_certificate(cert_path)
    if existing is not None:
        return _Authority(existing, _load_key(key_path))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _build_ca_certificate(key)
    write_private(key_path, _key_pem(key))
    write_public(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return _Authority(certificate, key)


def _build_ca_certificate(key: PrivateKey) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Dataverse Emulator Local CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "dataverse-emulator"),
        ]
    )
    now = _now()
    skid = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(skid, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(skid), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue_server_certificate(
    authority: x509.Certificate, authority_key: PrivateKey, names: frozenset[x509.GeneralName]
) -> tuple[x509.Certificate, PrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    authority_skid = authority.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_VALIDITY, authority.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_ordered(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_skid), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    return certificate, key


def _ordered(names: frozenset[x509.GeneralName]) -> list[x509.GeneralName]:
    """DNS names first, then IPs, each sorted, so certificates list SANs in a stable, readable order."""
    return sorted(names, key=lambda name: (isinstance(name, x509.IPAddress), str(name.value)))


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _load_certificate(path: Path) -> x509.Certificate | None:
    if not path.exists():
        return None
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as error:
        raise TlsSetupError(f"{path} is not a PEM certificate: replace or remove it") from error


def _load_key(path: Path) -> PrivateKey | None:
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise TlsSetupError(f"{path} is not an unencrypted PEM private key: replace or remove it") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TlsSetupError(f"{path} holds a {type(key).__name__}: use an RSA or EC key")
    return key


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime:
    # TLS validity is checked by clients against real time, so this deliberately ignores the emulator Clock.
    return datetime.now(UTC)
