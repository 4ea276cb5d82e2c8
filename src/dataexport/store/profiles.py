"""Stored export profiles (DES §2.1): the profile's JSON document plus indexed columns.

Deleting a profile removes, in one transaction, its sync state, leases, tombstones, retry queue, failed sets,
seen-sets, ledger and resync runs (DES §4.2); the destination is never touched.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select

from dataexport.domain.profile import ExportProfile
from dataexport.store.models import (
    EntityStateRow,
    FailedRecordRow,
    LeaseRow,
    LedgerRow,
    ProfileRow,
    ResyncRunRow,
    RetryQueueRow,
    SeenIdRow,
    TombstoneRow,
)
from dataexport.store.transactions import Database

_PROFILE_DATA = (
    EntityStateRow,
    LeaseRow,
    TombstoneRow,
    RetryQueueRow,
    FailedRecordRow,
    SeenIdRow,
    LedgerRow,
    ResyncRunRow,
)


def to_profile(row: ProfileRow) -> ExportProfile:
    """The profile a row stores."""
    return ExportProfile.model_validate(row.document)


class SqlProfiles:
    """Export profiles in the control database; the next issue's API builds on it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def save(self, profile: ExportProfile) -> ExportProfile:
        """Insert or replace by id; ``CreatedOn`` is kept from the first save, ``ModifiedOn`` set to now.

        Raises:
            ControlDatabaseFault: the profile's organization is not registered.
        """
        now = self._db.now()
        with self._db.write() as session:
            row = session.get(ProfileRow, profile.id)
            created = row.created_at if row is not None else profile.created_on or now
            stamped = profile.model_copy(update={"created_on": created, "modified_on": now})
            if row is None:
                row = ProfileRow(id=profile.id, created_at=created)
                session.add(row)
            row.name, row.organization_id, row.state = stamped.name, stamped.organization_id, stamped.state.value
            row.document = stamped.model_dump(mode="json", by_alias=True)
            row.modified_at = now
            return stamped

    def update(self, profile_id: str, change: Callable[[ExportProfile], ExportProfile | None]) -> ExportProfile | None:
        """Apply ``change`` to the stored profile in one transaction (row locked), so concurrent writers of other
        fields are not overwritten by a stale copy; ``change`` returning None leaves the row as it is.

        Returns the saved profile, or None when the profile does not exist or nothing changed.
        """
        now = self._db.now()
        with self._db.write() as session:
            row = session.get(ProfileRow, profile_id, with_for_update=True)
            if row is None:
                return None
            changed = change(to_profile(row))
            if changed is None:
                return None
            stamped = changed.model_copy(update={"id": row.id, "created_on": row.created_at, "modified_on": now})
            row.name, row.state = stamped.name, stamped.state.value
            row.document = stamped.model_dump(mode="json", by_alias=True)
            row.modified_at = now
            return stamped

    def get(self, profile_id: str) -> ExportProfile | None:
        """The profile with this id, or None."""
        with self._db.read() as session:
            row = session.get(ProfileRow, profile_id)
            return None if row is None else to_profile(row)

    def list(self, organization_id: str | None = None) -> list[ExportProfile]:
        """Every profile (of one organization, when given), by creation time."""
        query = select(ProfileRow).order_by(ProfileRow.created_at, ProfileRow.id)
        if organization_id is not None:
            query = query.where(ProfileRow.organization_id == organization_id)
        with self._db.read() as session:
            return [to_profile(row) for row in session.scalars(query)]

    def delete(self, profile_id: str) -> bool:
        """Remove the profile and all its control data in one transaction; False if there was no profile row.

        Control data of a profile that was only run from a file is removed too. Idempotent.
        """
        with self._db.write() as session:
            for model in _PROFILE_DATA:
                session.execute(delete(model).where(model.profile_id == profile_id))
            row = session.get(ProfileRow, profile_id)
            if row is None:
                return False
            session.delete(row)
            return True
