"""Registered Dataverse organizations (DES §1.1): identity, names, privacy-terms acceptance. No secrets."""

from __future__ import annotations

from sqlalchemy import select

from dataexport.store.models import OrganizationRow
from dataexport.store.transactions import Database
from dataexport.store.values import Organization


def normalize_url(url: str) -> str:
    """The form organization URLs are stored and compared in: lowercase, no trailing slash."""
    return url.strip().rstrip("/").lower()


def to_organization(row: OrganizationRow) -> Organization:
    """The value of an organization row."""
    return Organization(
        id=row.id,
        url=row.url,
        friendly_name=row.friendly_name,
        unique_name=row.unique_name,
        tenant_id=row.tenant_id,
        region=row.region,
        privacy_terms_accepted_at=row.privacy_terms_accepted_at,
        privacy_terms_accepted_by=row.privacy_terms_accepted_by,
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


class SqlOrganizations:
    """Organizations in the control database; the next issue's API builds on it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def save(self, organization: Organization) -> Organization:
        """Insert or update by id (URL normalized); privacy-terms fields are kept, see :meth:`accept_privacy_terms`.

        Raises:
            ControlDatabaseFault: another organization has this URL.
        """
        now = self._db.now()
        with self._db.write() as session:
            row = session.get(OrganizationRow, organization.id)
            if row is None:
                row = OrganizationRow(id=organization.id, created_at=now)
                session.add(row)
            row.url = normalize_url(organization.url)
            row.friendly_name, row.unique_name = organization.friendly_name, organization.unique_name
            row.tenant_id, row.region, row.modified_at = organization.tenant_id, organization.region, now
            session.flush()
            return to_organization(row)

    def get(self, organization_id: str) -> Organization | None:
        """The organization with this id, or None."""
        with self._db.read() as session:
            row = session.get(OrganizationRow, organization_id)
            return None if row is None else to_organization(row)

    def find_by_url(self, url: str) -> Organization | None:
        """The organization registered at ``url`` (compared normalized), or None."""
        with self._db.read() as session:
            row = session.scalars(select(OrganizationRow).where(OrganizationRow.url == normalize_url(url))).first()
            return None if row is None else to_organization(row)

    def list(self) -> list[Organization]:
        """Every organization, by URL."""
        with self._db.read() as session:
            return [
                to_organization(row) for row in session.scalars(select(OrganizationRow).order_by(OrganizationRow.url))
            ]

    def accept_privacy_terms(self, organization_id: str, *, accepted_by: str) -> Organization | None:
        """Record that ``accepted_by`` accepted the privacy terms now (DES §3.2); idempotent (first time kept).

        Returns None if the organization is not registered.
        """
        now = self._db.now()
        with self._db.write() as session:
            row = session.get(OrganizationRow, organization_id, with_for_update=True)
            if row is None:
                return None
            if row.privacy_terms_accepted_at is None:
                row.privacy_terms_accepted_at, row.privacy_terms_accepted_by = now, accepted_by
                row.modified_at = now
            return to_organization(row)
