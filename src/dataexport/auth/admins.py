"""Who may manage an organization: its System Administrators (des.md §3.1, DESIGN.md §7), or API-key holders.

:class:`DataverseAdminLookup` asks the organization itself (with the service's own credentials);
:class:`CachedAdminCheck` remembers its answers, yes and no alike, for a few minutes. API keys never cause a
Dataverse call: a key may manage the organizations configured for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from dataexport.auth.principal import ALL_ORGANIZATIONS, Principal, PrincipalKind
from dataexport.source.dataverse import DataverseSource

#: Cache entries kept before expired ones are swept out.
_SWEEP_ABOVE = 4096


class AdminCheck(Protocol):
    """Decides whether a caller may manage an organization's export profiles."""

    def is_system_administrator(self, organization_id: str, principal: Principal) -> bool:
        """Whether ``principal`` is an enabled System Administrator of ``organization_id`` (directly or through a
        team), or holds an API key for it. Never raises for a "no".

        Raises:
            SourceUnavailable (a TransientError) or another DataExportError: the organization could not be asked
                now; the API answers 503 ``OrganizationUnavailable``.
        """
        ...


def api_key_allows(organization_id: str, principal: Principal) -> bool:
    """Whether an API-key ``principal`` may manage ``organization_id`` (its organizations name it, or ``*``)."""
    organizations = principal.organizations or frozenset()
    return ALL_ORGANIZATIONS in organizations or organization_id.lower() in organizations


class DataverseAdminLookup:
    """Asks the organization's Dataverse: the caller's ``systemuser`` must be enabled and hold the System
    Administrator role. Uncached: wrap it in :class:`CachedAdminCheck`.

    Args:
        sources: the source of an organization id, built with the service's own credentials for it.
    """

    def __init__(self, sources: Callable[[str], DataverseSource]) -> None:
        self._sources = sources

    def is_system_administrator(self, organization_id: str, principal: Principal) -> bool:
        """See :meth:`AdminCheck.is_system_administrator`."""
        if principal.kind is PrincipalKind.API_KEY:
            return api_key_allows(organization_id, principal)
        source = self._sources(organization_id)
        if principal.kind is PrincipalKind.USER:
            access = source.system_user_roles(object_id=principal.subject)
        else:
            access = source.system_user_roles(application_id=principal.subject)
        return access is not None and access.is_system_administrator


class CachedAdminCheck:
    """Remembers each answer of ``lookup`` for ``ttl_seconds`` per (organization, caller). Thread-safe.

    Positive and negative answers are cached alike (a role granted or removed shows after at most the TTL);
    errors are not cached. API-key principals are answered directly, never cached.

    Args:
        lookup: the uncached check, e.g. ``DataverseAdminLookup(...).is_system_administrator``.
        ttl_seconds: how long an answer is reused.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        lookup: Callable[[str, Principal], bool],
        *,
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, PrincipalKind, str], tuple[bool, float]] = {}

    def is_system_administrator(self, organization_id: str, principal: Principal) -> bool:
        """See :meth:`AdminCheck.is_system_administrator`."""
        if principal.kind is PrincipalKind.API_KEY:
            return api_key_allows(organization_id, principal)
        key = (organization_id.lower(), principal.kind, principal.subject)
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        answer = self._lookup(organization_id, principal)
        self._remember(key, answer)
        return answer

    def forget(self, organization_id: str | None = None) -> None:
        """Drop the cached answers of ``organization_id`` (all organizations when ``None``)."""
        with self._lock:
            if organization_id is None:
                self._answers.clear()
                return
            for key in [key for key in self._answers if key[0] == organization_id.lower()]:
                del self._answers[key]

    def _remember(self, key: tuple[str, PrincipalKind, str], answer: bool) -> None:
        now = self._clock()
        with self._lock:
            if len(self._answers) >= _SWEEP_ABOVE:
                self._answers = {k: v for k, v in self._answers.items() if v[1] > now}
            self._answers[key] = (answer, now + self._ttl)
