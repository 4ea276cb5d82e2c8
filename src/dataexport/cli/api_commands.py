"""``dataexport orgs ...`` and ``dataexport profiles ...``: the REST API of spec §3 from the command line.

Every command takes the connection options (``--url``/``DATAEXPORT_URL``, ``--token``/``DATAEXPORT_TOKEN``,
``--ca-file``/``DATAEXPORT_CA_FILE``) and ``--json``, which prints the service's JSON instead of tables.
Exit codes: 0 success; 1 the service refused (its error body is printed as sent) or could not be reached, or
``test``/``validate`` found a failed check; 2 a usage error (bad option, unreadable profile file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from dataexport.cli import api_output as show
from dataexport.cli.client import DEFAULT_URL, ApiClient, ApiError, Connection, JsonValue, ServiceUnreachable
from dataexport.cli.failure_download import DownloadError, download_failures
from dataexport.cli.profile_body import ProfileOptions, profile_body, read_body

T = TypeVar("T")

orgs_app = typer.Typer(help="Organizations the service exports (REST metadata routes).", no_args_is_help=True)
profiles_app = typer.Typer(
    help="Export profiles: create, inspect and run them (REST profile routes).", no_args_is_help=True
)

Url = Annotated[str, typer.Option("--url", envvar="DATAEXPORT_URL", help="Base URL of the service.")]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="DATAEXPORT_TOKEN", help="Bearer JWT or API key.", show_default=False),
]
CaFile = Annotated[
    Path | None,
    typer.Option("--ca-file", envvar="DATAEXPORT_CA_FILE", exists=True, dir_okay=False, help="PEM of a private CA."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the service's JSON response instead of tables.")]
Org = Annotated[
    str | None,
    typer.Option("--org", envvar="DATAEXPORT_ORG", help="Organization id, or its URL (https://...)."),
]
ProfileId = Annotated[str, typer.Argument(help="Profile id (GUID).")]
Status = Annotated[bool, typer.Option("--status", help="Include the status block (per-entity states and counters).")]
ProfileFile = Annotated[
    Path | None, typer.Option("--file", "-f", help="Profile JSON body (spec §2.1); - reads standard input.")
]
TOKEN_HINT = (
    "Hint: set DATAEXPORT_TOKEN (or pass --token) to a bearer token of a System Administrator of the "
    "organization, or to an API key the service accepts."
)


class Mode(StrEnum):
    """Which activation route ``profiles activate`` calls."""

    full = "full"
    metadata = "metadata"
    data = "data"


@dataclass(frozen=True)
class Cli:
    """One command's connection and output choice; runs API calls and turns failures into exit codes."""

    connection: Connection
    as_json: bool

    @staticmethod
    def build(url: str, token: str | None, ca_file: Path | None, as_json: bool) -> Cli:
        return Cli(Connection(url=url, token=token, ca_file=ca_file), as_json)

    def call(self, action: Callable[[ApiClient], T]) -> T:
        """Run ``action`` against the service; an API error or an unreachable service ends the command (exit 1)."""
        try:
            with ApiClient(self.connection) as client:
                return action(client)
        except ApiError as error:
            self.report(error)
            raise typer.Exit(1) from None
        except ServiceUnreachable as error:
            Console(stderr=True).print(Text(str(error), style="bold red"), soft_wrap=True)
            raise typer.Exit(1) from None

    def report(self, error: ApiError) -> None:
        """The error body as sent (raw with ``--json``), then a hint for the errors a user can fix here."""
        errors = Console(stderr=True)
        if self.as_json and error.body is not None:
            typer.echo(show.dump_json(error.body))
        else:
            show.print_api_error(errors, error)
        if error.status == 401:
            errors.print(Text(TOKEN_HINT), soft_wrap=True)
        elif error.code == "PrivacyTermsNotAccepted":
            errors.print(
                Text("Hint: accept them with `dataexport orgs accept-terms --org <organization>`."), soft_wrap=True
            )

    def emit(self, value: JsonValue, render: Callable[[JsonValue], Sequence[RenderableType]]) -> None:
        """Print ``value`` as JSON with ``--json``, else as ``render`` draws it."""
        if self.as_json:
            typer.echo(show.dump_json(value))
            return
        console = Console()
        for part in render(value):
            console.print(part)

    def say(self, message: str) -> None:
        """A confirmation line, for calls whose answer has no body (not printed with ``--json``)."""
        if not self.as_json:
            Console().print(Text(message), soft_wrap=True)


