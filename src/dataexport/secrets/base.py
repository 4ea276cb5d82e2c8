"""The ``SecretStore`` Protocol.

Secret values are read only when a connection is about to be made, are never stored, logged or
returned, and never appear in exception messages: errors name the reference, not its value.
"""

from __future__ import annotations

from typing import Protocol

from dataexport.domain.secret_refs import SecretReference


class SecretStore(Protocol):
    """Resolves secret references to their values."""

    def resolve(self, reference: SecretReference) -> str:
        """The secret's current value (read at every call, so rotations apply at the next connection).

        Raises:
            SecretUnavailable: the secret cannot be read now (missing variable or file, vault down);
                the message names the reference and what to do, never a value.
        """
        ...
