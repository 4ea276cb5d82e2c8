"""The ``test`` / ``validate`` / pre-flight checks of DES §5: :func:`run_checks`.

Every check of :data:`~dataexport.domain.checks.CHECK_NAMES` appears in the result, in that order. A check is
``Skipped`` when a check it depends on did not pass (or it does not apply, e.g. the tag check on an ``env:``
reference); an exception inside a check becomes that check's ``Failed`` result. Nothing is written anywhere:
the destination is opened for reading only (a missing SQLite file is not created).

Secrets: the connection string lives only in this run's memory. Every message is scrubbed of it and of its
password before it is returned, so a driver error quoting either cannot leak.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, quote_plus

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.sql import inspection
from dataexport.destination.sql.context import error_message
from dataexport.destination.sql.naming import DELETE_LOG, METADATA_TABLES
from dataexport.domain.checks import CheckName, CheckResult, CheckStatus, DestinationIdentity, TestResult
from dataexport.domain.profile import DEFAULT_SCHEMA_NAME, DEFAULT_TABLE_PREFIX, ErrorDetail, ExportProfile
from dataexport.domain.profile_rules import (
    EntityInfo,
    SelectionCatalog,
    duplicate_name,
    validate_profile_body,
    validate_selection,
)
from dataexport.domain.schema import ManyToManyRelationship
from dataexport.domain.secret_refs import (
    DEFAULT_HOST_SUFFIXES,
    SecretReference,
    SecretReferenceKind,
    parse_secret_reference,
    secret_reference_problem,
)
from dataexport.errors import DataExportError
from dataexport.secrets.resolver import tag_check_problem
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
class _Outcome:
    status: CheckStatus
    message: str
    details: tuple[ErrorDetail, ...] = ()


def _passed(message: str, details: Sequence[ErrorDetail] = ()) -> _Outcome:
    return _Outcome(CheckStatus.PASSED, message, tuple(details))


def _failed(message: str, details: Sequence[ErrorDetail] = ()) -> _Outcome:
    return _Outcome(CheckStatus.FAILED, message, tuple(details))


@dataclass
class _Run:
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
            schema = _text_field(self.body, "SchemaName", DEFAULT_SCHEMA_NAME)
            prefix = _text_field(self.body, "TablePrefix", DEFAULT_TABLE_PREFIX)
            self._target = inspection.build_target(self.url, schema, prefix)
        return self._target

    def objects(self) -> inspection.ObjectReport:
        if self._objects is None:
            wanted = _wanted_tables(self)
            self._objects = inspection.inspect_objects(self.require_connection(), self.target(), wanted)
        return self._objects

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.engine is not None:
            self.engine.dispose()


def run_checks(subject: CheckSubject, deps: CheckDeps) -> TestResult:
    """Run every §5 check in order and return the result (never raises for a failing check)."""
    started = deps.clock()
    run = _Run(subject, deps, subject.body())
    try:
        for name, check, skip in _CHECKS:
            run.results[name] = _run_one(run, name, check, skip)
    finally:
        run.close()
    results = [_scrubbed(run.results[name], _secrets_of(run)) for name, _check, _skip in _CHECKS]
    return TestResult.of(subject.profile_id, started, deps.clock(), results)


Check = Callable[[_Run], _Outcome]
Skip = Callable[[_Run], str | None]


def _run_one(run: _Run, name: CheckName, check: Check, skip: Skip) -> CheckResult:
    reason = skip(run)
    if reason is not None:
        return CheckResult(name=name.value, status=CheckStatus.SKIPPED, message=reason)
    try:
        outcome = check(run)
    except Exception as error:  # a check that cannot complete fails, saying why
        outcome = _failed(f"{name.value} could not be completed: {_describe(error)}")
    return CheckResult(name=name.value, status=outcome.status, message=outcome.message, details=outcome.details)


def _describe(error: BaseException) -> str:
    if isinstance(error, SQLAlchemyError):
        return error_message(error)
    if isinstance(error, DataExportError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _secrets_of(run: _Run) -> tuple[str, ...]:
    values = [run.secret or ""]
    if run.url is not None and run.url.password:
        password = str(run.url.password)
        values += [password, quote(password, safe=""), quote_plus(password)]
    return tuple(sorted({value for value in values if value}, key=len, reverse=True))


def _scrubbed(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    details = tuple(detail.model_copy(update={"message": scrub(detail.message)}) for detail in result.details)
    return result.model_copy(update={"message": scrub(result.message), "details": details})


# ----- skip rules -----------------------------------------------------------------------------------------


def _never(_run: _Run) -> str | None:
    return None


def _after(*names: CheckName) -> Skip:
    def skip(run: _Run) -> str | None:
        failed = next((name for name in names if not run.passed(name)), None)
        return None if failed is None else f"Skipped: {failed.value} did not pass."

    return skip


def _skip_tags(run: _Run) -> str | None:
    if run.reference is not None and run.reference.kind is not SecretReferenceKind.KEY_VAULT:
        form = "an env:" if run.reference.kind is SecretReferenceKind.ENV else "a file:"
        return f"Skipped: KeyVaultUri is {form} reference; the tag check applies to Key Vault secrets only."
    return _after(CheckName.SECRET_ACCESS)(run)


def _skip_schema(run: _Run) -> str | None:
    reason = _after(CheckName.DESTINATION_CONNECTION)(run)
    if reason is None and run.url is not None and inspection.inspector_for(run.url).namespace_state is None:
        return f"Skipped: {inspection.product_name(run.url)} has no schemas."
    return reason


def _skip_settings(run: _Run) -> str | None:
    reason = _after(CheckName.DESTINATION_CONNECTION)(run)
    if reason is None and run.url is not None and inspection.inspector_for(run.url).settings_advice is None:
        return "Skipped: advisory settings are checked on SQL Server only."
    return reason


# ----- body helpers ---------------------------------------------------------------------------------------


def _text_field(body: Mapping[str, object], name: str, default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string (see ProfileFields)")
    return value


def _is_item_detail(detail: ErrorDetail, list_field: str) -> bool:
    return (detail.field or "").startswith(f"{list_field}[")


def _selection(run: _Run, list_field: str) -> tuple[list[ErrorDetail], list[tuple[int, str]]]:
    """The item rule failures of ``Entities``/``Relationships`` and the (index, name) of the items that pass."""
    rules = validate_profile_body(run.body, host_suffixes=run.deps.host_suffixes)
    details = [detail for detail in rules if _is_item_detail(detail, list_field)]
    items = run.body.get(list_field)
    names: list[tuple[int, str]] = []
    for index, item in enumerate(items if isinstance(items, list | tuple) else []):
        flagged = any((detail.field or "").startswith(f"{list_field}[{index}]") for detail in details)
        if not flagged and isinstance(item, Mapping) and isinstance(item.get("Name"), str):
            names.append((index, str(item["Name"]).strip()))
    return details, names


def _at_index(details: Sequence[ErrorDetail], list_field: str, index: int) -> list[ErrorDetail]:
    """Selection-rule details of a one-item list, moved to the item's real index."""
    return [
        detail.model_copy(update={"field": (detail.field or "").replace(f"{list_field}[0]", f"{list_field}[{index}]")})
        for detail in details
        if _is_item_detail(detail, list_field)
    ]


