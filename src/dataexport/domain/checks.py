"""Results of the ``test`` / ``validate`` / pre-flight checks (DES §5), with their DES JSON names.

``TestResult.model_dump(by_alias=True, mode="json")`` is exactly the §5 body: ``ProfileId`` (null for
validate), ``Succeeded``, ``StartedOn``/``CompletedOn`` as ISO 8601 UTC with ``Z``, and ``Results`` in the
fixed order of :data:`CHECK_NAMES`, each with ``Details`` in the error-detail shape of §3.1 (``Field`` only
when it has one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, SerializationInfo, field_serializer
from pydantic.alias_generators import to_pascal

from dataexport.domain.profile import ErrorDetail


class CheckName(StrEnum):
    """The §5 checks, in their fixed order."""

    PROFILE_FIELDS = "ProfileFields"
    DATAVERSE_ACCESS = "DataverseAccess"
    ENTITY_SELECTION = "EntitySelection"
    RELATIONSHIP_SELECTION = "RelationshipSelection"
    SECRET_ACCESS = "SecretAccess"
    SECRET_AUTHORIZATION = "SecretAuthorization"
    CONNECTION_STRING = "ConnectionString"
    DESTINATION_CONNECTION = "DestinationConnection"
    DESTINATION_SCHEMA = "DestinationSchema"
    DESTINATION_PERMISSIONS = "DestinationPermissions"
    DESTINATION_OBJECTS = "DestinationObjects"
    DESTINATION_IN_USE = "DestinationInUse"
    DESTINATION_SETTINGS = "DestinationSettings"


#: Every check name, in the order results are reported.
CHECK_NAMES: tuple[str, ...] = tuple(name.value for name in CheckName)


class CheckStatus(StrEnum):
    """The outcome of one check; only ``Failed`` makes a run fail."""

    PASSED = "Passed"
    FAILED = "Failed"
    WARNING = "Warning"
    SKIPPED = "Skipped"


class _DesModel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CheckResult(_DesModel):
    """One item of ``Results``."""

    name: str
    status: CheckStatus
    message: str
    details: tuple[ErrorDetail, ...] = ()

    @field_serializer("details")
    def _details(self, details: tuple[ErrorDetail, ...], info: SerializationInfo) -> list[dict[str, object]]:
        return [detail.model_dump(by_alias=info.by_alias, exclude_none=True) for detail in details]

    @property
    def passed(self) -> bool:
        """Passed or Warning: what later checks that depend on this one need."""
        return self.status in (CheckStatus.PASSED, CheckStatus.WARNING)


class TestResult(_DesModel):
    """The result of a run of every check (§5); ``Succeeded`` is true when no check ``Failed``."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite its name

    profile_id: str | None
    succeeded: bool
    started_on: datetime
    completed_on: datetime
    results: tuple[CheckResult, ...]

    @field_serializer("started_on", "completed_on")
    def _timestamps(self, value: datetime) -> str:
        return _utc_text(value)

    @classmethod
    def of(
        cls, profile_id: str | None, started_on: datetime, completed_on: datetime, results: Sequence[CheckResult]
    ) -> TestResult:
        """A result whose ``Succeeded`` is derived from ``results``."""
        succeeded = all(result.status is not CheckStatus.FAILED for result in results)
        return cls(
            profile_id=profile_id,
            succeeded=succeeded,
            started_on=started_on,
            completed_on=completed_on,
            results=tuple(results),
        )

    def result(self, name: str) -> CheckResult:
        """The result of check ``name``.

        Raises:
            KeyError: no such check in this run.
        """
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class DestinationIdentity:
    """Where a profile writes: two Active profiles with equal identities would write the same tables (§5 #12).

    Never holds a login or a password. Host names are lowercase; ports are filled with the engine default;
    ``namespace`` is the schema (SQL Server, PostgreSQL) or the database (MySQL/MariaDB), None for SQLite;
    ``prefix`` is the lowercased table prefix.
    """

    engine: str
    host: str | None
    port: int | None
    database: str | None
    namespace: str | None
    prefix: str

    def describe(self) -> str:
        """``postgresql 127.0.0.1:5432, database 'rep', schema 'dbo', prefix 'crm'`` (for messages)."""
        where = f"{self.host}:{self.port}" if self.host else "local file"
        parts = [f"{self.engine} {where}", f"database '{self.database}'"]
        if self.namespace is not None and self.namespace != self.database:
            parts.append(f"schema '{self.namespace}'")
        parts.append(f"prefix '{self.prefix}'" if self.prefix else "no prefix")
        return ", ".join(parts)
