"""What a step works with: the profile, its adapters behind their Protocols, the settings and a clock.

One :class:`SyncContext` per profile; it holds no per-step state and is shared by the worker threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dataexport.destination.base import Destination
from dataexport.domain.profile import ActivationMode, ExportProfile
from dataexport.engine.failure_store import FailureStore
from dataexport.engine.observer import NullObserver, SyncObserver
from dataexport.engine.settings import EngineSettings
from dataexport.source.base import Source
from dataexport.store.base import Store
from dataexport.store.values import system_clock

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SyncContext:
    """The building blocks of every step of one profile (composed by the CLI or the service).

    Attributes:
        profile: the export profile (entities, relationships, retry rules, DeleteLog switch, mode).
        source: Dataverse (or a scripted source).
        destination: the profile's destination.
        store: the control database.
        failure_store: where DES failure-log lines go.
        settings: the engine's tunables.
        clock: aware-UTC now; tests move it.
        observer: progress callbacks.
    """

    profile: ExportProfile
    source: Source
    destination: Destination
    store: Store
    failure_store: FailureStore
    settings: EngineSettings = field(default_factory=EngineSettings)
    clock: Clock = system_clock
    observer: SyncObserver = field(default_factory=NullObserver)

    @property
    def mode(self) -> ActivationMode:
        """The profile's activation mode; a profile run before activation (a profile file) runs in Full."""
        return self.profile.activation_mode or ActivationMode.FULL

    @property
    def writes_ddl(self) -> bool:
        """Whether tables may be created and altered (not in DataOnly mode, DES §4.2)."""
        return self.mode is not ActivationMode.DATA_ONLY

    @property
    def writes_rows(self) -> bool:
        """Whether rows are read and written (not in MetadataOnly mode, DES §4.2)."""
        return self.mode is not ActivationMode.METADATA_ONLY
