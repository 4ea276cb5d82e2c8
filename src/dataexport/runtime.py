"""Composition root of ``dataexport serve``, above the API and service layers: the control store, secrets,
organizations, failure store, checks, scheduler, authentication and the REST API, from a :class:`ServiceConfig`.

Secrets are resolved here when a client is built (API keys, the URL-signing key, the Blob connection string)
and go straight into the object that needs them; nothing here logs or stores a value.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from dataexport.api.app import create_app
from dataexport.api.dependencies import ApiContext
from dataexport.api.failurestore import failure_store_router
from dataexport.auth import ApiKeyAuthenticator, CachedAdminCheck, DataverseAdminLookup, Principal, TokenValidator
from dataexport.auth.admins import AdminCheck, api_key_allows
from dataexport.blobs.azure import AzureBlobFailureFiles
from dataexport.blobs.base import FailureFiles
from dataexport.blobs.local import LocalFailureFiles
from dataexport.blobs.signing import UrlSigner
from dataexport.config.service import DEFAULT_AUTHORITY, OrganizationConfig, ServiceConfig, ensure_url_signing_key
from dataexport.domain.profile import ExportProfile, ProfileState
from dataexport.domain.secret_refs import parse_secret_reference
from dataexport.engine import EngineSettings
from dataexport.engine.resync import ResyncNotActive, start_resync
from dataexport.errors import DataExportError
from dataexport.secrets.resolver import SecretResolver
from dataexport.service.catalog import MetadataCache
from dataexport.service.organizations import OrganizationDirectory, source_config
from dataexport.service.preflight import ProfileChecks
from dataexport.service.problems import Problem, ProblemKind
from dataexport.service.profiles import ProfileService, record_profile_error
from dataexport.service.runs import RunFactory
from dataexport.service.scheduler import Scheduler
from dataexport.service.status import ResyncStatus
from dataexport.source.dataverse import DataverseSource, SourceConfig
from dataexport.source.dataverse.config import RetrySettings
from dataexport.store.control import ControlStore, open_store
from dataexport.store.errors import ResyncInProgress

log = logging.getLogger(__name__)

API_AUDIENCE = "api://dataexport"
"""The audience tokens for this API carry unless ``auth.audiences`` says otherwise."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceRuntime:
    """Everything ``serve`` runs; :meth:`start` once, :meth:`close` at shutdown."""

    config: ServiceConfig
    store: ControlStore
    organizations: OrganizationDirectory
    scheduler: Scheduler
    profiles: ProfileService
    context: ApiContext
    failure_files: FailureFiles
    routers: tuple[APIRouter, ...] = ()
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        """Register the configured organizations (those reachable now) and start every Active profile."""
        for problem in self.organizations.register_all():
            log.warning("%s", problem)
        self.scheduler.start()

    def app(self) -> FastAPI:
        """The REST API over this runtime."""
        return create_app(self.context, extra_routers=self.routers)

    def close(self) -> None:
        """Stop every runner, then close clients and the control store."""
        self.scheduler.shutdown()
        self.organizations.close()
        for close in reversed(self._closers):
            close()
        self.store.close()


