"""The 13 checks of DES §5, in order, each with the rule that skips it (:data:`CHECKS`)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from dataexport.destination.sql import inspection
from dataexport.destination.sql.context import error_message
from dataexport.domain.checks import CheckName, CheckStatus
from dataexport.domain.profile import ErrorDetail
from dataexport.domain.profile_rules import (
    EntityInfo,
    SelectionCatalog,
    duplicate_name,
    validate_profile_body,
    validate_selection,
)
from dataexport.domain.secret_refs import (
    SecretReferenceKind,
    parse_secret_reference,
    secret_reference_problem,
)
from dataexport.errors import DataExportError
from dataexport.secrets.resolver import tag_check_problem
from dataexport.service.check_run import (
    Check,
    CheckRun,
    Outcome,
    Skip,
    SourceLike,
    at_index,
    describe,
    failed,
    is_item_detail,
    listed,
    passed,
    selection,
)
from dataexport.source.base import EntitySummary

# ----- skip rules -----------------------------------------------------------------------------------------


def _never(_run: CheckRun) -> str | None:
    return None


def _after(*names: CheckName) -> Skip:
    def skip(run: CheckRun) -> str | None:
        missing = next((name for name in names if not run.passed(name)), None)
        return None if missing is None else f"Skipped: {missing.value} did not pass."

    return skip


def _skip_tags(run: CheckRun) -> str | None:
    if run.reference is not None and run.reference.kind is not SecretReferenceKind.KEY_VAULT:
        form = "an env:" if run.reference.kind is SecretReferenceKind.ENV else "a file:"
        return f"Skipped: KeyVaultUri is {form} reference; the tag check applies to Key Vault secrets only."
    return _after(CheckName.SECRET_ACCESS)(run)


def _skip_schema(run: CheckRun) -> str | None:
    reason = _after(CheckName.DESTINATION_CONNECTION)(run)
    if reason is None and run.url is not None and inspection.inspector_for(run.url).namespace_state is None:
        return f"Skipped: {inspection.product_name(run.url)} has no schemas."
    return reason


def _skip_settings(run: CheckRun) -> str | None:
    reason = _after(CheckName.DESTINATION_CONNECTION)(run)
    if reason is None and run.url is not None and inspection.inspector_for(run.url).settings_advice is None:
        return "Skipped: advisory settings are checked on SQL Server only."
    return reason


# ----- checks 1-4: the profile and Dataverse ----------------------------------------------------------------


def _profile_fields(run: CheckRun) -> Outcome:
    rules = validate_profile_body(
        run.body, query_organization_id=run.subject.organization_id, host_suffixes=run.deps.host_suffixes
    )
    details = [d for d in rules if not is_item_detail(d, "Entities") and not is_item_detail(d, "Relationships")]
    name = run.body.get("Name")
    if isinstance(name, str) and name.strip():
        details = [*duplicate_name(name, run.deps.other_profile_names), *details]  # Name's rules come first
    if details:
        return failed(f"{len(details)} field rule(s) failed; see Details.", details)
    return passed("All fields are valid.")


def _dataverse_access(run: CheckRun) -> Outcome:
    try:
        run.source = run.deps.source()
        caller = run.source.who_am_i()
    except Exception as error:
        message = f"Could not sign in to the organization's Dataverse: {describe(error)}"
        return failed(f"{message}. Check the organization's URL, client id and client secret.")
    registered = run.subject.organization_id
    if caller.organization_id.lower() != registered.lower():
        message = (
            f"Dataverse answers as organization {caller.organization_id}, but the registered organization is "
            f"{registered} (OrganizationMismatch): the environment at this URL was replaced or copied; "
            "check the organization's URL."
        )
        return failed(message, [ErrorDetail(code="OrganizationMismatch", message=message)])
    return passed(f"Signed in to Dataverse as user {caller.user_id} of organization {caller.organization_id}.")


def _entity_selection(run: CheckRun) -> Outcome:
    details, names = selection(run, "Entities")
    if not names and not details:
        return failed("No entity is selected; see ProfileFields.")
    source = run.require_source()
    summaries = {entity.logical_name.lower(): entity for entity in source.entities()}
    infos = {name: EntityInfo(entity.change_tracking, entity.is_intersect) for name, entity in summaries.items()}
    catalog = SelectionCatalog(entities=infos)
    for index, name in names:
        problems = at_index(validate_selection([name], [], catalog), "Entities", index)
        details += problems or _probe(source, summaries[name.lower()], index, name)
    if details:
        return failed(f"{len(details)} problem(s) with the selected entities; see Details.", details)
    return passed(f"{len(names)} entities exist, are change-tracked and can be read.")


def _probe(source: SourceLike, entity: EntitySummary, index: int, name: str) -> list[ErrorDetail]:
    try:
        source.probe(entity)
    except DataExportError as error:
        message = f"Entity '{name}' cannot be read: {error.message}. Grant the app user Read on it."
        return [ErrorDetail(field=f"Entities[{index}].Name", code="NotReadable", message=message)]
    return []


def _relationship_selection(run: CheckRun) -> Outcome:
    details, names = selection(run, "Relationships")
    source = run.require_source()
    entities = [name for _index, name in selection(run, "Entities")[1]]
    for index, name in names:
        found = source.find_many_to_many(name)
        catalog = SelectionCatalog(relationships={name.lower(): found} if found else {})
        problems = at_index(validate_selection(entities, [name], catalog), "Relationships", index)
        details += problems
        if found is not None and not problems:
            run.relationships[found.schema_name] = found
    if details:
        return failed(f"{len(details)} problem(s) with the selected relationships; see Details.", details)
    if not names:
        return passed("No relationship is selected.")
    return passed(f"{len(names)} relationship(s) exist, are many-to-many and have both entities selected.")


# ----- checks 5-7: the secret ------------------------------------------------------------------------------


def _secret_access(run: CheckRun) -> Outcome:
    text = run.body.get("KeyVaultUri")
    if not isinstance(text, str) or not text.strip():
        return failed("KeyVaultUri is required.")
    problem = secret_reference_problem(text, run.deps.host_suffixes)
    if problem is not None:
        return failed(problem)
    run.reference = parse_secret_reference(text, run.deps.host_suffixes)
    try:
        value = run.deps.secrets.resolve(run.reference)
    except Exception as error:
        return failed(f"Secret reference '{text}' could not be read: {describe(error)}")
    if not value.strip():
        return failed(f"Secret reference '{text}' resolves to an empty value: store the connection string in it.")
    run.secret = value
    return passed(f"Secret reference '{text}' resolves to a non-empty value.")


def _secret_authorization(run: CheckRun) -> Outcome:
    reference = run.reference
    assert reference is not None, "SecretAccess passed"
    secret_name = reference.secret_name or reference.text
    if not run.subject.tenant_id:
        return failed(f"The tenant id of organization {run.subject.organization_id} is not known: configure it.")
    tags = run.deps.secrets.read_tags(reference)
    problem = tag_check_problem(tags, run.subject.organization_id, run.subject.tenant_id, secret_name)
    if problem is not None:
        return failed(problem)
    return passed(f"Secret '{secret_name}' is tagged for organization {run.subject.organization_id}.")


def _connection_string(run: CheckRun) -> Outcome:
    assert run.secret is not None, "SecretAccess passed"
    run.url = url = inspection.parse_url(run.secret, run.deps.data_dir)
    product = inspection.product_name(url)
    if url.get_backend_name() == "sqlite":
        return passed(f"The connection string names the {product} file '{url.database}'.")
    return passed(f"The connection string names the {product} database '{url.database}' on {url.host}.")


# ----- checks 8-13: the destination ----------------------------------------------------------------------


def _destination_connection(run: CheckRun) -> Outcome:
    url = run.url
    assert url is not None, "ConnectionString passed"
    timeout = run.deps.connect_timeout
    try:
        run.engine = inspection.open_engine(url, timeout)
        run.connection = run.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        server = inspection.inspector_for(url).server(run.connection)
    except SQLAlchemyError as error:
        where = url.database if url.get_backend_name() == "sqlite" else f"{url.host}:{url.port or 'default port'}"
        return failed(
            f"Could not connect to {inspection.product_name(url)} at {where} within {timeout:g} s: "
            f"{error_message(error)}. Check the server address, the firewall and the login in the connection string."
        )
    if inspection.is_new_sqlite_file(url):
        return passed(f"Connected to {server}; the file '{url.database}' does not exist yet and will be created.")
    return passed(f"Connected to {server}.")


def _destination_schema(run: CheckRun) -> Outcome:
    target = run.target()
    state_of = target.inspector.namespace_state
    assert state_of is not None, "not skipped"
    state = state_of(run.require_connection(), target)
    noun = "Database" if target.inspector.namespace_kind == "database" else "Schema"
    if state.exists:
        return passed(f"{noun} '{target.namespace}' exists.")
    if state.may_create:
        return passed(f"{noun} '{target.namespace}' does not exist; the login may create it, and activation will.")
    return failed(
        f"{noun} '{target.namespace}' does not exist and the login may not create it: create it, or grant the "
        "login CREATE on the database."
    )


def _destination_permissions(run: CheckRun) -> Outcome:
    target = run.target()
    missing = target.inspector.missing_rights(run.require_connection(), target, run.objects().existing)
    if missing:
        details = [ErrorDetail(code="MissingPermission", message=f"The login lacks {right}.") for right in missing]
        return failed(f"The login lacks {len(missing)} right(s) the writer needs: {'; '.join(missing)}.", details)
    where = f"'{target.namespace}'" if target.namespace else f"'{target.url.database}'"
    return passed(f"The login holds every right the writer needs on {where}.")


def _destination_objects(run: CheckRun) -> Outcome:
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
        return failed(f"Target names are taken by objects that cannot be used: {listed(clashes)}.", details)
    if adopted:
        return Outcome(CheckStatus.WARNING, f"Existing tables will be adopted: {listed(adopted)}.", tuple(details))
    if report.existing:
        return passed(f"{len(report.existing)} target table(s) exist, created by this profile; no name clashes.")
    return passed("No target name is taken; every table will be created.")


def _destination_in_use(run: CheckRun) -> Outcome:
    identity = inspection.destination_identity(run.target())
    others = list(run.deps.destinations_in_use(identity))
    if others:
        message = (
            f"Active profile(s) {listed(others)} already write to {identity.describe()}: choose another "
            "TablePrefix or SchemaName, or deactivate them."
        )
        details = [
            ErrorDetail(code="DestinationInUse", message=f"Profile '{name}' is Active on this destination.")
            for name in others
        ]
        return failed(message, details)
    return passed(f"No other Active profile writes to {identity.describe()}.")


def _destination_settings(run: CheckRun) -> Outcome:
    assert run.url is not None, "ConnectionString passed"
    advise = inspection.inspector_for(run.url).settings_advice
    assert advise is not None, "not skipped"
    advice = advise(run.require_connection())
    if advice:
        return Outcome(CheckStatus.WARNING, " ".join(advice))
    return passed("Read committed snapshot is on, and the service tier and MAXDOP follow DES's advice.")


CHECKS: tuple[tuple[CheckName, Check, Skip], ...] = (
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
