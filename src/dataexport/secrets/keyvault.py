"""Azure Key Vault secret references (DES §1.7): ``https://<vault>.vault.azure.net/secrets/<name>/``.

:class:`KeyVaultSecretStore` reads the latest version of a secret with the Key Vault SDK, one ``SecretClient``
per vault. A reference whose host is not in ``key_vault.host_suffixes`` is refused before any request, so the
service identity's token only goes to accepted vaults. SDK errors become the product's families:

====================================================  =========================================
not found                                             :class:`SecretNotFound` (terminal)
401/403, no token for the identity, host refused      :class:`SecretAccessDenied` (terminal)
other 4xx                                             :class:`TerminalError`
network, timeout, 429, 5xx, identity provider down    :class:`SecretUnavailable` (transient)
====================================================  =========================================

Messages name the reference, never a value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.keyvault.secrets import SecretClient
from pydantic import SecretStr

from dataexport.config.service import KeyVaultConfig
from dataexport.domain.secret_refs import (
    DEFAULT_HOST_SUFFIXES,
    SecretReference,
    SecretReferenceKind,
    host_matches,
    parse_secret_reference,
)
from dataexport.errors import (
    DataExportError,
    SecretAccessDenied,
    SecretNotFound,
    SecretUnavailable,
    TerminalError,
)
from dataexport.secrets.base import SecretStore


@dataclass(frozen=True, slots=True)
class VaultSecret:
    """A secret's latest value (hidden from ``repr``) and its tags."""

    value: SecretStr
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class KeyVaultSecretStore:
    """Reads Key Vault secrets as the service identity. Thread-safe; clients are cached per vault URL.

    Args:
        credential: the service identity (see :func:`build_vault_credential`).
        host_suffixes: accepted vault hosts (§1.7): ``.suffix`` matches hosts ending with it, anything else
            that host exactly. The challenge's resource is verified for suffix matches only; a host listed
            exactly (the emulator's) is trusted as configured.
        connection_verify: a CA bundle path, or True for the system trust store.
        timeout: seconds to connect and, separately, to read a response.
        retry_total: SDK retries of network errors and 5xx answers before :class:`SecretUnavailable`.
    """

    def __init__(
        self,
        credential: TokenCredential,
        host_suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES,
        *,
        connection_verify: str | bool = True,
        timeout: float = 30.0,
        retry_total: int = 3,
    ) -> None:
        self._credential = credential
        self.host_suffixes = host_suffixes
        self._verify = connection_verify
        self._timeout = timeout
        self._retry_total = retry_total
        self._clients: dict[str, SecretClient] = {}
        self._lock = threading.Lock()

    def resolve(self, reference: SecretReference) -> str:
        """The secret's latest value, read now (rotations apply at the next call).

        Raises:
            ValueError: ``reference`` is not a Key Vault reference (route env:/file: elsewhere).
            SecretNotFound, SecretAccessDenied, TerminalError: the vault refused for good; see the module table.
            SecretUnavailable: the vault or the identity provider cannot be reached now.
        """
        return self.read(reference).value.get_secret_value()

    def read(self, reference: SecretReference) -> VaultSecret:
        """The secret's latest value and tags; raises like :meth:`resolve`."""
        vault_url, name = self._locate(reference)
        try:
            secret = self._client(vault_url).get_secret(name)
        except AzureError as error:
            raise classify_vault_error(error, reference) from None
        if secret.value is None:
            raise SecretNotFound(f"Key Vault secret '{reference.text}' has no value: set one")
        return VaultSecret(SecretStr(secret.value), MappingProxyType(dict(secret.properties.tags or {})))

    def read_tags(self, reference: SecretReference) -> Mapping[str, str]:
        """The secret's tags (empty when it has none); raises like :meth:`resolve`."""
        return self.read(reference).tags

    def close(self) -> None:
        """Close every cached client (their connection pools)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _locate(self, reference: SecretReference) -> tuple[str, str]:
        if reference.kind is not SecretReferenceKind.KEY_VAULT or reference.secret_name is None:
            raise ValueError(f"secret reference '{reference.text}' is not a Key Vault secret URL")
        parts = urlsplit(reference.target)
        if not host_matches(parts.hostname or "", self.host_suffixes):
            raise SecretAccessDenied(
                f"Key Vault secret '{reference.text}' is on host '{parts.hostname}', which is not in "
                f"key_vault.host_suffixes {list(self.host_suffixes)}: fix the reference or add the host"
            )
        return f"https://{parts.netloc}/", reference.secret_name

    def _client(self, vault_url: str) -> SecretClient:
        with self._lock:
            client = self._clients.get(vault_url)
            if client is None:
                client = self._clients[vault_url] = SecretClient(
                    vault_url,
                    self._credential,
                    verify_challenge_resource=self._is_suffix_match(vault_url),
                    connection_verify=self._verify,
                    connection_timeout=self._timeout,
                    read_timeout=self._timeout,
                    retry_total=self._retry_total,
                )
            return client

    def _is_suffix_match(self, vault_url: str) -> bool:
        host = (urlsplit(vault_url).hostname or "").lower()
        return host_matches(host, tuple(suffix for suffix in self.host_suffixes if suffix.startswith(".")))


def classify_vault_error(error: AzureError, reference: SecretReference) -> DataExportError:
    """The product error for an SDK error while reading ``reference`` (the module table)."""
    subject = f"Key Vault secret '{reference.text}'"
    if isinstance(error, ResourceNotFoundError):
        return SecretNotFound(f"{subject} does not exist: create it in the vault, or fix the reference")
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        if _caused_by_network(error):
            return SecretUnavailable(f"{subject}: the identity provider cannot be reached now; it is retried later")
        return SecretAccessDenied(
            f"{subject}: the service identity cannot get a Key Vault token; check key_vault.tenant_id, "
            "key_vault.client_id and key_vault.client_secret (or the environment's Azure identity)"
        )
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        return _classify_status(error.status_code, _error_code(error), subject)
    return SecretUnavailable(f"{subject}: the vault cannot be reached ({type(error).__name__}); it is retried later")


def _classify_status(status: int, code: str | None, subject: str) -> DataExportError:
    answer = f"HTTP {status}" + (f" {code}" if code else "")
    if status in (401, 403):
        return SecretAccessDenied(
            f"{subject}: the vault refused the service identity ({answer}); grant it Get permission on secrets"
        )
    if status == 429 or status >= 500:
        return SecretUnavailable(f"{subject}: the vault answered {answer}; it is retried later")
    return TerminalError(f"{subject}: the vault refused the request ({answer}); check the reference")


def _error_code(error: HttpResponseError) -> str | None:
    code = getattr(error.error, "code", None)
    return code if isinstance(code, str) else None


def _caused_by_network(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ServiceRequestError | ServiceResponseError | OSError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def build_vault_credential(config: KeyVaultConfig, local: SecretStore) -> TokenCredential:
    """The service identity: a client secret credential when ``config.client_id`` is set, else
    ``DefaultAzureCredential`` (managed identity, workload identity, environment, Azure CLI).

    Raises:
        SecretUnavailable: ``config.client_secret`` (an env: or file: reference) cannot be read now.
    """
    from azure.identity import AzureAuthorityHosts, ClientSecretCredential, DefaultAzureCredential

    transport: dict[str, str] = {"connection_verify": str(config.ca_file)} if config.ca_file else {}
    clouds = (
        AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
        AzureAuthorityHosts.AZURE_CHINA,
        AzureAuthorityHosts.AZURE_GOVERNMENT,
    )
    microsoft = urlsplit(config.authority).hostname in clouds
    if config.client_id is None:
        return DefaultAzureCredential(authority=config.authority, **transport)
    assert config.tenant_id is not None and config.client_secret is not None, "KeyVaultConfig checks both"
    secret = local.resolve(parse_secret_reference(config.client_secret))
    return ClientSecretCredential(
        config.tenant_id,
        config.client_id,
        secret,
        authority=config.authority,
        disable_instance_discovery=not microsoft,
        **transport,
    )


def build_vault_store(config: KeyVaultConfig, local: SecretStore) -> KeyVaultSecretStore:
    """A store for ``config``: its identity, host suffixes and CA file."""
    ca_file: Path | None = config.ca_file
    return KeyVaultSecretStore(
        build_vault_credential(config, local),
        config.host_suffixes,
        connection_verify=str(ca_file) if ca_file else True,
    )