def build_runtime(
    config: ServiceConfig, *, environ: Mapping[str, str] | None = None, clock: Clock = _utc_now
) -> ServiceRuntime:
    """Build (not start) the service described by ``config``.

    Raises:
        DataExportError: a secret the service itself needs (API key, signing key, Blob connection string)
            cannot be read; the message names the reference, never the value.
    """
    environ = os.environ if environ is None else environ
    config.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_url_signing_key(config)
    secrets = SecretResolver.from_config(config, environ)
    store = open_store(config.control_db_url)
    closers: list[Callable[[], None]] = []
    try:
        organizations = OrganizationDirectory(
            config, store.organizations, lambda org: DataverseSource(_api_source_config(source_config(org, secrets)))
        )
        metadata = MetadataCache(organizations.source)
        signer = UrlSigner.from_secret(secrets.resolve(parse_secret_reference(config.url_signing_key)))
        files, routers = _failure_files(config, secrets, signer, clock)
        suffixes = config.key_vault.host_suffixes
        runs = RunFactory(
            store=store,
            secrets=secrets,
            failures=files,
            data_dir=config.data_dir,
            organization=lambda org_id: _configured(organizations, org_id),
            settings=lambda profile: _engine_settings(config, profile),
            host_suffixes=suffixes,
            slots=threading.BoundedSemaphore(config.sync.workers),
        )
        scheduler = Scheduler(
            _ProfileRecords(store),
            runs,
            housekeeping=lambda: purge_retention(store, files, clock(), config.failure_store.retention_days),
        )
        checks = ProfileChecks(
            store,
            metadata,
            organizations.source,
            secrets,
            host_suffixes=suffixes,
            data_dir=config.data_dir,
            clock=clock,
        )
        profiles = ProfileService(
            store,
            metadata,
            checks,
            scheduler,
            files,
            _Resyncs(store, clock),
            host_suffixes=suffixes,
            clock=clock,
            failure_url_ttl=timedelta(seconds=config.failure_store.url_ttl_seconds),
        )
        authenticate, admins, challenge = _authentication(config, secrets, organizations, closers)
        context = ApiContext(
            organizations=organizations,
            metadata=metadata,
            profiles=profiles,
            authenticate=authenticate,
            admins=admins,
            public_url=config.public_url,
            challenge=challenge,
            ready=lambda: scheduler.running and _answers(store),
        )
    except BaseException:
        for close in closers:
            close()
        store.close()
        raise
    return ServiceRuntime(config, store, organizations, scheduler, profiles, context, files, routers, closers)


def public_base_url(config: ServiceConfig) -> str:
    """The address links to this service use: ``public_url``, else ``http://<host>:<port>``."""
    if config.public_url:
        return config.public_url.rstrip("/")
    host = "127.0.0.1" if config.host in {"0.0.0.0", "::"} else config.host
    return f"http://{host}:{config.port}"


# ----- pieces ---------------------------------------------------------------------------------------------


class _ProfileRecords:
    """The scheduler's view of the stored profiles."""

    def __init__(self, store: ControlStore) -> None:
        self._store = store

    def active_profiles(self) -> list[ExportProfile]:
        return [p for p in self._store.profiles.list() if p.state is ProfileState.ACTIVE]

    def load(self, profile_id: str) -> ExportProfile | None:
        return self._store.profiles.get(profile_id)

    def record_error(self, profile_id: str, message: str | None, *, failed: bool) -> None:
        record_profile_error(self._store, profile_id, message, failed=failed)


