"""The loop that acts on :mod:`.classify`'s verdicts: waits, refreshes the token, retries, or raises.

webapi §8 R8, DES §7.7. One :meth:`RequestRunner.run` is one logical request: 429s wait their
``Retry-After`` (plus jitter) through the identity's :class:`~.throttle.ThrottleGate` and never count as
attempts; a 401 refreshes the token once; 5xx, timeouts, resets and invalid bodies back off exponentially
with full jitter for the configured number of attempts. ``sleep``, the clocks and the jitter source are
injected, so tests assert the waits without waiting.
"""

from __future__ import annotations

import logging
import random as random_module
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar, cast

from dataexport.domain.sync import Backoff
from dataexport.errors import DataExportError, SourceUnavailable
from dataexport.source.dataverse.auth import TokenProvider
from dataexport.source.dataverse.classify import Failure, Observation, Verdict, classify
from dataexport.source.dataverse.config import SourceConfig
from dataexport.source.dataverse.paging import Headers
from dataexport.source.dataverse.responses import BodyError, is_json_media_type, parse_error_body, parse_retry_after
from dataexport.source.dataverse.throttle import ThrottleGate
from dataexport.source.dataverse.transport import ExchangeFailed, Reply, Transport
from dataexport.source.errors import (
    ChangeTrackingDisabled,
    DeltaTokenExpired,
    InvalidPage,
    LinkRejected,
    PageTooLarge,
    RetriesExhausted,
    SourceRequestRefused,
    SourceThrottled,
    SourceUnauthorized,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Request:
    """One logical GET: the URL (followed verbatim), extra headers, and what a 400 would mean."""

    url: str
    headers: Headers = ()
    entity: str | None = None
    continuation: bool = False
    max_bytes: int | None = None


@dataclass(slots=True)
class _Progress:
    """What one logical request has been through so far."""

    failures: int = 0  # retryable failures (429s are not counted)
    refreshed: bool = False  # the token was refreshed after a 401
    throttled: float = 0.0  # seconds paused by 429s


@dataclass(frozen=True, slots=True)
class _Attempt(Generic[R_co]):
    observation: Observation
    reply: Reply | None = None
    detail: str = ""
    result: R_co | None = None


class RequestRunner:
    """Runs requests for one organization identity."""

    def __init__(
        self,
        transport: Transport,
        tokens: TokenProvider,
        gate: ThrottleGate,
        config: SourceConfig,
        *,
        sleep: Callable[[float], object] = time.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random_module.random,
        closed: Callable[[], bool] = lambda: False,
    ) -> None:
        self._closed = closed
        self._transport = transport
        self._tokens = tokens
        self._gate = gate
        self._config = config
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._jitter = jitter
        retry = config.retry
        self._backoff = Backoff(initial=retry.initial_delay, maximum=retry.max_delay)

    def run(self, request: Request, interpret: Callable[[Reply], T]) -> T:
        """GET ``request.url`` until ``interpret`` accepts a 2xx answer, acting on every other verdict.

        ``interpret`` turns the reply into the result and raises :class:`~.responses.BodyError` for a body
        that must be retried (invalid JSON, an invalid page).

        Raises:
            SourceThrottled, SourceUnauthorized, RetriesExhausted, PageTooLarge, InvalidPage: transient.
            SourceUnavailable: the source was closed meanwhile (a stop interrupts waits and retries).
            DeltaTokenExpired, LinkRejected: restart the read.
            ChangeTrackingDisabled, SourceRequestRefused, SourceCredentialsRejected: terminal.
        """
        progress = _Progress()
        while True:
            if self._closed():
                raise SourceUnavailable("The Dataverse source was closed: the sync is stopping", entity=request.entity)
            attempt = self._attempt(request, interpret)
            verdict = classify(attempt.observation)
            if verdict is Verdict.OK:
                return cast(T, attempt.result)
            self._settle(verdict, attempt, request, progress)

    def _settle(self, verdict: Verdict, attempt: _Attempt[object], request: Request, progress: _Progress) -> None:
        """Wait before the next attempt, or raise when there must be none."""
        entity = request.entity
        if verdict is Verdict.RETRY_AFTER:
            progress.throttled += self._throttle(request, attempt, progress.failures)
            if progress.throttled > self._config.throttle.max_throttled_wait:
                raise SourceThrottled(f"Throttled for {progress.throttled:.0f} s: {_describe(attempt)}", entity=entity)
        elif verdict is Verdict.REFRESH_TOKEN:
            if progress.refreshed or not self._tokens.invalidate():
                raise SourceUnauthorized(f"The Web API refused the token: {_describe(attempt)}", entity=entity)
            progress.refreshed = True
        elif verdict is Verdict.BACKOFF:
            progress.failures += 1
            if progress.failures >= self._config.retry.attempts:
                message = f"Gave up after {progress.failures} attempts: {_describe(attempt)}"
                raise RetriesExhausted(message, reason=_reason(attempt), entity=entity)
            self._back_off(request, attempt, progress.failures)
        else:
            raise _final_error(verdict, attempt, request)

    def _attempt(self, request: Request, interpret: Callable[[Reply], T]) -> _Attempt[T]:
        token = self._tokens.token()
        headers = (*request.headers, ("Authorization", f"Bearer {token}"))
        with self._gate.slot():
            try:
                reply = self._transport.get(request.url, headers, max_bytes=request.max_bytes)
            except ExchangeFailed as exc:
                return _Attempt(Observation(failure=exc.failure, continuation=request.continuation), detail=str(exc))
        self._gate.add_server_time(reply.seconds)
        if reply.status // 100 != 2:
            error = parse_error_body(reply.body)
            observed = Observation(reply.status, error.code, error.message, continuation=request.continuation)
            return _Attempt(observed, reply, error.message)
        if not is_json_media_type(reply.header("content-type")):
            failure = Observation(reply.status, failure=Failure.WRONG_CONTENT_TYPE)
            return _Attempt(failure, reply, f"content type {reply.header('content-type')!r}")
        try:
            return _Attempt(Observation(reply.status), reply, result=interpret(reply))
        except BodyError as exc:
            return _Attempt(Observation(reply.status, failure=Failure(exc.reason)), reply, str(exc))

    def _throttle(self, request: Request, attempt: _Attempt[object], failures: int) -> float:
        """Pause the identity for Retry-After (+ up to the jitter fraction); returns the pause."""
        header = attempt.reply.header("retry-after") if attempt.reply else None
        seconds = parse_retry_after(header, self._wall_clock())
        if seconds is None:  # a 429 without Retry-After uses the backoff (DES §7.7)
            seconds = self._backoff.ceiling(failures)
        delay = seconds * (1.0 + self._config.throttle.retry_after_jitter * self._jitter())
        log.warning(
            "throttled (%s), pausing %s for %.2f s: %s", _describe(attempt), self._gate.identity, delay, _where(request)
        )
        self._gate.throttled(delay)
        return delay

    def _back_off(self, request: Request, attempt: _Attempt[object], failures: int) -> None:
        delay = self._backoff.delay(failures - 1, self._jitter())
        log.warning("retry %d in %.2f s after %s: %s", failures, delay, _describe(attempt), _where(request))
        self._sleep(delay)


def _final_error(verdict: Verdict, attempt: _Attempt[object], request: Request) -> DataExportError:
    status = attempt.observation.status or 0
    code = attempt.observation.code
    entity = request.entity
    description = _describe(attempt)
    if verdict is Verdict.EXPIRED:
        return DeltaTokenExpired(f"The delta token expired, a new baseline is needed: {description}", entity=entity)
    if verdict is Verdict.LINK_REJECTED:
        return LinkRejected(f"Dataverse refused the saved nextLink: {description}", entity=entity)
    if verdict is Verdict.UNTRACKED:
        message = f"Change tracking is not enabled for the table; enable it in Dataverse: {description}"
        return ChangeTrackingDisabled(message, status=status, code=code, entity=entity)
    if verdict is Verdict.SHRINK_PAGE:
        return PageTooLarge(f"The page is too large: {attempt.detail}", entity=entity)
    if verdict is Verdict.GIVE_UP:
        return InvalidPage(f"Invalid page: {attempt.detail}", entity=entity)
    return SourceRequestRefused(
        f"Dataverse refused the request: {description}", status=status, code=code, entity=entity
    )


def _reason(attempt: _Attempt[object]) -> str:
    observation = attempt.observation
    if observation.failure is not None:
        return observation.failure.value
    return f"status {observation.status}"


def _describe(attempt: _Attempt[object]) -> str:
    """Status, ``error.code``, message and request id: what a log line or LastError needs (webapi §6.1)."""
    parts = [_reason(attempt)]
    if attempt.observation.code:
        parts.append(f"code {attempt.observation.code}")
    if attempt.detail:
        parts.append(attempt.detail)
    reply = attempt.reply
    request_id = (reply.header("x-ms-service-request-id") or reply.header("req_id")) if reply else None
    if request_id:
        parts.append(f"request id {request_id}")
    return ", ".join(parts)


def _where(request: Request) -> str:
    return f"entity={request.entity} url={request.url}" if request.entity else f"url={request.url}"
