"""``dataexport sync``: one profile from a file, with a live progress table and a summary at the end."""

from __future__ import annotations

import signal
import threading

from rich.console import Console

from dataexport.cli.bootstrap import build_runtime
from dataexport.cli.progress import ProgressDisplay
from dataexport.config.profile_file import ProfileFile
from dataexport.engine import RunSummary
from dataexport.errors import DataExportError, TerminalError
from dataexport.secrets.local import LocalSecretStore
from dataexport.store.values import EntityState


def print_summary(console: Console, summary: RunSummary, states: list[EntityState]) -> None:
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


def sync_profile(loaded: ProfileFile, console: Console, *, once: bool, workers: int) -> int:
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
        print_summary(console, summary, runtime.store.states.list(runtime.profile.id))
    finally:
        runtime.close()
    return 0 if summary.ok else 1
