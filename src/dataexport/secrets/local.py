"""``env:NAME`` and ``file:PATH`` secret references (DES §1.7, our choice)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dataexport.domain.secret_refs import SecretReference, SecretReferenceKind
from dataexport.errors import SecretUnavailable


class LocalSecretStore:
    """Reads environment variables and files; relative file paths resolve against ``base_dir``.

    A Key Vault reference is refused with a clear error: the Key Vault store is configured separately.
    """

    def __init__(self, base_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.base_dir = base_dir
        self._environ = environ if environ is not None else os.environ

    def resolve(self, reference: SecretReference) -> str:
        if reference.kind is SecretReferenceKind.ENV:
            value = self._environ.get(reference.target)
            if value is None or not value.strip():
                raise SecretUnavailable(
                    f"secret reference '{reference.text}': environment variable {reference.target} is not set; "
                    "export it before starting"
                )
            return value.strip()
        if reference.kind is SecretReferenceKind.FILE:
            path = Path(reference.target)
            path = path if path.is_absolute() else self.base_dir / path
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise SecretUnavailable(
                    f"secret reference '{reference.text}': cannot read {path} ({error.strerror}); "
                    "create the file (mode 0600) with the secret as its only content"
                ) from error
            if not value:
                raise SecretUnavailable(f"secret reference '{reference.text}': {path} is empty")
            return value
        raise SecretUnavailable(
            f"secret reference '{reference.text}' is a Key Vault secret, but no Key Vault is configured for this "
            "command; use an env: or file: reference"
        )
