"""Create and update bodies (DES §2.1, §2.3): every rule checked together, then the profile value built.

The checks that need Dataverse metadata run only on names that passed the field rules, so one response
reports every failing field without a misleading cascade.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from dataexport.domain.profile import (
    DEFAULT_RETRY_COUNT,
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_SCHEMA_NAME,
    DEFAULT_TABLE_PREFIX,
    ErrorDetail,
    ExportProfile,
    Selection,
)
from dataexport.domain.profile_rules import (
    SelectionCatalog,
    duplicate_name,
    validate_profile_body,
    validate_selection,
    validate_update,
)

Body = Mapping[str, object]


def body_problems(
    body: object,
    *,
    organization_id: str,
    query_organization_id: str | None,
    host_suffixes: tuple[str, ...],
    other_names: Sequence[str],
    catalog: SelectionCatalog | None,
    stored: ExportProfile | None = None,
) -> tuple[ErrorDetail, ...]:
    """Every §2.3 failure of a create (``stored`` None) or update body; empty when it is valid.

    ``catalog`` None skips the metadata rules (the caller reads metadata only when the body is an object).
    """
    details = list(
        validate_profile_body(body, query_organization_id=query_organization_id, host_suffixes=host_suffixes)
    )
    if not isinstance(body, Mapping):
        return tuple(details)
    if stored is not None:
        activated = stored.first_activated_on is not None
        details += validate_update(
            stored.organization_id, stored.schema_name, stored.table_prefix, body, activated=activated
        )
    name = body.get("Name")
    if isinstance(name, str) and name.strip():
        details += duplicate_name(name, other_names)
    if catalog is not None:
        details += _metadata_details(body, selected_names(body, "Entities"), catalog, details)
    del organization_id  # the query rule above already compared it
    return tuple(details)


def selected_names(body: Body, field: str) -> list[str]:
    """The names of a selection array, as sent (non-strings and blanks left out)."""
    items = body.get(field)
    if not isinstance(items, list):
        return []
    names = [item.get("Name") for item in items if isinstance(item, Mapping)]
    return [name.strip() for name in names if isinstance(name, str) and name.strip()]


def _metadata_details(
    body: Body, entities: list[str], catalog: SelectionCatalog, found: list[ErrorDetail]
) -> tuple[ErrorDetail, ...]:
    """Metadata rules for the items whose field rules passed, reported at their index in the body."""
    failed = {detail.field for detail in found}
    details: list[ErrorDetail] = []
    for field in ("Entities", "Relationships"):
        for index, name in _indexed_names(body, field):
            path = f"{field}[{index}].Name"
            if path in failed:
                continue
            if field == "Entities":
                checked = validate_selection([name], [], catalog)
            else:
                checked = tuple(
                    d for d in validate_selection(entities, [name], catalog) if (d.field or "").startswith(field)
                )
            details += [detail.model_copy(update={"field": path}) for detail in checked]
    return tuple(details)


def _indexed_names(body: Body, field: str) -> list[tuple[int, str]]:
    items = body.get(field)
    if not isinstance(items, list):
        return []
    pairs = ((index, item.get("Name")) for index, item in enumerate(items) if isinstance(item, Mapping))
    return [(index, name.strip()) for index, name in pairs if isinstance(name, str) and name.strip()]


def build_profile(body: Body, *, organization_id: str, stored: ExportProfile | None) -> ExportProfile:
    """The profile a valid body describes (PUT: a full replace of the mutable fields, DES §2.1)."""
    frozen = stored is not None and stored.first_activated_on is not None

    def text(field: str, default: str) -> str:
        value = body.get(field)
        return value if isinstance(value, str) else default

    def number(field: str, default: int) -> int:
        value = body.get(field)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    schema = stored.schema_name if frozen and stored else text("SchemaName", DEFAULT_SCHEMA_NAME)
    prefix = stored.table_prefix if frozen and stored else text("TablePrefix", DEFAULT_TABLE_PREFIX)
    values: dict[str, object] = {
        "id": stored.id if stored else str(uuid.uuid4()),
        "name": str(body["Name"]).strip(),
        "organization_id": organization_id,
        "key_vault_uri": str(body["KeyVaultUri"]),
        "schema_name": schema,
        "table_prefix": prefix,
        "retry_count": number("RetryCount", DEFAULT_RETRY_COUNT),
        "retry_interval": number("RetryInterval", DEFAULT_RETRY_INTERVAL),
        "write_delete_log": body.get("WriteDeleteLog") is True,
        "entities": tuple(Selection(name=name.lower()) for name in selected_names(body, "Entities")),
        "relationships": tuple(Selection(name=name) for name in selected_names(body, "Relationships")),
    }
    if stored is None:
        return ExportProfile(**values)
    return stored.model_copy(update=values)
