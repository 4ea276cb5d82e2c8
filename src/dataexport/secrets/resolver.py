"""One :class:`SecretStore` for the three reference forms (DES §1.7), and the Key Vault tag rule (§5 check 6).

``env:`` and ``file:`` references go to :class:`LocalSecretStore`; Key Vault URLs go to a vault store that is
built on the first Key Vault reference, so a machine without a vault never loads the Azure SDK or asks
for a token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from dataexport.domain.secret_refs import SecretReference, SecretReferenceKind
from dataexport.secrets.base import SecretStore
from dataexport.secrets.local import LocalSecretStore

if TYPE_CHECKING:
    from dataexport.config.service import KeyVaultConfig, ServiceConfig


class VaultStore(Protocol):
    """What the resolver needs of a vault store (:class:`dataexport.secrets.keyvault.KeyVaultSecretStore`)."""

    def resolve(self, reference: SecretReference) -> str:
        """The secret's latest value; raises an error naming the reference, never the value."""
        ...

    def read_tags(self, reference: SecretReference) -> Mapping[str, str]:
        """The secret's tags (empty when it has none); raises like :meth:`resolve`."""
        ...


class SecretResolver:
    """Resolves ``env:``, ``file:`` and Key Vault references. Thread-safe.

    Args:
        local: the env:/file: store.
        vault_factory: builds the vault store on first use; None when no vault can be used, in which case
            a Key Vault reference fails the way ``local`` fails it.
    """

    def __init__(self, local: SecretStore, vault_factory: Callable[[], VaultStore] | None = None) -> None:
        self._local = local
        self._vault_factory = vault_factory
        self._vault: VaultStore | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ServiceConfig, environ: Mapping[str, str] | None = None) -> SecretResolver:
        """The service's resolver: ``file:`` paths relative to ``config.base_dir``, ``config.key_vault``'s vault."""
        local = LocalSecretStore(config.base_dir, environ)
        return cls(local, lambda: _vault_store(config.key_vault, local))

    def resolve(self, reference: SecretReference) -> str:
        """The secret's current value (read at every call).

        Raises:
            SecretUnavailable: the secret cannot be read now (unset variable, missing file, vault unreachable).
            SecretNotFound, SecretAccessDenied: a Key Vault refused for good (see ``secrets.keyvault``).
        """
        if reference.kind is SecretReferenceKind.KEY_VAULT and self._vault_factory is not None:
            return self._vault_store().resolve(reference)
        return self._local.resolve(reference)

    def read_tags(self, reference: SecretReference) -> Mapping[str, str] | None:
        """The Key Vault secret's tags; None for ``env:`` and ``file:`` references, which have none.

        Raises:
            like :meth:`resolve`.
        """
        if reference.kind is not SecretReferenceKind.KEY_VAULT:
            return None
        if self._vault_factory is None:
            self._local.resolve(reference)  # raises: no vault is configured
        return self._vault_store().read_tags(reference)

    def _vault_store(self) -> VaultStore:
        with self._lock:
            if self._vault is None:
                assert self._vault_factory is not None
                self._vault = self._vault_factory()  # a failure (unset client secret) is retried next call
            return self._vault


def _vault_store(config: KeyVaultConfig, local: SecretStore) -> VaultStore:
    from dataexport.secrets.keyvault import build_vault_store  # loads the Azure SDK only now

    return build_vault_store(config, local)


def tag_check_problem(
    tags: Mapping[str, str] | None, organization_id: str, tenant_id: str, secret_name: str
) -> str | None:
    """Why the Key Vault tag rule (DES §5 check 6) fails, or None when it holds.

    The secret needs a tag whose name is the organization id and whose value is the tenant id; GUIDs are
    compared case-insensitively. ``tags`` None (a secret without tags) fails like an empty mapping.
    """
    wanted = organization_id.strip().lower()
    value = next((v for k, v in (tags or {}).items() if k.strip().lower() == wanted), None)
    if value is None:
        return f"Secret '{secret_name}' has no tag named '{organization_id}'."
    if value.strip().lower() != tenant_id.strip().lower():
        return (
            f"Secret '{secret_name}' tag '{organization_id}' has value '{value}', expected the tenant id '{tenant_id}'."
        )
    return None