def _wanted_tables(run: _Run) -> list[inspection.WantedTable]:
    naming = run.target().naming
    _details, entities = _selection(run, "Entities")
    wanted = [inspection.WantedTable(naming.entity_table(name.lower())) for _index, name in entities]
    wanted += [inspection.WantedTable(naming.entity_table(rel.intersect_entity)) for rel in run.relationships.values()]
    wanted += [inspection.WantedTable(naming.fixed_table(name), keyed=False) for name in METADATA_TABLES]
    if run.body.get("WriteDeleteLog") is True:
        wanted.append(inspection.WantedTable(naming.fixed_table(DELETE_LOG), keyed=False))
    return wanted


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


# ----- checks 1-4: the profile and Dataverse ----------------------------------------------------------------


def _profile_fields(run: _Run) -> _Outcome:
    rules = validate_profile_body(
        run.body, query_organization_id=run.subject.organization_id, host_suffixes=run.deps.host_suffixes
    )
    details = [d for d in rules if not _is_item_detail(d, "Entities") and not _is_item_detail(d, "Relationships")]
    name = run.body.get("Name")
    if isinstance(name, str) and name.strip():
        details = [*duplicate_name(name, run.deps.other_profile_names), *details]  # Name's rules come first
    if details:
        return _failed(f"{len(details)} field rule(s) failed; see Details.", details)
    return _passed("All fields are valid.")


def _dataverse_access(run: _Run) -> _Outcome:
    try:
        run.source = run.deps.source()
        caller = run.source.who_am_i()
    except Exception as error:
        message = f"Could not sign in to the organization's Dataverse: {_describe(error)}"
        return _failed(f"{message}. Check the organization's URL, client id and client secret.")
    registered = run.subject.organization_id
    if caller.organization_id.lower() != registered.lower():
        message = (
            f"Dataverse answers as organization {caller.organization_id}, but the registered organization is "
            f"{registered} (OrganizationMismatch): the environment at this URL was replaced or copied; "
            "check the organization's URL."
        )
        return _failed(message, [ErrorDetail(code="OrganizationMismatch", message=message)])
    return _passed(f"Signed in to Dataverse as user {caller.user_id} of organization {caller.organization_id}.")


