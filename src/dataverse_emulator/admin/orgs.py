"""Organization lifecycle for the admin surface: generate, describe, regenerate, purge tombstones.

Every generated org keeps its generation request as JSON in its ``generation`` setting, so
``POST /_emulator/reset`` can rebuild it exactly (an org created elsewhere without that setting is
rebuilt from its stored profile, scale and seed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import orjson

from dataverse_emulator.admin.fields import AdminRequestError, Fields
from dataverse_emulator.emulator import OrgRequest
from dataverse_emulator.storage import OrgStore

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator

GENERATION_SETTING = "generation"
_FIELDS = ("unique_name", "profile", "scale", "seed", "counts", "tenant_id", "tracking_overrides")


def parse_org_request(fields: Fields, emulator: Emulator) -> OrgRequest:
    """The :class:`OrgRequest` of a ``POST /_emulator/orgs`` body.

    Raises:
        AdminRequestError: a field is invalid; ``tenant_id`` other than the emulator's tenant.
    """
    fields.reject_unknown(_FIELDS)
    name = fields.required_text("unique_name")
    if not name.replace("-", "").replace("_", "").isalnum() or name.startswith("_"):
        raise AdminRequestError("'unique_name' must be letters, digits, '-' or '_' (it becomes a URL path)")
    tenant = fields.text("tenant_id")
    if tenant is not None and tenant.lower() != emulator.persistent.tenant_id.lower():
        raise AdminRequestError(
            f"'tenant_id' must be the emulator's tenant {emulator.persistent.tenant_id} (one tenant per emulator)"
        )
    return OrgRequest(
        unique_name=name,
        profile=fields.text("profile") or "standard",
        scale=fields.integer("scale", 10, minimum=0),
        seed=fields.integer("seed", 1),
        counts=fields.count_map("counts"),
        tracking_overrides=fields.flag_map("tracking_overrides"),
    )


def create_org(emulator: Emulator, request: OrgRequest) -> OrgStore:
    """Generate (or replace) the org and remember its generation request. Blocking.

    Raises:
        AdminRequestError: unknown profile or tracking override table.
    """
    try:
        store = emulator.create_org(request)
    except ValueError as error:
        raise AdminRequestError(str(error)) from error
    store.set_setting(GENERATION_SETTING, orjson.dumps(_request_json(request)).decode())
    return store


def _request_json(request: OrgRequest) -> dict[str, object]:
    return {
        "unique_name": request.unique_name,
        "profile": request.profile,
        "scale": request.scale,
        "seed": request.seed,
        "counts": dict(request.counts) if request.counts else None,
        "tracking_overrides": dict(request.tracking_overrides) if request.tracking_overrides else None,
    }


def generation_of(store: OrgStore) -> OrgRequest:
    """The request that generated ``store`` (from its setting, else from its info)."""
    raw = store.get_setting(GENERATION_SETTING)
    if raw is not None:
        return OrgRequest(**orjson.loads(raw))
    info = store.info
    return OrgRequest(unique_name=info.url_name, profile=info.profile, scale=info.scale, seed=info.seed)


def regenerate_all(emulator: Emulator) -> list[str]:
    """Rebuild every org from its generation request (blocking); returns their names in order."""
    requests = [generation_of(store) for store in emulator.orgs()]
    for request in requests:
        create_org(emulator, request)
    return [request.unique_name.lower() for request in requests]


def describe_org(emulator: Emulator, store: OrgStore) -> dict[str, object]:
    """Identity, base path, versions and row counts of one org."""
    info = store.info
    default = emulator.org(None)
    return {
        "name": info.url_name,
        "unique_name": info.unique_name,
        "friendly_name": info.friendly_name,
        "organization_id": info.organization_id,
        "environment_id": info.environment_id,
        "tenant_id": info.tenant_id,
        "base_path": f"/{info.url_name}/api/data/v9.2/",
        "is_default": default is not None and default.info.url_name == info.url_name,
        "profile": info.profile,
        "scale": info.scale,
        "seed": info.seed,
        "counter": store.counter,
        "metadata_version": store.metadata_version,
        "purge_horizon": store.purge_horizon,
        "counts": {table.logical_name: store.count(table.logical_name) for table in store.catalog.tables},
    }


def purge_tombstones(emulator: Emulator, stores: list[OrgStore], purge: object) -> dict[str, object]:
    """Purge tombstones of ``stores``: ``"expired"`` (deleted before the expiry window, found through
    the stores' version/time log) or up to a version number. Returns ``{org: {"purged", "purge_horizon"}}``.

    Raises:
        AdminRequestError: ``purge`` is neither.
    """
    if purge != "expired" and (isinstance(purge, bool) or not isinstance(purge, int) or purge < 0):
        raise AdminRequestError("'purge' must be \"expired\" or a version number")
    cutoff = emulator.clock.now() - timedelta(days=emulator.tracking.expire_days)
    outcome: dict[str, object] = {}
    for store in stores:
        version = store.version_at(cutoff) if purge == "expired" else int(str(purge))
        purged = store.purge_tombstones(version) if version > 0 else 0
        outcome[store.info.url_name] = {"purged": purged, "purge_horizon": store.purge_horizon}
    return outcome
