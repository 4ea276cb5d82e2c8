"""The export profile (DES §2.1) as a frozen value with its DES JSON names.

Validation of request bodies lives in :mod:`dataexport.domain.profile_rules`; this model is built from a
body those rules accepted. ``KeyVaultUri`` is a secret *reference* (§1.7), never a secret.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from dataexport.domain.sync import RetryPolicy

DEFAULT_SCHEMA_NAME = "dbo"
DEFAULT_TABLE_PREFIX = ""
DEFAULT_RETRY_COUNT = 12
DEFAULT_RETRY_INTERVAL = 5


class ProfileState(StrEnum):
    """Profile lifecycle states (DES §4.1)."""

    DRAFT = "Draft"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class ActivationMode(StrEnum):
    """What an active profile does (DES §4.1)."""

    FULL = "Full"
    METADATA_ONLY = "MetadataOnly"
    DATA_ONLY = "DataOnly"


class _DesModel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True)


class Selection(_DesModel):
    """An item of ``Entities`` or ``Relationships``: ``{"Name": ...}``."""

    name: str


class ErrorDetail(_DesModel):
    """One item of an error body's ``Details`` (DES §2.3, §3.1)."""

    field: str | None = None
    code: str
    message: str


class ExportProfile(_DesModel):
    """An export profile; JSON names are PascalCase (``KeyVaultUri``, ``RetryCount``...).

    Entity names are stored lowercase; relationship names as Dataverse spells them.
    """

    id: str
    name: str
    organization_id: str
    key_vault_uri: str
    schema_name: str = DEFAULT_SCHEMA_NAME
    table_prefix: str = DEFAULT_TABLE_PREFIX
    retry_count: int = DEFAULT_RETRY_COUNT
    retry_interval: int = DEFAULT_RETRY_INTERVAL
    write_delete_log: bool = False
    entities: tuple[Selection, ...] = Field(min_length=1)
    relationships: tuple[Selection, ...] = ()
    state: ProfileState = ProfileState.DRAFT
    activation_mode: ActivationMode | None = None
    created_on: datetime | None = None
    modified_on: datetime | None = None
    # Internal, never part of the public Profile JSON: the first activation freezes SchemaName and TablePrefix
    # (§2.1); the last profile-wide error is the status block's LastError (§2.2).
    first_activated_on: datetime | None = None
    last_error: str | None = None

    @property
    def retry_policy(self) -> RetryPolicy:
        """The record retry rules of this profile (DES §8.2)."""
        return RetryPolicy(self.retry_count, self.retry_interval)

    @property
    def entity_names(self) -> tuple[str, ...]:
        """Selected entity logical names, lowercase, in profile order."""
        return tuple(selection.name.lower() for selection in self.entities)

    @property
    def relationship_names(self) -> tuple[str, ...]:
        """Selected relationship SchemaNames, in profile order."""
        return tuple(selection.name for selection in self.relationships)
