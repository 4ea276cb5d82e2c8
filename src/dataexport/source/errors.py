"""The source's errors, in the families of :mod:`dataexport.errors` (they belong in that module's tree)::

    TransientError
    ├── SourceUnavailable (dataexport.errors)   Dataverse 5xx, timeouts, resets, invalid pages
    │   ├── InvalidPage              a page failing validation (webapi §8 R13): not JSON, no ``value`` array,
    │   │                            a row without its primary key, a nextLink equal to the current URL
    │   ├── RetriesExhausted         the last retryable failure of a request after every attempt (DES §7.7)
    │   ├── PageTooLarge             a page body passed the byte cap (R12): read it again at half the size
    │   ├── SourceThrottled          429s went on past the configured longest wait
    │   └── SourceUnauthorized       a 401 again after one token refresh (webapi §7.5), or a token endpoint
    │                                that could not answer
    └── SourceRestartRequired        the link cannot be read; retrying the same link will not help
        ├── DeltaTokenExpired        re-baseline with the delete sweep (webapi §3.6, §8 R6)
        └── LinkRejected             a saved nextLink was refused: restart from the last deltaLink (R4)
    TerminalError
    ├── SourceRequestRefused         a 4xx that is not retried (403, 404, 400 ...), for that request
    │   └── ChangeTrackingDisabled   the table is not (or no longer) change-tracked
    └── SourceCredentialsRejected    the token endpoint refused the client (``invalid_client``,
                                     ``unauthorized_client``): an administrator must fix the credentials

The engine catches :class:`SourceRestartRequired` before the generic transient family: retrying the same
link with backoff would only fail again. Messages never contain a secret or a token.
"""

from __future__ import annotations

from dataexport.errors import SourceUnavailable, TerminalError, TransientError


class InvalidPage(SourceUnavailable):
    """A page that fails validation (R13); none of its rows may be written."""


class RetriesExhausted(SourceUnavailable):
    """A request failed with retryable errors (5xx, timeout, reset, invalid body) on every attempt.

    Attributes:
        reason: what the last attempt saw (``status 503``, ``timeout``, ``invalid_json`` ...).
    """

    def __init__(self, message: str, *, reason: str, entity: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, entity=entity)


class PageTooLarge(SourceUnavailable):
    """A page body passed the configured byte cap; the page size shrinks and the same link is read again."""


class SourceThrottled(SourceUnavailable):
    """Dataverse kept answering 429 for longer than the configured longest wait."""


class SourceUnauthorized(SourceUnavailable):
    """The Web API refused the token after one refresh, or no token could be obtained now."""


class SourceRestartRequired(TransientError):
    """The link cannot be read any more; the read must restart from an earlier point."""


class DeltaTokenExpired(SourceRestartRequired):
    """The delta token expired (410, ``0x80044352``, or a version-stamp message): re-baseline (R6)."""


class LinkRejected(SourceRestartRequired):
    """Dataverse refused a saved nextLink (400 on ``$skiptoken``): restart from the last deltaLink (R4)."""


class SourceRequestRefused(TerminalError):
    """A 4xx answer that is final for this request.

    Attributes:
        status: the HTTP status.
        code: Dataverse's ``error.code`` (``0x80040220`` ...), when the body had one.
    """

    def __init__(self, message: str, *, status: int, code: str | None = None, entity: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message, entity=entity)

    def _identifiers(self) -> tuple[tuple[str, str | None], ...]:
        return (*super()._identifiers(), ("status", str(self.status)), ("code", self.code))


class ChangeTrackingDisabled(SourceRequestRefused):
    """Change tracking is not enabled for the table: enable it in Dataverse, then re-activate the entity."""


class SourceCredentialsRejected(TerminalError):
    """The token endpoint refused the client id or secret: fix the organization's credentials."""