def _entity_selection(run: _Run) -> _Outcome:
    details, names = _selection(run, "Entities")
    if not names and not details:
        return _failed("No entity is selected; see ProfileFields.")
    source = run.require_source()
    summaries = {entity.logical_name.lower(): entity for entity in source.entities()}
    infos = {name: EntityInfo(entity.change_tracking, entity.is_intersect) for name, entity in summaries.items()}
    catalog = SelectionCatalog(entities=infos)
    for index, name in names:
        problems = _at_index(validate_selection([name], [], catalog), "Entities", index)
        details += problems or _probe(source, summaries[name.lower()], index, name)
    if details:
        return _failed(f"{len(details)} problem(s) with the selected entities; see Details.", details)
    return _passed(f"{len(names)} entities exist, are change-tracked and can be read.")


def _probe(source: SourceLike, entity: EntitySummary, index: int, name: str) -> list[ErrorDetail]:
    try:
        source.probe(entity)
    except DataExportError as error:
        message = f"Entity '{name}' cannot be read: {error.message}. Grant the app user Read on it."
        return [ErrorDetail(field=f"Entities[{index}].Name", code="NotReadable", message=message)]
    return []


def _relationship_selection(run: _Run) -> _Outcome:
    details, names = _selection(run, "Relationships")
    source = run.require_source()
    entities = [name for _index, name in _selection(run, "Entities")[1]]
    for index, name in names:
        found = source.find_many_to_many(name)
        catalog = SelectionCatalog(relationships={name.lower(): found} if found else {})
        problems = _at_index(validate_selection(entities, [name], catalog), "Relationships", index)
        details += problems
        if found is not None and not problems:
            run.relationships[found.schema_name] = found
    if details:
        return _failed(f"{len(details)} problem(s) with the selected relationships; see Details.", details)
    if not names:
        return _passed("No relationship is selected.")
    return _passed(f"{len(names)} relationship(s) exist, are many-to-many and have both entities selected.")


# ----- checks 5-7: the secret ------------------------------------------------------------------------------


def _secret_access(run: _Run) -> _Outcome:
    text = run.body.get("KeyVaultUri")
    if not isinstance(text, str) or not text.strip():
        return _failed("KeyVaultUri is required.")
    problem = secret_reference_problem(text, run.deps.host_suffixes)
    if problem is not None:
        return _failed(problem)
    run.reference = parse_secret_reference(text, run.deps.host_suffixes)
    try:
        value = run.deps.secrets.resolve(run.reference)
    except Exception as error:
        return _failed(f"Secret reference '{text}' could not be read: {_describe(error)}")
    if not value.strip():
        return _failed(f"Secret reference '{text}' resolves to an empty value: store the connection string in it.")
    run.secret = value
    return _passed(f"Secret reference '{text}' resolves to a non-empty value.")


def _secret_authorization(run: _Run) -> _Outcome:
    reference = run.reference
    assert reference is not None, "SecretAccess passed"
    secret_name = reference.secret_name or reference.text
    if not run.subject.tenant_id:
        return _failed(f"The tenant id of organization {run.subject.organization_id} is not known: configure it.")
    tags = run.deps.secrets.read_tags(reference)
    problem = tag_check_problem(tags, run.subject.organization_id, run.subject.tenant_id, secret_name)
    if problem is not None:
        return _failed(problem)
    return _passed(f"Secret '{secret_name}' is tagged for organization {run.subject.organization_id}.")


def _connection_string(run: _Run) -> _Outcome:
    assert run.secret is not None, "SecretAccess passed"
    run.url = url = inspection.parse_url(run.secret, run.deps.data_dir)
    product = inspection.product_name(url)
    if url.get_backend_name() == "sqlite":
        return _passed(f"The connection string names the {product} file '{url.database}'.")
    return _passed(f"The connection string names the {product} database '{url.database}' on {url.host}.")


# ----- checks 8-13: the destination ----------------------------------------------------------------------


def _destination_connection(run: _Run) -> _Outcome:
    url = run.url
    assert url is not None, "ConnectionString passed"
    timeout = run.deps.connect_timeout
    try:
        run.engine = inspection.open_engine(url, timeout)
        run.connection = run.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        server = inspection.inspector_for(url).server(run.connection)
    except SQLAlchemyError as error:
        where = url.database if url.get_backend_name() == "sqlite" else f"{url.host}:{url.port or 'default port'}"
        return _failed(
            f"Could not connect to {inspection.product_name(url)} at {where} within {timeout:g} s: "
            f"{error_message(error)}. Check the server address, the firewall and the login in the connection string."
        )
    if inspection.is_new_sqlite_file(url):
        return _passed(f"Connected to {server}; the file '{url.database}' does not exist yet and will be created.")
    return _passed(f"Connected to {server}.")


