"""``dataexport``: the command line of the Data Export Service."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dataexport.cli.api_commands import orgs_app, profiles_app
from dataexport.cli.bootstrap import build_runtime
from dataexport.cli.demo import DEFAULT_DESTINATION, run_demo
from dataexport.cli.progress import ProgressDisplay
from dataexport.cli.serve import load_config
from dataexport.cli.serve import serve as serve_service
from dataexport.config.profile_file import ProfileFile, ProfileFileError, load_profile_file
from dataexport.engine import RunSummary
from dataexport.errors import DataExportError, TerminalError
from dataexport.secrets.local import LocalSecretStore
from dataexport.store.values import EntityState

app = typer.Typer(
    help="A self-hosted Data Export Service for Microsoft Dataverse / Dynamics 365.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(profiles_app, name="profiles")
app.add_typer(orgs_app, name="orgs")
console = Console(stderr=True)


def print_summary(summary: RunSummary, states: list[EntityState]) -> None:
    """One line per entity: this run's last outcome and the totals kept in the control database."""
    outcomes = {outcome.key.name: outcome for outcome in summary.outcomes}
    console.print(
        f"  {'entity':<32} {'last step':<9} {'phase':<12} {'this run':>9} {'total':>9} {'failed':>6}",
        soft_wrap=True,
    )
    for state in sorted(states, key=lambda s: s.key.name):
        outcome = outcomes.get(state.key.name)
        status = outcome.status.value if outcome else "-"
        received = outcome.received if outcome else 0
        detail = f"  {outcome.error}" if outcome and outcome.error else ""
        console.print(
            f"  {state.key.name:<32} {status:<9} {state.phase.value:<12} {received:>9,} "
            f"{state.counters.received:>9,} {state.failed_records:>6}{detail}",
            soft_wrap=True,
        )


def sync_profile(loaded: ProfileFile, *, once: bool, workers: int) -> int:
    """Run one loaded profile (once, or until interrupted); returns the process exit code."""
    display = ProgressDisplay(console, f"profile {loaded.profile.name}")
    try:
        runtime = build_runtime(loaded, LocalSecretStore(loaded.base_dir), observer=display, workers=workers)
    except DataExportError as error:
        kind = "cannot start" if isinstance(error, TerminalError) else "cannot reach a dependency now"
        console.print(f"[red]Sync of {loaded.path} {kind}:[/] {error}")
        return 1
    try:
        with display:
            if once:
                summary = runtime.runner.run_once()
            else:
                stop = threading.Event()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: stop.set())
                summary = runtime.runner.run(stop)
        console.print("Sync summary (changes read):")
        print_summary(summary, runtime.store.states.list(runtime.profile.id))
    finally:
        runtime.close()
    return 0 if summary.ok else 1


@app.command()
def sync(
    profile: Annotated[Path, typer.Option("--profile", help="Profile file (JSON or TOML, see docs/SYNC.md).")],
    once: Annotated[bool, typer.Option(help="Stop after the initial sync, or one delta round per entity.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Entities synced at once.")] = 4,
) -> None:
    """Replicate one export profile from a file: initial sync, then continuous delta sync until interrupted."""
    try:
        loaded = load_profile_file(profile)
    except ProfileFileError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error
    raise typer.Exit(sync_profile(loaded, once=once, workers=workers))


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
