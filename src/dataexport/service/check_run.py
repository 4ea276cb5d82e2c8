"""The working state of one run of the §5 checks (:class:`CheckRun`), what the checks are given
(:class:`CheckSubject`, :class:`CheckDeps`) and the body helpers they share. The checks are :mod:`.check_list`;
:func:`~dataexport.service.checks.run_checks` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.sql import inspection
from dataexport.destination.sql.context import error_message
from dataexport.destination.sql.naming import DELETE_LOG, METADATA_TABLES
from dataexport.domain.checks import CheckName, CheckResult, CheckStatus, DestinationIdentity
from dataexport.domain.profile import DEFAULT_SCHEMA_NAME, DEFAULT_TABLE_PREFIX, ErrorDetail, ExportProfile
from dataexport.domain.profile_rules import validate_profile_body
from dataexport.domain.schema import ManyToManyRelationship
from dataexport.domain.secret_refs import DEFAULT_HOST_SUFFIXES, SecretReference
from dataexport.errors import DataExportError
from dataexport.source.base import Caller, EntitySummary

DEFAULT_CONNECT_TIMEOUT = 30.0


class SourceLike(Protocol):
    """The Dataverse calls the checks make (:class:`~dataexport.source.dataverse.DataverseSource` has them)."""

    def who_am_i(self) -> Caller:
        """``WhoAmI`` with the organization's credentials (raises when no token can be had)."""
        ...

    def entities(self) -> tuple[EntitySummary, ...]:
        """Every table of the organization."""
        ...

    def find_many_to_many(self, schema_name: str) -> ManyToManyRelationship | None:
        """The N:N relationship with that SchemaName, or None."""
        ...

    def probe(self, entity: EntitySummary) -> None:
        """Read one row of ``entity`` (primary key only); raises when the read is refused."""
        ...


