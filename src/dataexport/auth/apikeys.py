"""Static API keys (des.md §3.1 ``apikey`` mode): an exception to the System Administrator rule that an
administrator configures explicitly. Whoever holds a key manages the organizations bound to it.

Keys are compared in constant time (by SHA-256 digest, against every configured key), and a key's value is
never kept in a :class:`~dataexport.auth.principal.Principal`, an error or a ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from dataexport.auth.principal import Principal, PrincipalKind
from dataexport.auth.tokens import InvalidToken


@dataclass(frozen=True)
class _Key:
    name: str
    digest: bytes
    organizations: frozenset[str]

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, organizations={sorted(self.organizations)!r})"


class ApiKeyAuthenticator:
    """Recognizes the configured keys presented as ``Authorization: Bearer <key>``.

    Args:
        keys: ``(name, value, organization ids)``; ``"*"`` among the ids means every organization.

    Raises:
        ValueError: a name or value is empty, a name is used twice, or a key names no organization. The
            message names the key, never its value.
    """

    def __init__(self, keys: Sequence[tuple[str, str, frozenset[str]]]) -> None:
        self._keys = tuple(_parse_key(name, value, organizations) for name, value, organizations in keys)
        names = [key.name for key in self._keys]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"API key names must be unique: {', '.join(duplicates)} is configured more than once")

    def authenticate(self, presented: str) -> Principal:
        """The key holder's principal.

        Raises:
            InvalidToken: ``missing`` for an empty value, ``unknown key`` for a value no key has.
        """
        if not presented or not presented.strip():
            raise InvalidToken("missing")
        digest = _digest(presented.strip())
        found: _Key | None = None
        for key in self._keys:  # no early exit: every key is compared, whichever matches
            if hmac.compare_digest(key.digest, digest):
                found = key
        if found is None:
            raise InvalidToken("unknown key")
        return Principal(PrincipalKind.API_KEY, found.name, organizations=found.organizations)

    def __repr__(self) -> str:
        return f"ApiKeyAuthenticator(keys={[key.name for key in self._keys]!r})"


def _parse_key(name: str, value: str, organizations: frozenset[str]) -> _Key:
    if not name.strip():
        raise ValueError("an API key has an empty name: give every key a name")
    if not value.strip():
        raise ValueError(f"API key '{name}' has an empty value: set a long random value")
    if not organizations:
        raise ValueError(f"API key '{name}' names no organization: list organization ids, or '*' for all")
    return _Key(name.strip(), _digest(value.strip()), frozenset(org.strip().lower() for org in organizations))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
