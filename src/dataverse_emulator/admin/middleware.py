"""The admin middleware: a pure-ASGI shell around the whole emulator app (spec §6.3, §6.4, §9.3).

For every request outside ``/_emulator/`` it

1. reads the request's :class:`RequestFacts`;
2. applies the throttling simulation to Web API requests that carry a token (a rejection is a 429
   written here; an admission adds the ``x-ms-ratelimit-*`` headers to the response);
3. asks the fault engine for a decision and carries it out (delays, statuses, stalls, resets,
   expired tokens, lost tracking, malformed bodies);
4. records the request log entry when the response is done.

It is pure ASGI (not ``BaseHTTPMiddleware``) because faults must stall, truncate and drop connections
in the middle of a body. Dropping a connection closes the server's transport when the server exposes
it (uvicorn does, through ``receive.__self__.transport``); an in-process server (Starlette's
``TestClient``) gets :class:`InjectedConnectionReset` raised instead, an ``httpx`` transport error, so
in-process clients see what they would see on a real socket.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import httpx
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataverse_emulator.admin import tracking_faults
from dataverse_emulator.admin.facts import request_facts
from dataverse_emulator.admin.fault_rules import Effect, FaultAction, Malform
from dataverse_emulator.admin.faults import FaultDecision
from dataverse_emulator.admin.malform import malformed, next_page_row
from dataverse_emulator.admin.replies import Reply, status_reply, throttle_reply
from dataverse_emulator.admin.requestlog import LogEntry
from dataverse_emulator.admin.throttling import Admission, Rejection

if TYPE_CHECKING:
    from dataverse_emulator.emulator import Emulator

ADMIN_PREFIX = "/_emulator"
DEFAULT_STALL_MS = 30_000


class InjectedConnectionReset(httpx.RemoteProtocolError):
    """A ``reset``/``truncate`` fault in a server whose connection the emulator cannot close."""


class AdminMiddleware:
    """Throttling, faults and the request log around ``app`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        await _Exchange(self, scope, receive, send).run()

    def throttle_time(self) -> float:
        """Seconds on the throttling time base: the emulator clock when frozen, wall time otherwise."""
        clock = self.emulator.clock
        return clock.now().timestamp() if clock.is_frozen else time.time()


class _Exchange:
    """One request going through the middleware."""

    def __init__(self, owner: AdminMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.admin = owner.emulator.admin
        self.scope, self.receive, self._send = scope, receive, send
        self.facts = request_facts(scope, owner.emulator.clock.now())
        self.status = 0
        self.sent_bytes = 0
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self.fault: str | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            if self.extra_headers:
                message = {**message, "headers": [*message.get("headers", []), *self.extra_headers]}
        elif message["type"] == "http.response.body":
            self.sent_bytes += len(message.get("body", b""))
        await self._send(message)

    async def run(self) -> None:
        started = time.perf_counter()
        caller = self.facts.caller.key if self.facts.is_web_api else None
        admitted = False
        try:
            outcome = self.admin.throttle.admit(caller, self.owner.throttle_time()) if caller else None
            if isinstance(outcome, Rejection):
                self.fault = f"throttled {outcome.code}"
                await self.send_reply(throttle_reply(outcome))
                return
            if isinstance(outcome, Admission):
                admitted = True
                self.extra_headers = _ratelimit_headers(outcome)
            decision = self.admin.faults.decide(self.facts)
            self.fault = decision.label() if decision else None
            await self.act(decision)
        except InjectedConnectionReset:
            raise
        except BaseException:
            self.status = self.status or 500
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            if admitted and caller:
                self.admin.throttle.finish(caller, self.owner.throttle_time(), duration_ms)
            self.record(duration_ms)

    def record(self, duration_ms: float) -> None:
        facts = self.facts
        entry = LogEntry(
            time=facts.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            method=facts.method,
            path=facts.path,
            query=facts.query_text(),
            prefer=facts.headers.get("prefer"),
            identity=facts.caller.oid,
            app_id=facts.caller.app_id,
            entity_set=facts.entity_set,
            status=self.status,
            bytes=self.sent_bytes,
            duration_ms=round(duration_ms, 3),
            fault=self.fault,
        )
        self.admin.log.record(entry)

    # ----- acting on a decision ---------------------------------------------------------------

    async def act(self, decision: FaultDecision | None) -> None:
        action = decision.action if decision else FaultAction()
        if action.delay_ms and action.effect is not Effect.STALL:
            await anyio.sleep(action.delay_ms / 1000)
        effect = action.effect
        if effect is Effect.STATUS:
            await self.send_reply(status_reply(action))
        elif effect is Effect.RESET_BEFORE:
            await self.drop_connection()
        elif effect is Effect.EXPIRE_TOKEN:
            await self.send_reply(tracking_faults.expired_reply(self.owner.emulator, self.scope, self.facts))
        elif effect in (Effect.STALL, Effect.RESET_MID_BODY, Effect.MALFORM):
            await self.deliver_faulty(action, await self.buffered())
        else:
            if effect is Effect.DISABLE_TRACKING:
                await run_in_threadpool(tracking_faults.disable_tracking, self.owner.emulator, self.facts)
            await self.pass_through()

    async def pass_through(self) -> None:
        if self.admin.faults.plan.remembers_pages and self.facts.entity_set and self.facts.method == "GET":
            await self.send_reply(await self.buffered())
        else:
            await self.owner.app(self.scope, self.receive, self.send)

    async def buffered(self) -> Reply:
        """Run the app and keep its whole response (remembering page ends for ``duplicate_row``)."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.owner.app(self.scope, self.receive, capture)
        reply = Reply(int(start.get("status", 500)), tuple(start.get("headers", ())), b"".join(chunks))
        if self.admin.faults.plan.remembers_pages:
            page_end = next_page_row(reply.body)
            if page_end is not None:
                self.admin.pages.remember(*page_end)
        return reply

    async def deliver_faulty(self, action: FaultAction, reply: Reply) -> None:
        if action.effect is Effect.STALL:
            await self.send_start(reply.with_header("content-length", str(len(reply.body))))
            await self.send_body(reply.body[: action.stall_after_bytes], more=True)
            if await self.client_gave_up(action.delay_ms or DEFAULT_STALL_MS):
                return
            await self.send_body(reply.body[action.stall_after_bytes :], more=False)
        elif action.effect is Effect.RESET_MID_BODY or action.malform is Malform.TRUNCATE:
            cut = len(reply.body) // 2 if action.at_bytes is None else action.at_bytes
            await self.send_start(reply.with_header("content-length", str(len(reply.body))))
            await self.send_body(reply.body[:cut], more=True)
            await self.drop_connection()
        else:
            assert action.malform is not None
            previous = self._previous_row() if action.malform is Malform.DUPLICATE_ROW else None
            await self.send_reply(
                malformed(action.malform, reply, primary_key=self._primary_key(), previous_row=previous)
            )

    def _primary_key(self) -> str | None:
        table = tracking_faults.table_of(self.owner.emulator, self.facts)
        return table.primary_id if table else None

    def _previous_row(self) -> dict[str, object] | None:
        skiptoken = self.facts.option("$skiptoken")
        return self.admin.pages.last_row_before(skiptoken) if skiptoken else None

    # ----- the wire ---------------------------------------------------------------------------

    async def send_start(self, reply: Reply) -> None:
        await self.send({"type": "http.response.start", "status": reply.status, "headers": list(reply.headers)})

    async def send_body(self, body: bytes, *, more: bool) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": more})

    async def send_reply(self, reply: Reply) -> None:
        await self.send_start(reply)
        await self.send_body(reply.body, more=False)

    async def client_gave_up(self, wait_ms: int) -> bool:
        """Wait up to ``wait_ms`` for the client to disconnect; ``True`` if it did."""
        with anyio.move_on_after(wait_ms / 1000):
            while (await self.receive())["type"] != "http.disconnect":
                pass
            return True
        return False

    async def drop_connection(self) -> None:
        """Close the connection now, whatever was sent so far."""
        cycle = getattr(self.receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None or not hasattr(transport, "close"):
            raise InjectedConnectionReset(f"fault injected: connection reset ({self.fault})")
        transport.close()
        # Let the server notice the loss, so it does not try to answer for us (uvicorn sends a 500
        # when an app returns without a response, unless the connection is gone).
        for _ in range(100):
            if getattr(cycle, "disconnected", True):
                return
            await anyio.sleep(0.001)


def _ratelimit_headers(admission: Admission) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ms-ratelimit-burst-remaining-xrm-requests", str(admission.burst_remaining).encode()),
        (b"x-ms-ratelimit-time-remaining-xrm-requests", str(admission.time_remaining_ms).encode()),
    ]


def install_middleware(app: ASGIApp, emulator: Emulator) -> ASGIApp:
    """``app`` wrapped in :class:`AdminMiddleware` (the outermost layer of the emulator)."""
    return AdminMiddleware(app, emulator)


__all__ = ["AdminMiddleware", "InjectedConnectionReset", "install_middleware"]
