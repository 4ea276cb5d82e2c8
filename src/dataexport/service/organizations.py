"""Organizations the service manages (DES §1.1): declared in the configuration, registered at first contact.

Registration reads ``RetrieveCurrentOrganization`` with the organization's own credentials and stores its id,
names and region (never a secret). One :class:`DataverseSource` per organization serves the API's own calls
(metadata, the System Administrator check); the scheduler builds its own per profile run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from pydantic import SecretStr

from dataexport.config.service import OrganizationConfig, ServiceConfig
from dataexport.domain.profile_rules import is_guid
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.errors import DataExportError
from dataexport.secrets.base import SecretStore
from dataexport.service.problems import Problem, ProblemKind, organization_not_found, organization_unavailable
from dataexport.source.dataverse import ClientCredentials, DataverseSource, SourceConfig
from dataexport.store.organizations import SqlOrganizations, normalize_url
from dataexport.store.values import Organization

log = logging.getLogger(__name__)

SourceFactory = Callable[[OrganizationConfig], DataverseSource]


def source_config(organization: OrganizationConfig, secrets: SecretStore) -> SourceConfig:
    """The Web API connection of a configured organization; its client secret is resolved now."""
    secret = secrets.resolve(parse_secret_reference(organization.client_secret))
    auth = ClientCredentials(
        tenant_id=organization.tenant_id,
        client_id=organization.client_id,
        client_secret=SecretStr(secret),
        authority_host=organization.authority,
    )
    return SourceConfig(org_url=organization.url, auth=auth, ca_file=organization.ca_file)


class OrganizationDirectory:
    """Configured organizations, their registration in the control database, and one API source each.

    Thread-safe. An organization that cannot be reached at startup is registered at the next lookup.
    """

    def __init__(self, config: ServiceConfig, records: SqlOrganizations, sources: SourceFactory) -> None:
        self._configured = {normalize_url(org.url): org for org in config.organizations.values()}
        self._records = records
        self._make_source = sources
        self._sources: dict[str, DataverseSource] = {}
        self._lock = threading.RLock()

    def register_all(self) -> list[str]:
        """Contact every configured organization not yet registered; returns one message per failure."""
        return [problem.message for problem in self.survey()[1]]

    def list(self) -> list[Organization]:
        """Every configured organization that is registered (contacting unregistered ones first), by URL."""
        return list(self.survey()[0])

    def survey(self) -> tuple[Sequence[Organization], Sequence[Problem]]:
        """The registered organizations by URL, and a 503 problem for each one that cannot be registered now."""
        problems = []
        for url in self._configured:
            try:
                self._register(url)
            except Problem as problem:
                problems.append(problem)
        registered = (self._records.find_by_url(url) for url in self._configured)
        return sorted((org for org in registered if org is not None), key=lambda org: org.url), problems

    def find(self, organization_id: str | None, organization_url: str | None) -> Organization:
        """The organization the query parameters name (DES §3.1).

        Raises:
            Problem: 400 when neither is given, or both name different organizations; 404 when unknown;
                503 when it is configured but cannot be reached for its first registration.
        """
        if organization_id is None and organization_url is None:
            raise Problem(
                ProblemKind.INVALID,
                "OrganizationRequired",
                "Name the organization with the organizationId or organizationUrl query parameter.",
            )
        by_id = self._by_id(organization_id) if organization_id is not None else None
        by_url = self._by_url(organization_url) if organization_url is not None else None
        if by_id is not None and by_url is not None and by_id.id != by_url.id:
            raise Problem(
                ProblemKind.INVALID,
                "OrganizationParametersMismatch",
                "organizationId and organizationUrl name different organizations.",
            )
        found = by_id or by_url
        assert found is not None
        return found

    def get(self, organization_id: str) -> Organization | None:
        """The registered organization with this id, if it is still configured."""
        organization = self._records.get(organization_id.lower())
        if organization is None or normalize_url(organization.url) not in self._configured:
            return None
        return organization

    def config_of(self, organization: Organization) -> OrganizationConfig:
        """The configuration block of a registered organization."""
        return self._configured[normalize_url(organization.url)]

    def source(self, organization: Organization) -> DataverseSource:
        """The API's source for this organization (built once, reused; thread-safe)."""
        with self._lock:
            source = self._sources.get(organization.id)
            if source is None:
                source = self._sources[organization.id] = self._make_source(self.config_of(organization))
            return source

    def accept_privacy_terms(self, organization: Organization, accepted_by: str) -> None:
        """Record the acceptance (idempotent: the first acceptance is kept)."""
        self._records.accept_privacy_terms(organization.id, accepted_by=accepted_by)

    def close(self) -> None:
        """Close every source."""
        with self._lock:
            sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            source.close()

    def _by_id(self, organization_id: str) -> Organization:
        if not is_guid(organization_id):
            raise organization_not_found(f"'{organization_id}'")
        found = self.get(organization_id)
        if found is None:
            failures = self.register_all()
            found = self.get(organization_id)
            if found is None and failures:
                raise Problem(ProblemKind.UNAVAILABLE, "OrganizationUnavailable", failures[0])
        if found is None:
            raise organization_not_found(f"'{organization_id}'")
        return found

    def _by_url(self, organization_url: str) -> Organization:
        url = normalize_url(organization_url)
        if url not in self._configured:
            raise organization_not_found(f"at '{organization_url}'")
        return self._records.find_by_url(url) or self._register(url)

    def _register(self, url: str) -> Organization:
        existing = self._records.find_by_url(url)
        if existing is not None:
            return existing
        configured = self._configured[url]
        with self._lock:
            source: DataverseSource | None = None
            try:
                source = self._make_source(configured)
                identity = source.organization()
            except DataExportError as error:
                if source is not None:
                    source.close()
                log.warning("organization %s cannot be registered now: %s", configured.url, error)
                raise organization_unavailable(configured.url, str(error)) from error
            organization = Organization(
                id=identity.organization_id.lower(),
                url=url,
                friendly_name=identity.friendly_name,
                unique_name=identity.unique_name,
                tenant_id=configured.tenant_id.lower(),
                region=identity.geo,
            )
            saved = self._records.save(organization)
            self._sources.setdefault(saved.id, source)
            return saved
