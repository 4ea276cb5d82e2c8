"""Field rules of an export profile body (DES §2.3), as pure checks returning error details.

All rules run together and every failure is reported. A value of the wrong JSON type is never coerced: it
is ``InvalidType`` and the field's other rules are skipped. A null optional field counts as omitted.
Rules that need Dataverse metadata take it as a :class:`SelectionCatalog` value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dataexport.domain.profile import ErrorDetail
from dataexport.domain.schema import ManyToManyRelationship
from dataexport.domain.secret_refs import DEFAULT_HOST_SUFFIXES, secret_reference_problem

ACTIVITY_POINTER = "activitypointer"
_ALNUM = re.compile(r"^[A-Za-z0-9]*$")
_MISSING = object()
_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list | tuple),
}
_FIELD_TYPES = {
    "Name": "string",
    "OrganizationId": "string",
    "KeyVaultUri": "string",
    "SchemaName": "string",
    "TablePrefix": "string",
    "RetryCount": "integer",
    "RetryInterval": "integer",
    "WriteDeleteLog": "boolean",
    "Entities": "array",
    "Relationships": "array",
}

Details = list[ErrorDetail]


def _detail(field_name: str, code: str, message: str) -> ErrorDetail:
    return ErrorDetail(field=field_name, code=code, message=message)


def validate_profile_body(
    body: object,
    *,
    query_organization_id: str | None = None,
    host_suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES,
) -> tuple[ErrorDetail, ...]:
    """Every §2.3 field-rule failure of a create/update body; empty when the body is valid.

    Args:
        body: the parsed JSON body.
        query_organization_id: the organization the query parameters identify, if any.
        host_suffixes: accepted Key Vault host suffixes (``key_vault.host_suffixes``).
    """
    if not isinstance(body, Mapping):
        return (_detail("$", "InvalidJson", "Request body must be a JSON object."),)
    details: Details = []
    values = _typed_values(body, details)
    details += _check_name(values["Name"])
    details += _check_organization(values["OrganizationId"], query_organization_id)
    details += _check_key_vault(values["KeyVaultUri"], host_suffixes)
    details += _check_schema_name(values["SchemaName"])
    details += _check_table_prefix(values["TablePrefix"])
    details += _check_range(values["RetryCount"], "RetryCount", 0, 20, "")
    details += _check_range(values["RetryInterval"], "RetryInterval", 0, 3600, " seconds")
    details += _check_selections(values["Entities"], "Entities", "Entity", required=True)
    details += _check_selections(values["Relationships"], "Relationships", "Relationship", required=False)
    return tuple(details)


def _typed_values(body: Mapping[object, object], details: Details) -> dict[str, object]:
    """Field -> value (None when missing or null, ``_MISSING`` when of the wrong type: already reported)."""
    values: dict[str, object] = {}
    for name, type_name in _FIELD_TYPES.items():
        value = body.get(name)
        if value is not None and not _JSON_TYPES[type_name](value):
            article = "an" if type_name[0] in "aeiou" else "a"
            details.append(_detail(name, "InvalidType", f"{name} must be {article} {type_name}."))
            value = _MISSING
        values[name] = value
    return values


def _check_name(value: object) -> Details:
    if value is _MISSING:
        return []
    if not isinstance(value, str) or not value.strip():
        return [_detail("Name", "Required", "Name is required.")]
    if len(value.strip()) > 100:
        return [_detail("Name", "TooLong", "Name must be at most 100 characters.")]
    return []


def _check_organization(value: object, query_organization_id: str | None) -> Details:
    if value is _MISSING:
        return []
    if value is None:
        if query_organization_id is None:
            return [_detail("OrganizationId", "Required", "OrganizationId is required.")]
        return []
    if not is_guid(str(value)):
        return [_detail("OrganizationId", "InvalidFormat", "OrganizationId must be a GUID.")]
    if query_organization_id is not None and str(value).lower() != query_organization_id.lower():
        message = "OrganizationId does not match the organization named by the query parameters."
        return [_detail("OrganizationId", "Mismatch", message)]
    return []


def _check_key_vault(value: object, host_suffixes: tuple[str, ...]) -> Details:
    if value is _MISSING:
        return []
    if not isinstance(value, str) or not value.strip():
        return [_detail("KeyVaultUri", "Required", "KeyVaultUri is required.")]
    problem = secret_reference_problem(value, host_suffixes)
    return [_detail("KeyVaultUri", "InvalidFormat", problem)] if problem else []


def _check_schema_name(value: object) -> Details:
    if not isinstance(value, str):
        return []
    details: Details = []
    if not value or not _ALNUM.match(value):
        details.append(_detail("SchemaName", "InvalidFormat", "SchemaName must contain only letters and digits."))
    if len(value) > 128:
        details.append(_detail("SchemaName", "TooLong", "SchemaName must be at most 128 characters."))
    return details


def _check_table_prefix(value: object) -> Details:
    if not isinstance(value, str):
        return []
    details: Details = []
    if not _ALNUM.match(value):
        details.append(_detail("TablePrefix", "InvalidFormat", "TablePrefix must contain only letters and digits."))
    if len(value) >= 15:
        details.append(_detail("TablePrefix", "TooLong", "TablePrefix must be shorter than 15 characters."))
    return details


def _check_range(value: object, name: str, low: int, high: int, unit: str) -> Details:
    if not isinstance(value, int) or low <= value <= high:
        return []
    return [_detail(name, "OutOfRange", f"{name} must be between {low} and {high}{unit}.")]


def _check_selections(value: object, field_name: str, noun: str, *, required: bool) -> Details:
    if value is _MISSING:
        return []
    items = value if isinstance(value, list | tuple) else []
    if required and not items:
        return [_detail(field_name, "Required", "At least one entity must be selected.")]
    details: Details = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        details += _check_selection_item(item, f"{field_name}[{index}]", noun, seen)
    return details


def _check_selection_item(item: object, path: str, noun: str, seen: set[str]) -> Details:
    if not isinstance(item, Mapping):
        return [_detail(path, "InvalidType", f"{path} must be an object.")]
    name = item.get("Name")
    field_name = f"{path}.Name"
    if name is not None and not isinstance(name, str):
        return [_detail(field_name, "InvalidType", f"{field_name} must be a string.")]
    if name is None or not name.strip():
        return [_detail(field_name, "Required", f"{noun} name is required.")]
    key = name.strip().lower()
    if key in seen:
        return [_detail(field_name, "Duplicate", f"{noun} '{name}' is listed more than once.")]
    seen.add(key)
    if noun == "Entity" and key == ACTIVITY_POINTER:
        message = "Entity 'activitypointer' cannot be exported; select the individual activity entities instead."
        return [_detail(field_name, "NotSupported", message)]
    return []


def is_guid(text: str) -> bool:
    """Whether ``text`` is a GUID in ``8-4-4-4-12`` form."""
    try:
        return len(text) == 36 and uuid.UUID(text) is not None
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """What the selection rules need to know about one Dataverse entity."""

    change_tracking: bool
    is_intersect: bool = False


@dataclass(frozen=True, slots=True)
class SelectionCatalog:
    """Organization metadata for the selection rules: entities by lowercase logical name, M:N relationships
    by lowercase SchemaName."""

    entities: Mapping[str, EntityInfo] = field(default_factory=lambda: MappingProxyType({}))
    relationships: Mapping[str, ManyToManyRelationship] = field(default_factory=lambda: MappingProxyType({}))


def validate_selection(
    entities: Sequence[str], relationships: Sequence[str], catalog: SelectionCatalog
) -> tuple[ErrorDetail, ...]:
    """The metadata-dependent §2.3 rules for valid, de-duplicated entity and relationship names."""
    details: Details = []
    for index, name in enumerate(entities):
        details += _check_entity(name, f"Entities[{index}].Name", catalog)
    selected = {name.lower() for name in entities}
    for index, name in enumerate(relationships):
        details += _check_relationship(name, f"Relationships[{index}].Name", catalog, selected)
    return tuple(details)


def _check_entity(name: str, path: str, catalog: SelectionCatalog) -> Details:
    info = catalog.entities.get(name.lower())
    if info is None:
        return [_detail(path, "UnknownEntity", f"Entity '{name}' does not exist in the organization.")]
    if info.is_intersect:
        message = f"Entity '{name}' is an intersect entity; select its relationship instead."
        return [_detail(path, "NotSupported", message)]
    if not info.change_tracking:
        message = f"Entity '{name}' does not have change tracking enabled."
        return [_detail(path, "ChangeTrackingDisabled", message)]
    return []


def _check_relationship(name: str, path: str, catalog: SelectionCatalog, selected: set[str]) -> Details:
    relationship = catalog.relationships.get(name.lower())
    if relationship is None:
        message = f"Relationship '{name}' is not a many-to-many relationship in the organization."
        return [_detail(path, "UnknownRelationship", message)]
    if not all(entity.lower() in selected for entity in relationship.entities):
        first, second = relationship.entities
        message = f"Relationship '{name}' requires entities '{first}' and '{second}' to be selected."
        return [_detail(path, "EntityNotSelected", message)]
    return []


def validate_update(
    stored_organization_id: str,
    stored_schema_name: str,
    stored_table_prefix: str,
    body: Mapping[str, object],
    *,
    activated: bool,
) -> tuple[ErrorDetail, ...]:
    """``Immutable`` details for a PUT body that changes a field it may not change (DES §2.1, §2.3)."""
    details: Details = []
    organization = body.get("OrganizationId")
    changed = isinstance(organization, str) and organization.lower() != stored_organization_id.lower()
    if changed and is_guid(str(organization)):  # a malformed id is InvalidFormat only
        details.append(_detail("OrganizationId", "Immutable", "OrganizationId cannot be changed."))
    if activated:
        for name, stored in (("SchemaName", stored_schema_name), ("TablePrefix", stored_table_prefix)):
            value = body.get(name)
            if isinstance(value, str) and value != stored:
                message = f"{name} cannot be changed after the profile has been activated."
                details.append(_detail(name, "Immutable", message))
    return tuple(details)


def duplicate_name(name: str, other_names: Sequence[str]) -> tuple[ErrorDetail, ...]:
    """``Duplicate`` when another profile of the organization has the same name (case-insensitive)."""
    wanted = name.strip().casefold()
    if any(other.strip().casefold() == wanted for other in other_names):
        message = f"A profile named '{name.strip()}' already exists for this organization."
        return (_detail("Name", "Duplicate", message),)
    return ()
