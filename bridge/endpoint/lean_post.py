"""An MCP client's ``POST /mcp`` served from the HTTP protocol, without an ASGI cycle, when the lean path takes it.

The lean path (``bridge.endpoint.lean``) answers an MCP client's common requests in a fraction of
what the SDK's app costs; what was left around it was the way there: uvicorn's request cycle (a
scope, a task woken once for the head and again for the body, its ``send`` checking every header),
the observer, the routes matched before ``/mcp``, the gate's headers read again. Timestamps in
the bridge put that at about a sixth of the time it held a call; skipping it saves a seventh of
the Python calls per call (``bench/lean_post.py``). Here the HTTP protocol
(``GuardedHttpProtocol.posting``) offers each keep-alive HTTP/1.1 ``POST /mcp`` to ``LeanPosts``:

- ``admit``, on its head: the request must carry no ``Origin``, a ``Host`` already found good
  (``Origins``) and no header name twice, a ``Content-Length`` within the lean path's limit and
  no ``Expect``, be an MCP client's (``is_mcp_client``), and name a session this instance holds
  or speak 2026-07-28 (``LeanMcp.admits``); the server must not be stopping, and a rate, if set,
  be counted in this process (``CallerRate.local``: one in Redis is charged from the loop with an
  await, as the application does). Its body is then kept by the protocol as it comes;
- ``take``, once the body is whole: the one gate names its caller (``Gate.principal``, as on every
  route), the caller's rate is looked at (``CallerRate.allows``, counting nothing: one past it is
  the application's to refuse) and ``LeanMcp.triage`` decides; the rate is charged once it takes
  the request, so a request counts once whichever way it goes. A request it serves runs as a
  task of its own, counted with uvicorn's (the drain waits for it, and cuts it off as any other),
  answering through a ``Posted``: its head and first body in one write, with the ``Server``,
  ``Date`` and ``X-Request-Id`` every answer carries; the request's id and trace context are
  begun as the observer begins them, and its own time measured as the observer measures it.

Anything refused or declined at either step (a CORS request, a new or revived session, bad
credentials, a gate that must wait on another server, ``initialize``, a notification, a
malformed message) goes on to the ASGI application as though this module did not exist: its head
is handed to uvicorn as it came, then its body, and every answer, refusal and audit record is the
application's. With traces exported nothing is taken here (the observer opens each request's span).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from bridge.endpoint.asgi import PRINCIPAL, is_mcp_client
from bridge.endpoint.draining import Drain
from bridge.endpoint.http import Headers, send_problem
from bridge.endpoint.jsonrpc import MCP_PATH
from bridge.endpoint.lean import ACCEPTED, MAX_LEAN_BODY, Accepted, LeanMcp, RawHeaders, Taken, accepted
from bridge.endpoint.origins import Origins
from bridge.errors import BridgeError, RateLimited
from bridge.gate import Gate
from bridge.gate.credentials import MustWait
from bridge.telemetry import REQUEST_ID_HEADER, TRACEPARENT, Metrics, RequestContext, current

if TYPE_CHECKING:
    from bridge.endpoint.protocol import GuardedHttpProtocol

__all__ = ["LeanPosts", "Posted"]

log = logging.getLogger(__name__)

_REQUEST_ID: Final = REQUEST_ID_HEADER.encode()
_JSON_OF_LENGTH: Final = b"content-type: application/json\r\ncontent-length: %d\r\n"
#: The request's own id and trace context, as ``Headers`` has them (lowercase).
_GIVEN_ID: Final = REQUEST_ID_HEADER.lower()
_GIVEN_TRACE: Final = TRACEPARENT.lower()
_CUT_OFF_SCOPE: Final = {"type": "http", "path": MCP_PATH}


class Posted:
    """One ``POST`` taken from the protocol: its head and body as read, and its answer.

    To the protocol it stands where uvicorn's request cycle stands (``response_complete``,
    ``keep_alive``, ``disconnected``, ``message_event``, which uvicorn's ``connection_lost`` and
    ``shutdown`` set); to the lean path it is the request's ``send`` and ``receive``.
    """

    __slots__ = (
        "_chunked",
        "_gone",
        "_head",
        "_protocol",
        "body",
        "context",
        "disconnected",
        "headers",
        "keep_alive",
        "raw",
        "response_complete",
        "started",
    )

    def __init__(self, protocol: GuardedHttpProtocol, headers: Headers, raw: RawHeaders) -> None:
        self._protocol = protocol
        self.headers = headers
        self.raw = raw
        #: The request's id and trace context, once it is served (None: the bridge names no request).
        self.context: RequestContext | None = None
        self.body = bytearray()
        self.keep_alive = True
        self.disconnected = False
        self.response_complete = False
        #: Whether the answer's head was given (it goes out with the first of its body).
        self.started = False
        self._head: bytes | None = None
        self._chunked = False
        self._gone: asyncio.Future[None] | None = None

    @property
    def message_event(self) -> Posted:
        """What uvicorn's ``connection_lost`` sets: the client going away is told to ``receive``."""
        return self

    def set(self) -> None:
        gone = self._gone
        if gone is not None and not gone.done():
            gone.set_result(None)

    async def receive(self) -> dict[str, Any]:
        """``http.disconnect`` once the client has gone or the answer is complete (the body was read)."""
        if not self.disconnected and not self.response_complete:
            self._gone = asyncio.get_running_loop().create_future()
            await self._gone
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        """An ASGI response message, as uvicorn's cycle takes it: a head, then body chunks (chunked
        when the head gives no ``Content-Length``); RuntimeError for a second head, or a body after the last."""
        if self.disconnected:
            return
        protocol = self._protocol
        if protocol.flow.write_paused:
            await protocol.flow.drain()
        if not self.started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"expected http.response.start, got {message['type']}")
            self.started = True
            self._head = self._head_of(message["status"], message.get("headers", ()))
            return
        if message["type"] != "http.response.body" or self.response_complete:
            raise RuntimeError(f"unexpected {message['type']} after the response began or ended")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            if not more:
                data += b"0\r\n\r\n"
        else:
            data = body
        head, self._head = self._head, None
        protocol.transport.write(data if head is None else head + data)
        if not more:
            self.response_complete = True
            if not self.keep_alive:
                protocol.transport.close()
            protocol.on_response_complete()

    def answer(self, status: int, fields: list[tuple[bytes, bytes]], body: bytes) -> Awaitable[None] | None:
        """A whole JSON answer (``fields``: any beyond its type and length), written at once: what
        ``send`` makes of its two messages. Something to await only when the connection must
        drain first."""
        if self.disconnected:
            return None
        if self._protocol.flow.write_paused:
            return self._drained_answer(status, fields, body)
        self._write_answer(status, fields, body)
        return None

    async def _drained_answer(self, status: int, fields: list[tuple[bytes, bytes]], body: bytes) -> None:
        await self._protocol.flow.drain()
        if not self.disconnected:
            self._write_answer(status, fields, body)

    def _write_answer(self, status: int, fields: list[tuple[bytes, bytes]], body: bytes) -> None:
        protocol = self._protocol
        self.started = True
        head = STATUS_LINE[status] + protocol.default_head() + _JSON_OF_LENGTH % len(body)
        for name, value in fields:
            head += name + b": " + value + b"\r\n"
        if self.context is not None:
            head += _REQUEST_ID + b": " + self.context.request_id.encode() + b"\r\n"
        if not self.keep_alive:
            head += b"connection: close\r\n"
        protocol.transport.write(head + b"\r\n" + body)
        self.response_complete = True
        if not self.keep_alive:
            protocol.transport.close()
        protocol.on_response_complete()

    def _head_of(self, status: int, headers: Any) -> bytes:
        head = [STATUS_LINE[status], self._protocol.default_head()]
        chunked = True
        for name, value in headers:
            if name == b"content-length":
                chunked = False
            head += (name, b": ", value, b"\r\n")
        if self.context is not None:
            head += (_REQUEST_ID, b": ", self.context.request_id.encode(), b"\r\n")
        if chunked:
            head.append(b"transfer-encoding: chunked\r\n")
        if not self.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        self._chunked = chunked
        return b"".join(head)

    def close(self) -> None:
        """End an answer that cannot be finished: the connection goes (as uvicorn ends a broken one)."""
        self._protocol.transport.close()


