"""The store's errors, in the families of :mod:`dataexport.errors` (they belong in that module's tree)::

TransientError
├── LeaseLost              the step's lease expired or was taken over: stop the step, write nothing more
├── StateConflict          the sync state changed since it was loaded (stale revision): reload, decide again
├── ControlDatabaseBusy    lock wait timed out, deadlock, connection lost: nothing committed, call again
└── ResyncInProgress       a resyncfailed run of the profile is still running: call again once it completed
TerminalError
└── ControlDatabaseFault   a statement the control database refused for no transient reason (a bug,
                           a damaged file, a missing table, a constraint)
"""

from __future__ import annotations

from dataexport.errors import TerminalError, TransientError


class LeaseLost(TransientError):
    """The step's lease expired or another owner took it: stop the step, write nothing more, retry later."""


class StateConflict(TransientError):
    """The sync state changed since it was loaded (stale revision) or is missing: reload it and decide again."""


class ControlDatabaseBusy(TransientError):
    """The control database did not answer in time (lock wait, lost connection); nothing was committed."""


class ControlDatabaseFault(TerminalError):
    """The control database refused a statement for a reason no rule classifies (a bug or a damaged file)."""


class ResyncInProgress(TransientError):
    """A ``resyncfailed`` run of the profile is still running (DES §8.7): wait until it completed, then retry."""