# orgs


@orgs_app.command("list")
def orgs_list(url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False) -> None:
    """The organizations you may manage."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.organizations()), lambda orgs: [show.organizations_table(orgs)])


@orgs_app.command("show")
def orgs_show(
    org: Org = None, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """One organization's details (discover)."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.discover(org)), lambda found: [show.organization_table(found)])


@orgs_app.command("entities")
def orgs_entities(
    org: Org = None, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """The entities of an organization that a profile may export."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.entities(org)), lambda entities: [show.entities_table(entities)])


@orgs_app.command("relationships")
def orgs_relationships(
    org: Org = None, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """The many-to-many relationships of an organization that a profile may export."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.relationships(org)), lambda rels: [show.relationships_table(rels)])


@orgs_app.command("accept-terms")
def orgs_accept_terms(
    org: Org = None, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """Accept the privacy terms for an organization (required before any profile call for it)."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.call(lambda api: api.accept_terms(org))
    cli.say(f"Privacy terms accepted for organization {org}.")


@orgs_app.command("terms")
def orgs_terms(
    org: Org = None, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """Whether an organization has accepted the privacy terms."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.has_accepted_terms(org)), lambda accepted: [_terms_line(org, accepted)])


def _terms_line(org: str | None, accepted: JsonValue) -> Text:
    if accepted is True:
        return Text(f"Organization {org} has accepted the privacy terms.")
    return Text(
        f"Organization {org} has NOT accepted the privacy terms: run `dataexport orgs accept-terms --org {org}`."
    )


# profiles: reading


@profiles_app.command("list")
def profiles_list(
    org: Org = None,
    status: Status = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """The export profiles of an organization, oldest first."""
    cli = Cli.build(url, token, ca_file, as_json)
    found = cli.call(lambda api: api.list_profiles(org, status=status))
    cli.emit(found, lambda profiles: [show.profiles_table(profiles, status=status)])


@profiles_app.command("show")
def profiles_show(
    profile_id: ProfileId,
    status: Status = False,
    org: Org = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """One export profile; with --status its per-entity states, counters and lag."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.get_profile(profile_id, org, status=status)), show.profile_view)


# profiles: changing


@profiles_app.command("create")
def profiles_create(
    file: ProfileFile = None,
    name: Annotated[str | None, typer.Option(help="Profile name.")] = None,
    key_vault_uri: Annotated[str | None, typer.Option(help="Destination secret: Key Vault URL, env: or file:.")] = None,
    entity: Annotated[list[str] | None, typer.Option(help="Entity logical name (repeatable, or a,b,c).")] = None,
    relationship: Annotated[list[str] | None, typer.Option(help="M:N relationship SchemaName (repeatable).")] = None,
    schema: Annotated[str | None, typer.Option(help="Destination schema (default dbo).")] = None,
    prefix: Annotated[str | None, typer.Option(help="Table prefix (letters and digits, < 15).")] = None,
    retry_count: Annotated[int | None, typer.Option(help="Retries of a failed record (0-20).")] = None,
    retry_interval: Annotated[int | None, typer.Option(help="Seconds between retries (0-3600).")] = None,
    delete_log: Annotated[bool | None, typer.Option("--delete-log/--no-delete-log", help="Write DeleteLog.")] = None,
    org: Org = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Create an export profile from --file, or from the field options."""
    fields = ProfileOptions(
        name=name,
        key_vault_uri=key_vault_uri,
        entities=tuple(entity) if entity is not None else None,
        relationships=tuple(relationship) if relationship is not None else None,
        schema=schema,
        prefix=prefix,
        retry_count=retry_count,
        retry_interval=retry_interval,
        delete_log=delete_log,
    )
    body = profile_body(file, fields)
    cli = Cli.build(url, token, ca_file, as_json)
    created = cli.call(lambda api: api.create_profile(body, org))
    cli.emit(created, _created_view)


def _created_view(profile: JsonValue) -> list[RenderableType]:
    return [Text(f"Created profile {show.member(profile, 'Id')}."), *show.profile_view(profile)]


@profiles_app.command("update")
def profiles_update(
    profile_id: ProfileId,
    file: Annotated[Path, typer.Option("--file", "-f", help="Full profile JSON body (PUT replaces every field).")],
    org: Org = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Replace a profile's fields (omitted optional fields revert to their defaults)."""
    body = read_body(file)
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.update_profile(profile_id, body, org)), show.profile_view)


@profiles_app.command("delete")
def profiles_delete(
    profile_id: ProfileId,
    org: Org = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Delete a profile that is not active (the destination is never touched)."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.call(lambda api: api.delete_profile(profile_id, org))
    cli.say(f"Deleted profile {profile_id}.")


# profiles: lifecycle and checks


@profiles_app.command("activate")
def profiles_activate(
    profile_id: ProfileId,
    mode: Annotated[Mode, typer.Option(help="full: schema and data; metadata: schema only; data: rows only.")] = (
        Mode.full
    ),
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Run the pre-flight checks, then start replicating the profile."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.activate(profile_id, mode.value)), _lifecycle_view)


@profiles_app.command("deactivate")
def profiles_deactivate(
    profile_id: ProfileId, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """Stop replicating the profile (state, tables and counters are kept)."""
    cli = Cli.build(url, token, ca_file, as_json)
    cli.emit(cli.call(lambda api: api.deactivate(profile_id)), _lifecycle_view)


def _lifecycle_view(profile: JsonValue) -> list[RenderableType]:
    mode = show.member(profile, "ActivationMode")
    state = f"{show.member(profile, 'State')}" + (f" ({mode})" if mode else "")
    return [Text(f"Profile {show.member(profile, 'Id')} is now {state}.")]


@profiles_app.command("test")
def profiles_test(
    profile_id: ProfileId, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """Run the checks of spec §5 on a stored profile; exit 1 when one fails."""
    cli = Cli.build(url, token, ca_file, as_json)
    result = cli.call(lambda api: api.test(profile_id))
    cli.emit(result, lambda checks: [show.test_result_table(checks)])
    _exit_on_failed_check(result)


@profiles_app.command("validate")
def profiles_validate(
    file: Annotated[Path, typer.Option("--file", "-f", help="Profile JSON body (spec §2.1); - reads standard input.")],
    org: Org = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Run the checks of spec §5 on a profile body without saving it; exit 1 when one fails."""
    body = read_body(file)
    cli = Cli.build(url, token, ca_file, as_json)
    result = cli.call(lambda api: api.validate(body, org))
    cli.emit(result, lambda checks: [show.test_result_table(checks)])
    _exit_on_failed_check(result)


def _exit_on_failed_check(result: JsonValue) -> None:
    if show.member(result, "Succeeded") is not True:
        raise typer.Exit(1)


@profiles_app.command("failures")
def profiles_failures(
    profile_id: ProfileId,
    download: Annotated[
        Path | None, typer.Option(file_okay=False, help="Download every failure file into this folder.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """The signed URL of the profile's failure logs (valid 24 hours); --download fetches every file."""
    cli = Cli.build(url, token, ca_file, as_json)
    info = cli.call(lambda api: api.failures(profile_id))
    cli.emit(info, lambda found: [show.fields_table(found, ("FailuresBlobUri", "ExpiresOn"), "Failure logs")])
    signed = show.member(info, "FailuresBlobUri")
    if download is not None and isinstance(signed, str):
        _download(signed, download, cli)


def _download(signed: str, folder: Path, cli: Cli) -> None:
    try:
        files = download_failures(signed, folder, verify=cli.connection.verify())
    except DownloadError as error:
        Console(stderr=True).print(Text(f"Download failed: {error}", style="bold red"), soft_wrap=True)
        raise typer.Exit(1) from None
    rows = ([Text(item.path), Text(str(item.size)), show.cell(item.last_modified)] for item in files)
    out = Console(stderr=cli.as_json)  # with --json, stdout stays pure JSON
    out.print(show.table(f"Downloaded {len(files)} files to {folder}", ("Path", "Size", "LastModified"), rows))


@profiles_app.command("resync")
def profiles_resync(
    profile_id: ProfileId, url: Url = DEFAULT_URL, token: Token = None, ca_file: CaFile = None, as_json: AsJson = False
) -> None:
    """Re-attempt every failed record and failed entity of an active profile (progress: show --status)."""
    cli = Cli.build(url, token, ca_file, as_json)
    names = ("ProfileId", "RunId", "QueuedRecords", "StartedOn")
    cli.emit(
        cli.call(lambda api: api.resync(profile_id)), lambda run: [show.fields_table(run, names, "Resync started")]
    )
