"""What one Active profile runs with: its source, destination and runner, built when its worker starts.

Secrets are resolved here, when the connections are made, and go straight into the objects that need them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from dataexport.config.service import OrganizationConfig
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.destination.sql.urls import absolute_sqlite_url
from dataexport.domain.profile import ExportProfile
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.engine import EngineSettings, FailureStore, ProfileRunner
from dataexport.errors import TerminalError
from dataexport.secrets.base import SecretStore
from dataexport.service.organizations import source_config
from dataexport.source.dataverse import DataverseSource
from dataexport.store.control import ControlStore


class OrganizationMismatch(TerminalError):
    """Dataverse reports another organization id than the registered one (DES §4.1)."""


@dataclass
class ProfileRun:
    """An Active profile's connections and runner; :meth:`close` releases them."""

    runner: ProfileRunner
    source: DataverseSource
    engine: Engine
    closed: bool = field(default=False)

    def interrupt(self) -> None:
        """Close the Dataverse source now (from another thread): waits on it end, reads fail as transient."""
        self.source.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.source.close()
            self.engine.dispose()


@dataclass(frozen=True)
class RunFactory:
    """Builds a :class:`ProfileRun` for a profile (the scheduler calls it in the profile's worker thread)."""

    store: ControlStore
    secrets: SecretStore
    failures: FailureStore
    data_dir: Path
    organization: Callable[[str], OrganizationConfig | None]
    settings: Callable[[ExportProfile], EngineSettings]
    host_suffixes: tuple[str, ...]
    slots: threading.Semaphore | None = None

    def __call__(self, profile: ExportProfile) -> ProfileRun:
        """Connect everything ``profile`` needs.

        Raises:
            TerminalError: the organization is no longer configured or is another one, a secret does not
                exist, credentials are refused, the destination is not supported.
            TransientError: a secret store, Dataverse or the destination cannot be reached now.
        """
        organization = self.organization(profile.organization_id)
        if organization is None:
            raise TerminalError(
                f"organization {profile.organization_id} is no longer configured", profile_id=profile.id
            )
        source = DataverseSource(source_config(organization, self.secrets))
        try:
            identity = source.organization()
            if identity.organization_id.lower() != profile.organization_id.lower():
                raise OrganizationMismatch(
                    f"the organization at {organization.url} is now {identity.organization_id}, not the registered "
                    f"{profile.organization_id}: fix the registration, then activate the profile again",
                    profile_id=profile.id,
                )
            connection = self.secrets.resolve(parse_secret_reference(profile.key_vault_uri, self.host_suffixes))
            engine = create_destination_engine(absolute_sqlite_url(connection, self.data_dir))
        except BaseException:
            source.close()
            raise
        destination = SqlDestination(engine, table_prefix=profile.table_prefix, schema_name=profile.schema_name)
        runner = ProfileRunner(
            profile,
            source=source,
            destination=destination,
            store=self.store,
            failure_store=self.failures,
            settings=self.settings(profile),
            slots=self.slots,
        )
        return ProfileRun(runner, source, engine)
