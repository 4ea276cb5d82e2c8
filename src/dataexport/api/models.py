"""The API's JSON shapes (DES §2-3, §5, §8), one model per direction; secrets never reach a response model.

Request bodies are parsed by the §2.3 rules, not by these models (a wrong JSON type must be 400 ``InvalidType``,
never a 422 or a coercion); :class:`ProfileRequest` only documents the body in the OpenAPI document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_pascal

from dataexport.domain.profile import ActivationMode, ExportProfile, ProfileState
from dataexport.domain.timestamps import Timestamp
from dataexport.service.status import ProfileStatus
from dataexport.store.values import Organization


class DesModel(BaseModel):
    """PascalCase JSON names, as DES used them."""

    model_config = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True)


class ErrorDetailBody(DesModel):
    field: str | None = None
    code: str
    message: str


class ErrorContent(DesModel):
    code: str
    message: str
    details: list[ErrorDetailBody] | None = None
    test_result: dict[str, object] | None = Field(default=None, description="Present on 409 PreflightFailed (§5).")


class ErrorBody(DesModel):
    """Every non-2xx answer: ``{"Error": {"Code", "Message", "Details"?}}``."""

    error: ErrorContent


class OrganizationOut(DesModel):
    organization_id: str
    organization_url: str
    friendly_name: str | None
    unique_name: str | None
    tenant_id: str | None
    region: str | None
    privacy_terms_accepted: bool

    @classmethod
    def of(cls, organization: Organization) -> OrganizationOut:
        return cls(
            organization_id=organization.id,
            organization_url=organization.url,
            friendly_name=organization.friendly_name,
            unique_name=organization.unique_name,
            tenant_id=organization.tenant_id,
            region=organization.region,
            privacy_terms_accepted=organization.privacy_terms_accepted_at is not None,
        )


class ConnectorOut(DesModel):
    connector_url: str = Field(serialization_alias="ConnectorUrl")


class EntityInfoOut(DesModel):
    logical_name: str
    schema_name: str | None
    display_name: str | None
    entity_set_name: str
    primary_id_attribute: str
    is_change_tracking_enabled: bool


class RelationshipInfoOut(DesModel):
    schema_name: str
    intersect_entity_name: str
    entity1_logical_name: str
    entity1_intersect_attribute: str
    entity2_logical_name: str
    entity2_intersect_attribute: str


class SelectionBody(DesModel):
    name: str


class ProfileRequest(DesModel):
    """The create/update body (§2.1). Documentation only: bodies are checked by the §2.3 rules."""

    name: str = Field(max_length=100, description="1-100 characters, unique per organization (case-insensitive).")
    organization_id: str | None = Field(
        default=None, description="Required unless the organizationId or organizationUrl query names the org."
    )
    key_vault_uri: str = Field(
        description="A Key Vault secret URL without version, or an env: or file: reference to the connection string."
    )
    schema_name: str | None = Field(default="dbo", pattern=r"^[A-Za-z0-9]{1,128}$")
    table_prefix: str | None = Field(default="", pattern=r"^[A-Za-z0-9]{0,14}$")
    retry_count: int | None = Field(default=12, ge=0, le=20)
    retry_interval: int | None = Field(
        default=5,
        ge=0,
        le=3600,
        description="Seconds between record retries. A record is given up after at most RetryCount x RetryInterval "
        "(20 x 3,600 s = 20 h at the limits).",
    )
    write_delete_log: bool | None = False
    entities: list[SelectionBody] = Field(min_length=1)
    relationships: list[SelectionBody] | None = None


class ProfileOut(DesModel):
    """A profile as the API returns it (§2.1); ``Status`` only with ``?status=true``."""

    id: str
    name: str
    organization_id: str
    key_vault_uri: str
    schema_name: str
    table_prefix: str
    retry_count: int
    retry_interval: int
    write_delete_log: bool
    entities: list[SelectionBody]
    relationships: list[SelectionBody]
    state: ProfileState
    activation_mode: ActivationMode | None
    created_on: Timestamp | None
    modified_on: Timestamp | None
    status: ProfileStatus | None = None

    @model_serializer(mode="wrap")
    def _omit_missing_status(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """``Status`` appears only with ``?status=true`` (§2.2); other nulls stay."""
        data: dict[str, object] = handler(self)
        if self.status is None:
            data.pop("Status", None)
            data.pop("status", None)
        return data

    @classmethod
    def of(cls, profile: ExportProfile, status: ProfileStatus | None = None) -> ProfileOut:
        return cls(
            id=profile.id,
            name=profile.name,
            organization_id=profile.organization_id,
            key_vault_uri=profile.key_vault_uri,
            schema_name=profile.schema_name,
            table_prefix=profile.table_prefix,
            retry_count=profile.retry_count,
            retry_interval=profile.retry_interval,
            write_delete_log=profile.write_delete_log,
            entities=[SelectionBody(name=s.name) for s in profile.entities],
            relationships=[SelectionBody(name=s.name) for s in profile.relationships],
            state=profile.state,
            activation_mode=profile.activation_mode,
            created_on=profile.created_on,
            modified_on=profile.modified_on,
            status=status,
        )


class FailuresInfoOut(DesModel):
    failures_blob_uri: str
    expires_on: Timestamp


class ResyncRunOut(DesModel):
    profile_id: str
    run_id: str
    queued_records: int
    started_on: Timestamp
    state: str
    succeeded: int
    failed: int
    completed_on: Timestamp | None = None


class HealthOut(DesModel):
    status: str