class _Resyncs:
    """``resyncfailed`` runs over the engine's resync module."""

    def __init__(self, store: ControlStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def start(self, profile: ExportProfile) -> ResyncStatus:
        try:
            start_resync(self._store, profile, self._clock())
        except ResyncNotActive as error:
            raise Problem(ProblemKind.CONFLICT, "NotActive", str(error)) from None
        except ResyncInProgress:
            raise Problem(
                ProblemKind.CONFLICT,
                "OperationInProgress",
                "A resyncfailed run of this profile is still running; call again when it completed.",
            ) from None
        started = self.latest(profile.id)
        assert started is not None
        return started

    def latest(self, profile_id: str) -> ResyncStatus | None:
        run = self._store.resyncs.latest(profile_id)
        return None if run is None else ResyncStatus.of(run)


class _ApiKeyAdmins:
    """API-key mode: a key may manage the organizations it is bound to, without a Dataverse role check."""

    def is_system_administrator(self, organization_id: str, principal: Principal) -> bool:
        return api_key_allows(organization_id, principal)


API_RETRY = RetrySettings(attempts=3, initial_delay=0.5, max_delay=2.0)
"""The API's own Dataverse calls give up after about 3 s, so a caller gets a 503 quickly; sync keeps its budget."""


def _api_source_config(config: SourceConfig) -> SourceConfig:
    return config.model_copy(update={"retry": API_RETRY})


def _configured(organizations: OrganizationDirectory, organization_id: str) -> OrganizationConfig | None:
    organization = organizations.get(organization_id)
    return None if organization is None else organizations.config_of(organization)


def _engine_settings(config: ServiceConfig, profile: ExportProfile) -> EngineSettings:
    return EngineSettings(
        owner=f"{socket.gethostname()}:{os.getpid()}:serve:{profile.id}",
        workers=config.sync.workers,
        min_interval=config.polling.min_interval,
        max_interval=config.polling.max_interval,
        untracked_reread_interval=timedelta(minutes=config.sync.untracked_reread_interval),
        write_record_data=config.failure_store.write_record_data,
    )


def _failure_files(
    config: ServiceConfig, secrets: SecretResolver, signer: UrlSigner, clock: Clock
) -> tuple[FailureFiles, tuple[APIRouter, ...]]:
    settings = config.failure_store
    if settings.backend == "azure_blob":
        if settings.connection_string is not None:
            reference = parse_secret_reference(settings.connection_string, config.key_vault.host_suffixes)
            return AzureBlobFailureFiles.from_connection_string(secrets.resolve(reference)), ()
        assert settings.account_url is not None, "the configuration requires one of them"
        return AzureBlobFailureFiles.from_account_url(settings.account_url), ()
    files = LocalFailureFiles(settings.root, signer, public_base_url(config))
    return files, (failure_store_router(files, signer, clock),)


def purge_retention(store: ControlStore, files: FailureFiles, now: datetime, retention_days: int) -> int:
    """The daily retention purge (DES §8.5): expired tombstones and ledger entries, and failure files older than
    ``retention_days``; returns the number of files removed."""
    before = now - timedelta(days=retention_days)
    purged = store.purge_expired()
    removed = files.purge(before)
    log.info("retention purge: %s; %d failure file(s) older than %s removed", purged, removed, before.isoformat())
    return removed


def _answers(store: ControlStore) -> bool:
    try:
        with store.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def default_issuers(config: ServiceConfig) -> tuple[str, ...]:
    """Both Entra issuer forms of every configured organization's tenant (v1 ``sts.windows.net`` for the
    public cloud), unless ``auth.issuers`` lists them."""
    if config.auth.issuers:
        return config.auth.issuers
    issuers: list[str] = []
    for organization in config.organizations.values():
        authority = organization.authority.rstrip("/")
        tenant = organization.tenant_id.lower()
        v1_host = "https://sts.windows.net" if authority == DEFAULT_AUTHORITY else authority
        for issuer in (f"{v1_host}/{tenant}/", f"{authority}/{tenant}/v2.0"):
            if issuer not in issuers:
                issuers.append(issuer)
    return tuple(issuers)


def _authentication(
    config: ServiceConfig,
    secrets: SecretResolver,
    organizations: OrganizationDirectory,
    closers: list[Callable[[], None]],
) -> tuple[Callable[[str], Principal], AdminCheck, tuple[str, str] | None]:
    auth = config.auth
    if auth.mode == "apikey":
        keys = [
            (
                key.key,
                secrets.resolve(parse_secret_reference(key.key, config.key_vault.host_suffixes)),
                frozenset(key.organizations),
            )
            for key in auth.api_keys
        ]
        return ApiKeyAuthenticator(keys).authenticate, _ApiKeyAdmins(), None
    issuers = default_issuers(config)
    if not issuers:
        raise DataExportError(
            "no organization is configured, so no token issuer is known: add an [organizations.<name>] block "
            "(see the README, 'Configuration'), or set auth.issuers"
        )
    audiences = auth.audiences or (API_AUDIENCE, public_base_url(config))
    trust = ssl.create_default_context(cafile=str(auth.ca_file)) if auth.ca_file else True
    http = httpx.Client(verify=trust, timeout=10.0)
    closers.append(http.close)
    validator = TokenValidator(issuers, audiences, http=http)

    def source_of(organization_id: str) -> DataverseSource:
        organization = organizations.get(organization_id)
        if organization is None:
            raise DataExportError(f"organization {organization_id} is not configured")
        return organizations.source(organization)

    admins = CachedAdminCheck(DataverseAdminLookup(source_of).is_system_administrator, ttl_seconds=auth.cache_seconds)
    first_issuer = issuers[-1]
    authority = first_issuer.removesuffix("/v2.0").rstrip("/") + "/oauth2/authorize"
    return validator.validate, admins, (authority, audiences[0])
