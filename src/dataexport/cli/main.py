"""``dataexport``: the command line of the Data Export Service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dataexport.cli.api_commands import orgs_app, profiles_app
from dataexport.cli.demo import DEFAULT_DESTINATION

# The sync, serve and demo commands import what they run when they run it, so the API client commands start fast.

app = typer.Typer(
    help="A self-hosted Data Export Service for Microsoft Dataverse / Dynamics 365.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(profiles_app, name="profiles")
app.add_typer(orgs_app, name="orgs")
console = Console(stderr=True)


@app.command()
def sync(
    profile: Annotated[Path, typer.Option("--profile", help="Profile file (JSON or TOML, see docs/SYNC.md).")],
    once: Annotated[bool, typer.Option(help="Stop after the initial sync, or one delta round per entity.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Entities synced at once.")] = 4,
) -> None:
    """Replicate one export profile from a file: initial sync, then continuous delta sync until interrupted."""
    from dataexport.cli.sync_command import sync_profile
    from dataexport.config.profile_file import ProfileFileError, load_profile_file

    try:
        loaded = load_profile_file(profile)
    except ProfileFileError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error
    raise typer.Exit(sync_profile(loaded, console, once=once, workers=workers))


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(help="Service configuration (TOML); default: $DATAEXPORT_CONFIG, else ./dataexport.toml."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (overrides the configuration's host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Listen port (overrides the configuration's port).")
    ] = None,
) -> None:
    """Run the Data Export Service: the REST API and every Active profile's sync, until interrupted."""
    from dataexport.cli.serve import load_config
    from dataexport.cli.serve import serve as serve_service

    loaded = load_config(config, console)
    if loaded is None:
        raise typer.Exit(2)
    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    raise typer.Exit(serve_service(loaded.model_copy(update=overrides), console))


@app.command()
def demo(
    once: Annotated[bool, typer.Option(help="Stop after the initial sync (a smoke test).")] = False,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps everything.")] = Path("var"),
    scale: Annotated[int, typer.Option(min=1, help="Accounts in the demo organization (first run only).")] = 50,
    emulator_port: Annotated[int, typer.Option(help="Port of the local Dataverse emulator.")] = 8443,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the service's REST API.")] = 8080,
    destination: Annotated[
        str,
        typer.Option(
            envvar="DATAEXPORT_DEMO_DESTINATION",
            help="Destination connection string (default: var/demo.db), e.g. postgresql://postgres@127.0.0.1/demo",
        ),
    ] = DEFAULT_DESTINATION,
) -> None:
    """The embedded demo: a Dataverse emulator with a sample organization, the service, and a demo profile
    created and activated through the REST API, replicating into SQLite."""
    from dataexport.cli.demo import run_demo

    code = run_demo(
        data_dir,
        once=once,
        scale=scale,
        port=emulator_port,
        service_port=port,
        console=console,
        destination=destination,
    )
    raise typer.Exit(code)


def main() -> None:
    app()
