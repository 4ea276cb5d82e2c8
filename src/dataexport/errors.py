"""The product's one exception tree.

The engine acts on three families; every error the product raises belongs to exactly one::

    DataExportError
    ├── TransientError                 retry the same work with backoff; nothing consumed, no link moves
    │   ├── DestinationBusy            lock or statement timeout, deadlock, lost connection (1 s -> 60 s)
    │   ├── DestinationUnavailable     unreachable, disk/database full, read-only, write denied (5 s -> 5 min,
    │   │                              one ledger entry per outage)
    │   ├── SourceUnavailable          Dataverse 5xx, timeouts, resets, invalid pages (DES §7.7)
    │   └── SecretUnavailable          a secret cannot be read now (unset variable, missing file, vault down)
    ├── TerminalError                  stop this entity (or profile), mark it Failed, say why
    │   ├── InvalidIdentifier          a schema, prefix or logical name unsafe for SQL
    │   ├── TableNotUsable             the table cannot be created or adopted (a view, no usable Id column)
    │   ├── DestinationAccessDenied    login refused, DDL permission denied
    │   ├── DestinationFault           an unclassified database error (a bug or a damaged database)
    │   ├── UnsupportedDestination     a connection string naming an engine the service cannot write to
    │   ├── InvalidTransition          an entity phase change the rules do not allow
    │   ├── SecretNotFound             a Key Vault secret (or vault) the reference names does not exist
    │   └── SecretAccessDenied         the secret store refuses the service's identity
    └── SkippableError                 one record: retry queue, then failure ledger; the stream goes on
        ├── RecordRejected             the destination refused the record (constraint, trigger, size)
        └── ValueConversionError       a row value does not fit its attribute's type

Adapters refine the families in their own modules, each class under one of the three:
``dataexport.source.errors`` (``DeltaTokenExpired``, ``LinkRejected``, ``InvalidPage``, ``SourceRequestRefused``...)
and ``dataexport.store.errors`` (``LeaseLost``, ``StateConflict``, ``ControlDatabaseBusy``, ``ControlDatabaseFault``).

Identifiers are attributes (``entity``, ``profile_id``, ``record_id``) and appear in the message, so a log
line or a ``LastError`` says what happened and to what. Raise or return, never log and carry on: the only
sanctioned way past a bad record is the skippable path, which always leaves a failure entry.
"""

from __future__ import annotations


class DataExportError(Exception):
    """Base of every error the product raises.

    Attributes:
        message: what happened, without the identifiers.
        entity: the entity (table) logical name, when known.
        profile_id: the export profile id, when known.
        record_id: the record id (lowercase GUID), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        entity: str | None = None,
        profile_id: str | None = None,
        record_id: str | None = None,
    ) -> None:
        self.message = message
        self.entity = entity
        self.profile_id = profile_id
        self.record_id = record_id
        super().__init__(self._render())

    def _render(self) -> str:
        tags = [f"{k}={v}" for k, v in self._identifiers() if v is not None]
        return f"{self.message} ({', '.join(tags)})" if tags else self.message

    def _identifiers(self) -> tuple[tuple[str, str | None], ...]:
        return (("entity", self.entity), ("profile_id", self.profile_id), ("record_id", self.record_id))

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the identifiers when an error crosses a process boundary (pickled by a task queue).
        return (_restore, (type(self), dict(self.__dict__)))


def _restore(cls: type[DataExportError], state: dict[str, object]) -> DataExportError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


class TransientError(DataExportError):
    """Retry the same work later with backoff; it never counts against ``RetryCount``."""


class DestinationBusy(TransientError):
    """The destination is reachable but the batch lost a race: lock, deadlock, timeout, dropped connection."""


class DestinationUnavailable(TransientError):
    """The destination cannot take writes now: unreachable, full, read-only or write permission denied."""


class SourceUnavailable(TransientError):
    """Dataverse could not answer usefully: 5xx, timeout, reset, truncated or invalid page."""


class TerminalError(DataExportError):
    """Stop the entity (or profile) and mark it Failed; an administrator must act."""


class InvalidIdentifier(TerminalError):
    """A name that would reach SQL is not made of letters, digits and underscores."""


class TableNotUsable(TerminalError):
    """The entity's table cannot be created or adopted."""


class DestinationAccessDenied(TerminalError):
    """The destination refused the login or a DDL statement the mode needs."""


class DestinationFault(TerminalError):
    """A database error no rule classifies: a bug, a damaged database, or a missing object."""


class UnsupportedDestination(TerminalError):
    """The destination engine is not supported (yet)."""


class InvalidTransition(TerminalError):
    """A phase change the per-entity state rules do not allow."""


class SkippableError(DataExportError):
    """A record-level failure: the record goes to the retry queue and, at last, the failure ledger."""


class RecordRejected(SkippableError):
    """The destination refused this record because of its own data."""


class ValueConversionError(SkippableError):
    """A value of the row does not fit the type of its attribute.

    Attributes:
        attribute: the attribute logical name.
    """

    def __init__(
        self,
        message: str,
        *,
        attribute: str,
        entity: str | None = None,
        record_id: str | None = None,
    ) -> None:
        self.attribute = attribute
        super().__init__(message, entity=entity, record_id=record_id)

    def _identifiers(self) -> tuple[tuple[str, str | None], ...]:
        return (*super()._identifiers(), ("attribute", self.attribute))


class SecretUnavailable(TransientError):
    """A secret reference cannot be resolved now (variable unset, file missing, vault unreachable).

    The message names the reference and what to do, never the secret's value.
    """


class SecretNotFound(TerminalError):
    """A Key Vault secret reference names a secret (or vault) that does not exist; fix the reference.

    The message names the reference, never a value.
    """


class SecretAccessDenied(TerminalError):
    """The secret store refused the service identity (no token, no Get permission, host not accepted).

    The message names the reference and what to grant or fix, never a value.
    """
