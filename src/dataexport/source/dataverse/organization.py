"""Organization-level reads: identity, caller, table list and metadata drift (webapi §4.1, §4.6, §7.6, §7.9).

URLs and pure parsers; a document of the wrong shape raises :class:`~.responses.BodyError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

from dataexport.source.base import Caller, EntitySummary, MetadataChanges, OrgIdentity
from dataexport.source.dataverse.metadata import parse_collection
from dataexport.source.dataverse.responses import BodyError

_ACCESS_TYPE = "Microsoft.Dynamics.CRM.EndpointAccessType'Default'"
_ALL_DELETED = "Microsoft.Dynamics.CRM.DeletedMetadataFilters'All'"
#: Only entity and attribute names: enough to learn *which* entities changed.
_CHANGES_QUERY = json.dumps(
    {
        "Properties": {"AllProperties": False, "PropertyNames": ["LogicalName"]},
        "AttributeQuery": {"Properties": {"AllProperties": False, "PropertyNames": ["LogicalName"]}},
    },
    separators=(",", ":"),
)
_SUMMARY_PROPERTIES = (
    "LogicalName,SchemaName,DisplayName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled,IsIntersect,IsPrivate"
)


def organization_url(root: str) -> str:
    """``RetrieveCurrentOrganization`` with ``AccessType`` ``Default``."""
    return f"{root}RetrieveCurrentOrganization(AccessType=@p1)?@p1={quote(_ACCESS_TYPE, safe='')}"


def who_am_i_url(root: str) -> str:
    """``WhoAmI``."""
    return f"{root}WhoAmI"


def entities_url(root: str) -> str:
    """Every entity definition, summary properties only."""
    return f"{root}EntityDefinitions?$select={_SUMMARY_PROPERTIES}"


def metadata_changes_url(root: str, since: str | None) -> str:
    """``RetrieveMetadataChanges``, incremental from ``since`` when given."""
    query = f"@p1={quote(_CHANGES_QUERY, safe='')}"
    if since is None:
        return f"{root}RetrieveMetadataChanges(Query=@p1)?{query}"
    stamp = quote("'" + since.replace("'", "''") + "'", safe="")
    function = f"RetrieveMetadataChanges(Query=@p1,ClientVersionStamp=@p2,DeletedMetadataFilters={_ALL_DELETED})"
    return f"{root}{function}?{query}&@p2={stamp}"


def parse_organization(document: object) -> OrgIdentity:
    """``Detail`` of ``RetrieveCurrentOrganizationResponse``."""
    detail = _object(document).get("Detail")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("OrganizationId"), str):
        raise BodyError("invalid_page", "RetrieveCurrentOrganization answered without Detail.OrganizationId")
    return OrgIdentity(
        organization_id=str(detail["OrganizationId"]).lower(),
        friendly_name=_optional(detail, "FriendlyName"),
        unique_name=_optional(detail, "UniqueName"),
        geo=_optional(detail, "Geo"),
        tenant_id=_optional(detail, "TenantId"),
        environment_id=_optional(detail, "EnvironmentId"),
        version=_optional(detail, "OrganizationVersion"),
    )


def parse_caller(document: object) -> Caller:
    """``WhoAmIResponse``."""
    body = _object(document)
    ids = [body.get(key) for key in ("UserId", "BusinessUnitId", "OrganizationId")]
    if not all(isinstance(value, str) for value in ids):
        raise BodyError("invalid_page", "WhoAmI answered without UserId, BusinessUnitId and OrganizationId")
    user, unit, organization = (str(value).lower() for value in ids)
    return Caller(user_id=user, business_unit_id=unit, organization_id=organization)


def parse_entities(document: object) -> tuple[EntitySummary, ...]:
    """The entity list, ordered by logical name; definitions without a set name (not readable) are left out."""
    summaries = [
        EntitySummary(
            logical_name=str(item["LogicalName"]),
            entity_set_name=str(item["EntitySetName"]),
            primary_id=str(item.get("PrimaryIdAttribute") or ""),
            change_tracking=item.get("ChangeTrackingEnabled") is True,
            is_intersect=item.get("IsIntersect") is True,
            schema_name=_optional(item, "SchemaName"),
            display_name=_label_text(item.get("DisplayName")),
            is_private=item.get("IsPrivate") is True,
        )
        for item in parse_collection(document)
        if isinstance(item.get("LogicalName"), str) and isinstance(item.get("EntitySetName"), str)
    ]
    return tuple(sorted(summaries, key=lambda summary: summary.logical_name))


def parse_metadata_changes(document: object, *, incremental: bool) -> MetadataChanges:
    """``RetrieveMetadataChangesResponse``: the new stamp and the entities listed as changed.

    Deleted metadata is reported by id only, so any deletion marks everything as changed.
    """
    body = _object(document)
    stamp = body.get("ServerVersionStamp")
    if not isinstance(stamp, str) or not stamp:
        raise BodyError("invalid_page", "RetrieveMetadataChanges answered without ServerVersionStamp")
    entities = body.get("EntityMetadata")
    names = frozenset(
        str(item["LogicalName"])
        for item in (entities if isinstance(entities, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("LogicalName"), str)
    )
    deleted = body.get("DeletedMetadata")
    any_deleted = isinstance(deleted, Mapping) and bool(deleted.get("Count"))
    return MetadataChanges(stamp=stamp, changed=names, everything=not incremental or any_deleted)


def _object(document: object) -> Mapping[str, object]:
    if not isinstance(document, Mapping):
        raise BodyError("invalid_page", "the answer is not a JSON object")
    return document


def _label_text(value: object) -> str | None:
    """The user-localized text of a label object, if any."""
    if not isinstance(value, Mapping):
        return None
    label = value.get("UserLocalizedLabel")
    return _optional(label, "Label") if isinstance(label, Mapping) else None


def _optional(document: Mapping[str, object], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None
