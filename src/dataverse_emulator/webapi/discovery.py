"""Global Discovery Service: ``/api/discovery/v2.0/Instances`` (spec §7.8).

Lists every organization where the token's user (``oid``) is an enabled systemuser, with
``IsUserSysAdmin`` computed like the System Administrator check of §7.7 (directly or through a team).
App-only tokens list nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dataverse_emulator.identity.bearer import BearerError, validate_bearer
from dataverse_emulator.identity.urls import base_url_of
from dataverse_emulator.storage import OrgStore, utc_text

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator

SYSADMIN_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"
_KEY = re.compile(r"^\((?:(?P<id>[0-9a-fA-F-]{36})|UniqueName='(?P<name>[^']*)')\)$")


def _role_ids(store: OrgStore, intersect: str, attribute: str, owner_id: str) -> set[str]:
    return {str(link.data.get("roleid")) for link in store.find_by_value(intersect, attribute, owner_id)}


def is_system_administrator(store: OrgStore, systemuserid: str) -> bool:
    """Whether the user holds a role with the System Administrator template, directly or via a team."""
    role_ids = _role_ids(store, "systemuserroles", "systemuserid", systemuserid)
    for membership in store.find_by_value("teammembership", "systemuserid", systemuserid):
        role_ids |= _role_ids(store, "teamroles", "teamid", str(membership.data.get("teamid")))
    for role in store.get_many("role", role_ids).values():
        template = role.data.get("roletemplateid")
        if isinstance(template, list) and str(template[1]) == SYSADMIN_TEMPLATE:
            return True
    return False


def instance_of(store: OrgStore, base_url: str, is_admin: bool) -> dict[str, object]:
    info = store.info
    url = f"{base_url}/{info.url_name}"
    return {
        "Id": info.organization_id,
        "UniqueName": info.unique_name,
        "UrlName": info.url_name,
        "FriendlyName": info.friendly_name,
        "State": 0,
        "Version": info.version,
        "Url": url,
        "ApiUrl": url,
        "LastUpdated": utc_text(store.clock.now()),
        "EnvironmentId": info.environment_id,
        "TenantId": info.tenant_id,
        "Region": info.geo,
        "OrganizationType": 0,
        "Purpose": "",
        "IsUserSysAdmin": is_admin,
        "TrialExpirationDate": None,
        "DatacenterId": None,
        "DatacenterName": None,
    }


def discovery_routes(emulator: Emulator) -> list[BaseRoute]:
    async def instances(request: Request) -> Response:
        base_url = base_url_of(request, emulator.public_url)
        headers = {"OData-Version": "4.0"}
        try:
            identity = validate_bearer(
                request.headers.get("authorization"),
                keyring=emulator.keyring,
                clock=emulator.clock,
                audiences=[base_url] if emulator.settings.check_audience else None,
                base_url=base_url,
            )
        except BearerError as error:
            body = {"error": {"code": "", "message": error.message}}
            return Response(orjson.dumps(body), 401, headers, media_type="application/json")
        found = []
        if identity.kind == "user":
            for store in emulator.orgs():
                caller = emulator.caller_for(store, app_id=None, oid=identity.oid, kind="user")
                if caller is not None and not caller.disabled:
                    found.append(instance_of(store, base_url, is_system_administrator(store, caller.systemuserid)))
        key = request.path_params.get("key")
        if key is not None:
            match = _KEY.match(key)
            chosen = [
                i
                for i in found
                if match
                and (
                    (match["id"] and i["Id"] == match["id"].lower())
                    or (match["name"] and i["UniqueName"] == match["name"])
                )
            ]
            if not chosen:
                body = {"error": {"code": "0x0", "message": f"Instance {key} was not found."}}
                return Response(orjson.dumps(body), 404, headers, media_type="application/json")
            body_one = {
                "@odata.context": f"{base_url}/api/discovery/v2.0/$metadata#Instances/$entity",
                **chosen[0],
            }
            return Response(orjson.dumps(body_one), 200, headers, media_type="application/json")
        body_all = {"@odata.context": f"{base_url}/api/discovery/v2.0/$metadata#Instances", "value": found}
        return Response(orjson.dumps(body_all), 200, headers, media_type="application/json")

    return [
        Route("/api/discovery/v2.0/Instances", instances, methods=["GET"]),
        Route("/api/discovery/v2.0/Instances{key:path}", instances, methods=["GET"]),
    ]
