"""The emulator's state: organizations, identity, clock and change-tracking settings.

:class:`Emulator` is built once per process by :func:`dataverse_emulator.app.create_app` and is the
:class:`IdentityDirectory` the token endpoints consult. Organizations live in ``DIR/orgs/<name>.db``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from dataverse_emulator.admin.state import AdminState
from dataverse_emulator.catalog.model import Catalog
from dataverse_emulator.catalog.standard import catalog_profiles
from dataverse_emulator.clock import Clock
from dataverse_emulator.generator import SampleIdentities, generate_org, sample_identities
from dataverse_emulator.identity.directory import Application, UserLogin
from dataverse_emulator.identity.keys import KeyRing
from dataverse_emulator.identity.tokens import TokenIssuer
from dataverse_emulator.keyvault import SecretVault
from dataverse_emulator.settings import PersistentIdentity, Settings
from dataverse_emulator.storage import OrgInfo, OrgStore
from dataverse_emulator.webapi.context import Caller, TrackingSettings

#: Password of the sample users for the password grant (development only).
SAMPLE_PASSWORD = "emulator"
_NAMESPACE = uuid.UUID("0c5b2f0e-8f1d-4b0e-9a57-3d2f6f1c9a10")


@dataclass(frozen=True)
class OrgRequest:
    """Parameters of a generated organization (spec §9.3 ``POST /_emulator/orgs``)."""

    unique_name: str
    profile: str = "standard"
    scale: int = 10
    seed: int = 1
    counts: Mapping[str, int] | None = None
    tracking_overrides: Mapping[str, bool] | None = None


class Emulator:
    """Everything one emulator process serves."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.persistent = PersistentIdentity.load_or_create(settings.data_dir)
        self.keyring = KeyRing.load_or_create(settings.data_dir)
        self.issuer = TokenIssuer(self.keyring, self.clock)
        self.tracking = TrackingSettings()
        self.admin = AdminState()
        self.vault = SecretVault.load_or_create(settings.data_dir, self.clock)
        self._lock = threading.RLock()
        self._orgs: dict[str, OrgStore] = {}
        self._identities: dict[str, SampleIdentities] = {}
        self._load_orgs()

    # ----- organizations ----------------------------------------------------------------------

    @property
    def orgs_dir(self) -> Path:
        return self.settings.data_dir / "orgs"

    def _load_orgs(self) -> None:
        self.orgs_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.orgs_dir.glob("*.db")):
            store = OrgStore(path, self.clock)
            if store.is_initialized:
                self._orgs[store.info.url_name] = store
                self._identities[store.info.url_name] = self._identities_of(store.info)
            else:
                store.close()

    def _identities_of(self, info: OrgInfo) -> SampleIdentities:
        return sample_identities(info.seed, self.persistent.tenant_id, self.persistent.client_id)

    def orgs(self) -> list[OrgStore]:
        with self._lock:
            return list(self._orgs.values())

    def org(self, name: str | None = None) -> OrgStore | None:
        """The org called ``name`` (its URL name), or the first one when ``name`` is None."""
        with self._lock:
            if name is None:
                return next(iter(self._orgs.values()), None)
            return self._orgs.get(name.lower())

    def identities(self, name: str) -> SampleIdentities:
        with self._lock:
            return self._identities[name.lower()]

    def create_org(self, request: OrgRequest) -> OrgStore:
        """Generate an organization (replacing one of the same name)."""
        name = request.unique_name.lower()
        profiles = catalog_profiles()
        if request.profile not in profiles:
            raise ValueError(f"unknown sample profile {request.profile!r}: use one of {sorted(profiles)}")
        catalog = apply_tracking_overrides(profiles[request.profile](), request.tracking_overrides or {})
        self.drop_org(name)
        info = self._org_info(name, request)
        identities = self._identities_of(info)
        store = OrgStore(self.orgs_dir / f"{name}.db", self.clock)
        store.initialize(info, catalog)
        rows = generate_org(
            catalog, scale=request.scale, seed=request.seed, counts=request.counts, identities=identities
        )
        store.bulk_load((row.table, row.id, row.data, row.created) for row in rows)
        with self._lock:
            self._orgs[name] = store
            self._identities[name] = identities
        return store

    def _org_info(self, name: str, request: OrgRequest) -> OrgInfo:
        def derived(kind: str) -> str:
            return str(uuid.uuid5(_NAMESPACE, f"{name}/{request.seed}/{kind}"))

        identities = sample_identities(request.seed, self.persistent.tenant_id, self.persistent.client_id)
        return OrgInfo(
            organization_id=derived("organization"),
            unique_name=f"unq{derived('unique').replace('-', '')[:12]}",
            url_name=name,
            friendly_name=f"{name.capitalize()} (emulated)",
            tenant_id=self.persistent.tenant_id,
            environment_id=derived("environment"),
            business_unit_id=identities.business_unit_id,
            profile=request.profile,
            scale=request.scale,
            seed=request.seed,
        )

    def drop_org(self, name: str) -> bool:
        with self._lock:
            store = self._orgs.pop(name.lower(), None)
            self._identities.pop(name.lower(), None)
        if store is not None:
            store.close()
        path = self.orgs_dir / f"{name.lower()}.db"
        existed = path.exists()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return existed or store is not None

    # ----- callers ------------------------------------------------------------------------------

    def caller_for(self, store: OrgStore, *, app_id: str | None, oid: str, kind: str) -> Caller | None:
        """The enabled-or-not systemuser a token maps to in ``store`` (None if none)."""
        if kind == "app" and app_id:
            rows = store.find_by_value("systemuser", "applicationid", app_id.lower())
        else:
            rows = store.find_by_value("systemuser", "azureactivedirectoryobjectid", oid.lower())
        if not rows:
            return None
        row = rows[0]
        if row.data.get("isdisabled"):
            return Caller(row.id, None, is_application=kind == "app", disabled=True)
        unit = row.data.get("businessunitid")
        unit_id = str(unit[1]) if isinstance(unit, list) else None
        return Caller(row.id, unit_id, is_application=kind == "app")

    # ----- IdentityDirectory ----------------------------------------------------------------------

    def tenant_id(self, tenant: str) -> str | None:
        known = {self.persistent.tenant_id.lower(), self.persistent.tenant_domain.lower()}
        return self.persistent.tenant_id if tenant.lower() in known else None

    def application(self, client_id: str) -> Application | None:
        if client_id.lower() != self.persistent.client_id.lower():
            return None
        return Application(
            client_id=self.persistent.client_id,
            secret=self.persistent.client_secret,
            object_id=self.persistent.app_object_id,
            tenant_id=self.persistent.tenant_id,
        )

    def user_by_login(self, username: str) -> UserLogin | None:
        with self._lock:
            identities = list(self._identities.values())
        for sample in identities:
            for user in sample.users:
                if user.upn.lower() == username.lower():
                    return UserLogin(user.oid, user.upn, user.fullname, SAMPLE_PASSWORD, self.persistent.tenant_id)
        return None

    @property
    def check_secrets(self) -> bool:
        return self.settings.check_secrets

    @property
    def public_url(self) -> str | None:
        return self.settings.public_url

    @property
    def token_version(self) -> Literal["1.0", "2.0"]:
        return "2.0" if self.settings.token_version == "2.0" else "1.0"

    @property
    def default_tenant_id(self) -> str:
        return self.persistent.tenant_id

    def set_tracking(self, **changes: object) -> TrackingSettings:
        self.tracking = replace(self.tracking, **changes)  # type: ignore[arg-type]
        return self.tracking


def apply_tracking_overrides(catalog: Catalog, overrides: Mapping[str, bool]) -> Catalog:
    """The catalog with change tracking switched per table (``{"account": False}``)."""
    if not overrides:
        return catalog
    unknown = set(overrides) - {t.logical_name for t in catalog.tables}
    if unknown:
        raise ValueError(f"tracking_overrides names unknown tables: {sorted(unknown)}")
    tables = tuple(
        t.model_copy(update={"change_tracking": overrides[t.logical_name]}) if t.logical_name in overrides else t
        for t in catalog.tables
    )
    return catalog.model_copy(update={"tables": tables})