class SecretsLike(Protocol):
    """Secret resolution as the checks need it (``dataexport.secrets``)."""

    def resolve(self, reference: SecretReference) -> str:
        """The secret's value; raises an error naming the reference (never the value) when it cannot be read."""
        ...

    def read_tags(self, reference: SecretReference) -> Mapping[str, str] | None:
        """The Key Vault secret's tags (None for references that have none)."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_active_profiles(_identity: DestinationIdentity) -> Sequence[str]:
    return ()


@dataclass(frozen=True, slots=True)
class CheckSubject:
    """What is checked.

    Attributes:
        profile: the body as sent (validate) or the stored profile (test, pre-flight).
        organization_id: the registered organization's id.
        tenant_id: its Entra tenant id (the Key Vault tag's expected value); None when unknown.
        profile_id: the stored profile's id; None for validate.
        activated: the profile was activated before, so existing target tables are its own (not "adopted").
    """

    profile: Mapping[str, object] | ExportProfile
    organization_id: str
    tenant_id: str | None = None
    profile_id: str | None = None
    activated: bool = False

    def body(self) -> Mapping[str, object]:
        """The profile as a §2.1 JSON object."""
        if isinstance(self.profile, ExportProfile):
            dumped: dict[str, object] = self.profile.model_dump(by_alias=True, mode="json")
            return dumped
        return self.profile


@dataclass(frozen=True, slots=True)
class CheckDeps:
    """What the checks use; the service layer supplies it. The source returned by ``source`` is not closed
    here: its owner (usually a per-organization cache) closes it.

    Attributes:
        source: builds (or hands out) the organization's source; raising counts as ``DataverseAccess`` failing.
        secrets: resolves secret references and reads Key Vault tags.
        other_profile_names: names of the organization's other profiles (the ``Duplicate`` name rule).
        destinations_in_use: names of the *other* Active profiles writing to a destination identity.
        host_suffixes: accepted Key Vault host suffixes (``key_vault.host_suffixes``).
        data_dir: the service's data directory (relative SQLite paths resolve there).
        connect_timeout: seconds the destination login may take (check 8).
        clock: the service clock (aware UTC).
    """

    source: Callable[[], SourceLike]
    secrets: SecretsLike
    other_profile_names: Sequence[str] = ()
    destinations_in_use: Callable[[DestinationIdentity], Sequence[str]] = _no_active_profiles
    host_suffixes: tuple[str, ...] = DEFAULT_HOST_SUFFIXES
    data_dir: Path = Path("var")
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    clock: Callable[[], datetime] = _utc_now


@dataclass(frozen=True, slots=True)
class Outcome:
    status: CheckStatus
    message: str
    details: tuple[ErrorDetail, ...] = ()


def passed(message: str, details: Sequence[ErrorDetail] = ()) -> Outcome:
    return Outcome(CheckStatus.PASSED, message, tuple(details))


def failed(message: str, details: Sequence[ErrorDetail] = ()) -> Outcome:
    return Outcome(CheckStatus.FAILED, message, tuple(details))


@dataclass
class CheckRun:
    """One run's working state, filled in as the checks pass."""

    subject: CheckSubject
    deps: CheckDeps
    body: Mapping[str, object]
    results: dict[CheckName, CheckResult] = field(default_factory=dict)
    source: SourceLike | None = None
    relationships: dict[str, ManyToManyRelationship] = field(default_factory=dict)
    reference: SecretReference | None = None
    secret: str | None = None
    url: URL | None = None
    engine: Engine | None = None
    connection: Connection | None = None
    _target: inspection.DestinationTarget | None = None
    _objects: inspection.ObjectReport | None = None

    def passed(self, name: CheckName) -> bool:
        result = self.results.get(name)
        return result is not None and result.passed

    def require_source(self) -> SourceLike:
        assert self.source is not None, "DataverseAccess passed"
        return self.source

    def require_connection(self) -> Connection:
        assert self.connection is not None, "DestinationConnection passed"
        return self.connection

    def target(self) -> inspection.DestinationTarget:
        """The destination target (raises ``InvalidIdentifier`` for an invalid SchemaName or TablePrefix)."""
        if self._target is None:
            assert self.url is not None, "ConnectionString passed"
            schema = text_field(self.body, "SchemaName", DEFAULT_SCHEMA_NAME)
            prefix = text_field(self.body, "TablePrefix", DEFAULT_TABLE_PREFIX)
            self._target = inspection.build_target(self.url, schema, prefix)
        return self._target

    def objects(self) -> inspection.ObjectReport:
        if self._objects is None:
            wanted = wanted_tables(self)
            self._objects = inspection.inspect_objects(self.require_connection(), self.target(), wanted)
        return self._objects

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.engine is not None:
            self.engine.dispose()


Check = Callable[[CheckRun], Outcome]
Skip = Callable[[CheckRun], str | None]


# ----- body helpers ---------------------------------------------------------------------------------------


def text_field(body: Mapping[str, object], name: str, default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string (see ProfileFields)")
    return value


def is_item_detail(detail: ErrorDetail, list_field: str) -> bool:
    return (detail.field or "").startswith(f"{list_field}[")


def selection(run: CheckRun, list_field: str) -> tuple[list[ErrorDetail], list[tuple[int, str]]]:
    """The item rule failures of ``Entities``/``Relationships`` and the (index, name) of the items that pass."""
    rules = validate_profile_body(run.body, host_suffixes=run.deps.host_suffixes)
    details = [detail for detail in rules if is_item_detail(detail, list_field)]
    items = run.body.get(list_field)
    names: list[tuple[int, str]] = []
    for index, item in enumerate(items if isinstance(items, list | tuple) else []):
        flagged = any((detail.field or "").startswith(f"{list_field}[{index}]") for detail in details)
        if not flagged and isinstance(item, Mapping) and isinstance(item.get("Name"), str):
            names.append((index, str(item["Name"]).strip()))
    return details, names


def at_index(details: Sequence[ErrorDetail], list_field: str, index: int) -> list[ErrorDetail]:
    """Selection-rule details of a one-item list, moved to the item's real index."""
    return [
        detail.model_copy(update={"field": (detail.field or "").replace(f"{list_field}[0]", f"{list_field}[{index}]")})
        for detail in details
        if is_item_detail(detail, list_field)
    ]


def wanted_tables(run: CheckRun) -> list[inspection.WantedTable]:
    naming = run.target().naming
    _details, entities = selection(run, "Entities")
    wanted = [inspection.WantedTable(naming.entity_table(name.lower())) for _index, name in entities]
    wanted += [inspection.WantedTable(naming.entity_table(rel.intersect_entity)) for rel in run.relationships.values()]
    wanted += [inspection.WantedTable(naming.fixed_table(name), keyed=False) for name in METADATA_TABLES]
    if run.body.get("WriteDeleteLog") is True:
        wanted.append(inspection.WantedTable(naming.fixed_table(DELETE_LOG), keyed=False))
    return wanted


def listed(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def describe(error: BaseException) -> str:
    """An error as a check message: the driver's message, ours, or the type and text."""
    if isinstance(error, SQLAlchemyError):
        return error_message(error)
    if isinstance(error, DataExportError):
        return str(error)
    return f"{type(error).__name__}: {error}"
