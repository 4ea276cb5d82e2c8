"""The control database: profiles, sync state, leases, tombstones, retry queue, failure ledger (DES §1.6).

SQLite by default, PostgreSQL at scale; the same SQLAlchemy models and Alembic migrations serve both. This
package is the only place with ORM models and SQL for control state; the engine sees the Protocols of
:mod:`.base`.

- :mod:`.base`: the ``Store`` Protocols and their contracts; :mod:`.errors`: what they raise.
- :mod:`.values`: the frozen values exchanged (``SyncKey``, ``EntityState``, ``Lease``, ...).
- :mod:`.control`: :func:`open_store` and :class:`ControlStore`, the composition of the repositories.
- :mod:`.engine`, :mod:`.transactions`, :mod:`.migrate`, ``migrations/``: connections, units of work, schema.
- :mod:`.models`: the ORM models (tables).
- One module per concern: :mod:`.sync_state`, :mod:`.leases`, :mod:`.tombstones`, :mod:`.retry_queue`,
  :mod:`.failed_set`, :mod:`.ledger`, :mod:`.seen_set`, :mod:`.throttle`, :mod:`.profiles`,
  :mod:`.organizations`.
"""

from dataexport.store.base import Store
from dataexport.store.control import ControlStore, open_store
from dataexport.store.errors import ControlDatabaseBusy, ControlDatabaseFault, LeaseLost, StateConflict
from dataexport.store.values import (
    Counters,
    EntityState,
    FailureLog,
    Lease,
    LinkKind,
    RetryItem,
    SyncKey,
    SyncKind,
    ThrottleLimits,
)

__all__ = [
    "ControlDatabaseBusy",
    "ControlDatabaseFault",
    "ControlStore",
    "Counters",
    "EntityState",
    "FailureLog",
    "Lease",
    "LeaseLost",
    "LinkKind",
    "RetryItem",
    "StateConflict",
    "Store",
    "SyncKey",
    "SyncKind",
    "ThrottleLimits",
    "open_store",
]
