"""Composition root of ``dataexport sync``: real source, destination, control store and runner from a profile file.

Secrets are resolved here, when the connections are made, and go straight into the objects that need
them; nothing here logs or stores a value.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from dataexport.config.profile_file import NIL_ORGANIZATION, ProfileFile
from dataexport.destination.sql.destination import SqlDestination
from dataexport.destination.sql.engine import create_destination_engine
from dataexport.destination.sql.urls import absolute_sqlite_url
from dataexport.domain.profile import ExportProfile
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.engine import EngineSettings, LocalFailureStore, ProfileRunner, SyncObserver
from dataexport.errors import TerminalError
from dataexport.secrets.base import SecretStore
from dataexport.source.dataverse.client import DataverseSource
from dataexport.source.dataverse.config import ClientCredentials, SourceConfig
from dataexport.store.control import ControlStore, open_store


class OrganizationMismatch(TerminalError):
    """The organization answering at the URL is not the one the profile names."""


@dataclass
class SyncRuntime:
    """Everything one profile's sync runs with; :meth:`close` releases it all."""

    profile: ExportProfile
    runner: ProfileRunner
    source: DataverseSource
    store: ControlStore
    destination_engine: Engine
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.source.close()
        self.store.close()
        self.destination_engine.dispose()


def build_source(loaded: ProfileFile, secrets: SecretStore) -> DataverseSource:
    organization = loaded.organization
    auth = ClientCredentials(
        tenant_id=organization.tenant_id,
        client_id=organization.client_id,
        client_secret=SecretStr(secrets.resolve(organization.client_secret)),
        authority_host=organization.authority,
    )
    return DataverseSource(SourceConfig(org_url=organization.url, auth=auth, ca_file=organization.ca_file))


def checked_profile(profile: ExportProfile, source: DataverseSource) -> ExportProfile:
    """The profile with the organization's id (read from Dataverse at first contact, des.md §1.1)."""
    identity = source.organization()
    if profile.organization_id == NIL_ORGANIZATION:
        return profile.model_copy(update={"organization_id": identity.organization_id})
    if profile.organization_id.lower() != identity.organization_id.lower():
        raise OrganizationMismatch(
            f"the organization at this URL is {identity.organization_id}, but the profile names "
            f"{profile.organization_id}: fix OrganizationId or Organization.Url",
            profile_id=profile.id,
        )
    return profile


def build_runtime(
    loaded: ProfileFile, secrets: SecretStore, *, observer: SyncObserver | None = None, workers: int = 4
) -> SyncRuntime:
    """Connect everything a profile file describes. The caller closes the runtime."""
    loaded.data_dir.mkdir(parents=True, exist_ok=True)
    source = build_source(loaded, secrets)
    try:
        profile = checked_profile(loaded.profile, source)
        destination_url = secrets.resolve(parse_secret_reference(profile.key_vault_uri))
        engine = create_destination_engine(absolute_sqlite_url(destination_url, loaded.data_dir))
        store = open_store(absolute_sqlite_url(loaded.control_db, loaded.data_dir))
    except BaseException:
        source.close()
        raise
    destination = SqlDestination(engine, table_prefix=profile.table_prefix, schema_name=profile.schema_name)
    settings = EngineSettings(owner=f"{socket.gethostname()}:sync:{profile.id}", workers=workers)
    runner = ProfileRunner(
        profile,
        source=source,
        destination=destination,
        store=store,
        failure_store=LocalFailureStore(loaded.data_dir / "failures"),
        settings=settings,
        observer=observer,
    )
    return SyncRuntime(profile, runner, source, store, engine)