class LeanPosts:
    """What the HTTP protocol asks before giving a ``POST /mcp`` to the application (see the module)."""

    def __init__(
        self,
        lean: LeanMcp,
        gate: Gate,
        origins: Origins,
        drain: Drain | None = None,
        *,
        named: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self._lean = lean
        self._gate = gate
        self._origins = origins
        self._drain = drain
        #: Whether requests are named (``X-Request-Id``) and observed, as the observer does when telemetry is on.
        self._named = named
        self._metrics = metrics

    def admit(self, protocol: GuardedHttpProtocol, raw: RawHeaders) -> Posted | None:
        """A ``Posted`` to gather the body of a request whose head is ``raw``, if its head alone says
        nothing keeps it from the lean path; None leaves it to the application."""
        rate = self._gate.rate
        if (rate is not None and not rate.local) or (self._drain is not None and self._drain.stopping.is_set()):
            return None
        headers = Headers.of(raw)
        if len(headers) != len(raw) or self._origins.needs_check_of(headers):  # a name repeated: every field counts
            return None
        length = headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_LEAN_BODY or "transfer-encoding" in headers or "expect" in headers:
            return None
        if not is_mcp_client(headers) or not self._lean.admits(headers):
            return None
        return Posted(protocol, headers, raw)

    def take(self, protocol: GuardedHttpProtocol, posted: Posted) -> bool:
        """Serve ``posted``, its body whole, if the gate admits it and the lean path takes it (a task of
        its own, among uvicorn's); False leaves it to the application, nothing done."""
        try:
            principal = self._gate.principal(posted.headers)
        except (BridgeError, MustWait):  # the application refuses it (and audits that), or waits in a thread
            return False
        rate = self._gate.rate
        if rate is not None and not rate.allows(principal):  # the application refuses it: 429, audited
            return False
        found: Taken | Accepted | RateLimited | None
        found = self._lean.triage(bytes(posted.body), posted.headers, posted.raw, {PRINCIPAL: principal})
        if found is None:
            return False
        if rate is not None:  # charged once the lean path takes it: what it leaves, the application charges
            try:
                rate.charge(principal)
            except RateLimited as refusal:  # spent since the look above, by a request on a worker thread
                found = refusal
        task = protocol.loop.create_task(self._serve(posted, found))
        protocol.tasks.add(task)
        task.add_done_callback(protocol.tasks.discard)
        return True

    async def _serve(self, posted: Posted, found: Taken | Accepted | RateLimited) -> None:
        started = time.perf_counter()
        context = None
        if self._named:  # begun as the observer begins it; this task's own: log lines, problems, the upstream's _meta
            given, traceparent = posted.headers.get(_GIVEN_ID, ""), posted.headers.get(_GIVEN_TRACE, "")
            posted.context = context = RequestContext.begin(given or None, traceparent or None)
            current.set(context)
        try:
            if found is ACCEPTED:
                await accepted(posted.send, posted.headers.get("mcp-session-id", ""))
            elif isinstance(found, RateLimited):
                scope = {"type": "http", "method": "POST", "path": MCP_PATH, "headers": posted.raw}
                await send_problem(posted.send, found, MCP_PATH, scope)
            else:
                await self._lean.serve(found, posted.send, posted.receive, posted.answer)
        except asyncio.CancelledError:
            drain = self._drain
            if drain is None or not drain.stopping.is_set() or not await drain.end(_CUT_OFF_SCOPE, posted.send):
                posted.close()
                raise
        except Exception:  # the lean path answers every failure of a call; anything else is a bug
            log.exception("the lean path failed on POST %s", MCP_PATH)
            posted.close()
        finally:
            if self._metrics is not None and context is not None:
                self._metrics.own.observe(time.perf_counter() - started - context.upstream_seconds)
        if not posted.response_complete and not posted.disconnected:
            posted.close()
