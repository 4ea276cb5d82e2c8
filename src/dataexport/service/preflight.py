"""The §5 checks as the profile service runs them: ``test``, ``validate``, the activation pre-flight, and the
``TableMissing`` check of ``activatedata`` (DES §4.2).

:class:`ProfileChecks` supplies :func:`~dataexport.service.checks.run_checks` with the organization's source,
the secret resolver and the destinations of the organization's other Active profiles (the destination-in-use
rule). A connection string is resolved here only to compare destinations or to inspect one; it never leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.sql import inspection
from dataexport.destination.sql.naming import METADATA_TABLES
from dataexport.domain.checks import DestinationIdentity, TestResult
from dataexport.domain.profile import ErrorDetail, ExportProfile, ProfileState
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.errors import DataExportError
from dataexport.service.catalog import MetadataCache
from dataexport.service.checks import CheckDeps, CheckSubject, SecretsLike, SourceLike, run_checks
from dataexport.store.control import ControlStore
from dataexport.store.values import Organization

log = logging.getLogger(__name__)


class ProfileChecks:
    """The service's :class:`~dataexport.service.profiles.Checks`."""

    def __init__(
        self,
        store: ControlStore,
        metadata: MetadataCache,
        sources: Callable[[Organization], SourceLike],
        secrets: SecretsLike,
        *,
        host_suffixes: tuple[str, ...],
        data_dir: Path,
        clock: Callable[[], datetime],
        connect_timeout: float = 30.0,
    ) -> None:
        self._store = store
        self._metadata = metadata
        self._sources = sources
        self._secrets = secrets
        self._host_suffixes = host_suffixes
        self._data_dir = data_dir
        self._clock = clock
        self._connect_timeout = connect_timeout

    def test(self, profile: ExportProfile, organization: Organization) -> TestResult:
        """The checks of a stored profile (``test`` and the activation pre-flight)."""
        subject = CheckSubject(
            profile,
            organization.id,
            tenant_id=organization.tenant_id,
            profile_id=profile.id,
            activated=profile.first_activated_on is not None,
        )
        return run_checks(subject, self._deps(organization, exclude=profile.id))

    def validate(self, body: Mapping[str, object], organization: Organization) -> TestResult:
        """The checks of a body not yet saved."""
        subject = CheckSubject(body, organization.id, tenant_id=organization.tenant_id)
        return run_checks(subject, self._deps(organization, exclude=None))

    def missing_tables(self, profile: ExportProfile, organization: Organization) -> tuple[ErrorDetail, ...]:
        """``TableMissing`` for each selected entity or relationship whose table a ``DataOnly`` activation would
        write but which does not exist (DES §4.2), and for missing metadata tables (no field)."""
        connection_string = self._secrets.resolve(parse_secret_reference(profile.key_vault_uri, self._host_suffixes))
        target = inspection.build_target(
            inspection.parse_url(connection_string, self._data_dir), profile.schema_name, profile.table_prefix
        )
        naming = target.naming
        intersects = {r.schema_name.lower(): r.intersect_entity for r in self._metadata.get(organization).relationships}
        wanted: list[tuple[str | None, inspection.WantedTable]] = [
            (f"Entities[{index}].Name", inspection.WantedTable(naming.entity_table(name)))
            for index, name in enumerate(profile.entity_names)
        ]
        wanted += [
            (f"Relationships[{index}].Name", inspection.WantedTable(naming.entity_table(intersects[name.lower()])))
            for index, name in enumerate(profile.relationship_names)
            if name.lower() in intersects
        ]
        wanted += [(None, inspection.WantedTable(naming.fixed_table(name), keyed=False)) for name in METADATA_TABLES]
        engine = inspection.open_engine(target.url, self._connect_timeout)
        try:
            with engine.connect() as connection:
                report = inspection.inspect_objects(connection, target, [table for _field, table in wanted])
        except SQLAlchemyError as error:
            raise DataExportError(f"the destination cannot be inspected: {type(error).__name__}") from None
        finally:
            engine.dispose()
        present = {name.lower() for name in report.existing}
        return tuple(
            ErrorDetail(
                field=field, code="TableMissing", message=f"Table '{target.qualified(table.name)}' does not exist."
            )
            for field, table in wanted
            if table.name.lower() not in present
        )

    def _deps(self, organization: Organization, *, exclude: str | None) -> CheckDeps:
        others = [p for p in self._store.profiles.list(organization.id) if p.id != exclude]
        return CheckDeps(
            source=lambda: self._sources(organization),
            secrets=self._secrets,
            other_profile_names=[p.name for p in others],
            destinations_in_use=lambda identity: self._in_use(identity, exclude),
            host_suffixes=self._host_suffixes,
            data_dir=self._data_dir,
            connect_timeout=self._connect_timeout,
            clock=self._clock,
        )

    def _in_use(self, identity: DestinationIdentity, exclude: str | None) -> Sequence[str]:
        """Names of the other Active profiles (any organization) writing to ``identity``."""
        names = []
        for profile in self._store.profiles.list():
            if profile.id == exclude or profile.state is not ProfileState.ACTIVE:
                continue
            try:
                reference = parse_secret_reference(profile.key_vault_uri, self._host_suffixes)
                theirs = inspection.identity_of(
                    self._secrets.resolve(reference), profile.schema_name, profile.table_prefix, self._data_dir
                )
            except (DataExportError, ValueError) as error:
                log.info("profile %s left out of the destination-in-use check: %s", profile.id, type(error).__name__)
                continue
            if theirs == identity:
                names.append(profile.name)
        return names
