"""``dataexport serve``: the REST API and the scheduler in one process, until SIGINT or SIGTERM.

The HTTP server runs in the main thread (it handles the signals); :class:`RunningService` lets the demo run
its own setup against the API once the server listens, and stop it again.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from rich.console import Console

from dataexport.config.loading import ServiceConfigError, load_service_config
from dataexport.config.service import ServiceConfig
from dataexport.errors import DataExportError
from dataexport.runtime import ServiceRuntime, build_runtime, public_base_url

log = logging.getLogger(__name__)

QUIET_LOGGERS = ("httpx", "httpcore", "azure", "msal", "urllib3")


def load_config(path: Path | None, console: Console) -> ServiceConfig | None:
    """The service configuration, or None after printing what is wrong with it."""
    try:
        return load_service_config(path)
    except ServiceConfigError as error:
        console.print(str(error), markup=False, highlight=False, soft_wrap=True)
        return None


class RunningService:
    """The runtime and its HTTP server; :meth:`run` blocks until the server stops."""

    def __init__(self, runtime: ServiceRuntime, *, log_level: str = "warning") -> None:
        self.runtime = runtime
        config = runtime.config
        self.url = public_base_url(config)
        self.server = uvicorn.Server(
            uvicorn.Config(
                runtime.app(),
                host=config.host,
                port=config.port,
                log_level=log_level,
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=10,
            )
        )

    def run(self, *, when_listening: Callable[[RunningService], None] | None = None) -> bool:
        """Start the scheduler, serve until stopped, then close the runtime; False when the port cannot be bound.

        ``when_listening`` runs in its own thread once the server accepts connections.
        """
        helper: threading.Thread | None = None
        if when_listening is not None:
            helper = threading.Thread(target=self._after_start, args=(when_listening,), daemon=True, name="setup")
            helper.start()
        with self._sigterm_stops_the_server():
            try:
                self.runtime.start()
                self.server.run()
            finally:
                self.server.should_exit = True
                self.runtime.close()
        return self.server.started

    @contextmanager
    def _sigterm_stops_the_server(self) -> Iterator[None]:
        """uvicorn re-raises a captured SIGTERM after its shutdown, with the default handler back: the process
        would die before the runtime closes. Our own handler makes SIGTERM a clean stop (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, lambda *_: self.stop())
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        """Ask the server to stop (returns at once)."""
        self.server.should_exit = True

    def _after_start(self, when_listening: Callable[[RunningService], None]) -> None:
        while not self.server.started:
            if self.server.should_exit:
                return
            threading.Event().wait(0.05)
        try:
            when_listening(self)
        except Exception:  # the demo's own setup failed: report it and stop the service
            log.exception("setup after start failed")
            self.stop()


def serve(config: ServiceConfig, console: Console) -> int:
    """Run the service until interrupted; the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in QUIET_LOGGERS:  # one line per HTTP request of every client: only their warnings
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        runtime = build_runtime(config)
    except DataExportError as error:
        console.print(f"[red]The service cannot start:[/] {error}", soft_wrap=True)
        return 1
    service = RunningService(runtime, log_level="info")
    console.print(
        f"Data Export Service on {service.url}  (Swagger UI: {service.url}/swagger/ui/index); Ctrl-C stops.",
        soft_wrap=True,
    )
    if not service.run():
        console.print(f"[red]The service could not listen on {config.host}:{config.port}[/]: is the port in use?")
        return 1
    return 0