def _destination_schema(run: _Run) -> _Outcome:
    target = run.target()
    state_of = target.inspector.namespace_state
    assert state_of is not None, "not skipped"
    state = state_of(run.require_connection(), target)
    noun = "Database" if target.inspector.namespace_kind == "database" else "Schema"
    if state.exists:
        return _passed(f"{noun} '{target.namespace}' exists.")
    if state.may_create:
        return _passed(f"{noun} '{target.namespace}' does not exist; the login may create it, and activation will.")
    return _failed(
        f"{noun} '{target.namespace}' does not exist and the login may not create it: create it, or grant the "
        "login CREATE on the database."
    )


def _destination_permissions(run: _Run) -> _Outcome:
    target = run.target()
    missing = target.inspector.missing_rights(run.require_connection(), target, run.objects().existing)
    if missing:
        details = [ErrorDetail(code="MissingPermission", message=f"The login lacks {right}.") for right in missing]
        return _failed(f"The login lacks {len(missing)} right(s) the writer needs: {'; '.join(missing)}.", details)
    where = f"'{target.namespace}'" if target.namespace else f"'{target.url.database}'"
    return _passed(f"The login holds every right the writer needs on {where}.")


def _destination_objects(run: _Run) -> _Outcome:
    target, report = run.target(), run.objects()
    details = [
        ErrorDetail(
            code="NotATable",
            message=f"'{target.qualified(name)}' exists and is not a table: drop or rename it, or change TablePrefix.",
        )
        for name in report.not_tables
    ]
    details += [
        ErrorDetail(code="NotATable", message=f"{reason}: fix or drop it.") for _name, reason in report.unusable
    ]
    adopted = () if run.subject.activated else report.existing
    details += [
        ErrorDetail(code="TableExists", message=f"Table '{target.qualified(name)}' exists and will be adopted.")
        for name in adopted
    ]
    if report.not_tables or report.unusable:
        clashes = [*report.not_tables, *(name for name, _reason in report.unusable)]
        return _failed(f"Target names are taken by objects that cannot be used: {_listed(clashes)}.", details)
    if adopted:
        return _Outcome(CheckStatus.WARNING, f"Existing tables will be adopted: {_listed(adopted)}.", tuple(details))
    if report.existing:
        return _passed(f"{len(report.existing)} target table(s) exist, created by this profile; no name clashes.")
    return _passed("No target name is taken; every table will be created.")


def _destination_in_use(run: _Run) -> _Outcome:
    identity = inspection.destination_identity(run.target())
    others = list(run.deps.destinations_in_use(identity))
    if others:
        message = (
            f"Active profile(s) {_listed(others)} already write to {identity.describe()}: choose another "
            "TablePrefix or SchemaName, or deactivate them."
        )
        details = [
            ErrorDetail(code="DestinationInUse", message=f"Profile '{name}' is Active on this destination.")
            for name in others
        ]
        return _failed(message, details)
    return _passed(f"No other Active profile writes to {identity.describe()}.")


def _destination_settings(run: _Run) -> _Outcome:
    assert run.url is not None, "ConnectionString passed"
    advise = inspection.inspector_for(run.url).settings_advice
    assert advise is not None, "not skipped"
    advice = advise(run.require_connection())
    if advice:
        return _Outcome(CheckStatus.WARNING, " ".join(advice))
    return _passed("Read committed snapshot is on, and the service tier and MAXDOP follow DES's advice.")


_CHECKS: tuple[tuple[CheckName, Check, Skip], ...] = (
    (CheckName.PROFILE_FIELDS, _profile_fields, _never),
    (CheckName.DATAVERSE_ACCESS, _dataverse_access, _never),
    (CheckName.ENTITY_SELECTION, _entity_selection, _after(CheckName.DATAVERSE_ACCESS)),
    (CheckName.RELATIONSHIP_SELECTION, _relationship_selection, _after(CheckName.DATAVERSE_ACCESS)),
    (CheckName.SECRET_ACCESS, _secret_access, _never),
    (CheckName.SECRET_AUTHORIZATION, _secret_authorization, _skip_tags),
    (CheckName.CONNECTION_STRING, _connection_string, _after(CheckName.SECRET_ACCESS)),
    (CheckName.DESTINATION_CONNECTION, _destination_connection, _after(CheckName.CONNECTION_STRING)),
    (CheckName.DESTINATION_SCHEMA, _destination_schema, _skip_schema),
    (CheckName.DESTINATION_PERMISSIONS, _destination_permissions, _after(CheckName.DESTINATION_CONNECTION)),
    (CheckName.DESTINATION_OBJECTS, _destination_objects, _after(CheckName.DESTINATION_CONNECTION)),
    (CheckName.DESTINATION_IN_USE, _destination_in_use, _after(CheckName.DESTINATION_CONNECTION)),
    (CheckName.DESTINATION_SETTINGS, _destination_settings, _skip_settings),
)
