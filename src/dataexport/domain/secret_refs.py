"""Secret references (DES §1.7): a Key Vault secret URL, ``env:NAME`` or ``file:PATH``.

Only references are ever stored or passed around; the secret store resolves them when a connection is made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

DEFAULT_HOST_SUFFIXES = (".vault.azure.net",)

FORMAT_MESSAGE = (
    "KeyVaultUri must be a Key Vault secret URL (https://<vault>.vault.azure.net/secrets/<name>/) "
    "or an env: or file: reference."
)
VERSION_MESSAGE = "KeyVaultUri must not include a secret version."

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")


class SecretReferenceKind(StrEnum):
    """The three reference forms."""

    KEY_VAULT = "key_vault"
    ENV = "env"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class SecretReference:
    """A parsed reference: ``target`` is the vault secret URL, the variable name, or the file path."""

    kind: SecretReferenceKind
    target: str
    text: str

    @property
    def secret_name(self) -> str | None:
        """The Key Vault secret name (``reporting-sql``), for Key Vault references only."""
        if self.kind is not SecretReferenceKind.KEY_VAULT:
            return None
        return _vault_segments(self.target)[1]


def secret_reference_problem(text: str, host_suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES) -> str | None:
    """The §2.3 message when ``text`` is not a valid reference, else None."""
    if text.startswith("env:"):
        return None if _ENV_NAME.match(text[4:]) else FORMAT_MESSAGE
    if text.startswith("file:"):
        return None if text[5:].strip() else FORMAT_MESSAGE
    return _vault_problem(text, host_suffixes)


def parse_secret_reference(text: str, host_suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES) -> SecretReference:
    """Parse a reference.

    Raises:
        ValueError: ``text`` is not a valid reference (the message is the §2.3 one).
    """
    problem = secret_reference_problem(text, host_suffixes)
    if problem is not None:
        raise ValueError(problem)
    if text.startswith("env:"):
        return SecretReference(SecretReferenceKind.ENV, text[4:], text)
    if text.startswith("file:"):
        return SecretReference(SecretReferenceKind.FILE, text[5:].strip(), text)
    return SecretReference(SecretReferenceKind.KEY_VAULT, text, text)


def host_matches(host: str, host_suffixes: tuple[str, ...]) -> bool:
    """A suffix starting with ``.`` matches hosts ending with it; any other suffix matches exactly."""
    host = host.lower()
    return any(
        host.endswith(suffix.lower()) if suffix.startswith(".") else host == suffix.lower() for suffix in host_suffixes
    )


def _vault_segments(url: str) -> list[str]:
    path = urlsplit(url).path
    return [segment for segment in path.split("/") if segment]


def _vault_problem(text: str, host_suffixes: tuple[str, ...]) -> str | None:
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return FORMAT_MESSAGE
    if parts.scheme != "https" or not host_matches(host, host_suffixes) or parts.query or parts.fragment:
        return FORMAT_MESSAGE
    segments = _vault_segments(text)
    if len(segments) < 2 or segments[0] != "secrets" or not _SECRET_NAME.match(segments[1]):
        return FORMAT_MESSAGE
    return VERSION_MESSAGE if len(segments) > 2 else None
