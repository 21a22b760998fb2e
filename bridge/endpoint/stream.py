"""``GET /mcp/stream``: the feed as Server-Sent Events, served on the event loop.

Each event goes out as ``id:`` and one ``data:`` line holding its JSON (``bridge.feed``'s one
encoding) and no ``event:`` line, so a browser's ``EventSource.onmessage`` sees it. Notices
about the stream itself carry ``event: stream.lagged`` or ``event: stream.gap`` and no id
(listen with ``addEventListener``); after a gap or a lag what was missed follows from the log.
The stream opens with ``retry:`` and sends a comment line every ``HEARTBEAT`` seconds, so
proxies keep an idle stream open and a vanished client is noticed when the write fails, if the
disconnect was not heard first. When the bridge stops (``stopping``), the stream's body ends with
a ``: bridge stopping`` comment: the client reconnects, to another instance behind a balancer,
and resumes from its last event id.

Query: ``type`` (repeatable or comma-separated: names, groups such as ``tool.call``, ``*``, the
guide's ``tool_executed``), ``server``, ``payload=true`` for calls' params and results (own
calls; any call for an admin), ``lastEventId`` for clients that cannot send ``Last-Event-ID``,
and ``ticket`` for those that cannot send a key (``POST /mcp/stream/tickets``).

Writing never holds up the feed: the follower's buffer is bounded, and a stream that has an
event waits ``GATHER`` seconds for more before it writes them all in one write, so a hundred
streams on a busy bridge cost the loop a write each per 50 ms or so, not one each per event.
Each stream waits a random part of that longer or shorter: streams woken by the same event
and waiting alike would all write at the same moment, and that burst held up the calls the
loop was serving (100 streams: 0.78x of the throughput without them; spread, 0.97x).

Host and Origin were checked before the request got here (``bridge.endpoint.origins``), which
also gives pages of an origin the operator allows their CORS headers and preflight answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from urllib.parse import parse_qs

import orjson

from bridge.errors import BridgeError, FieldError, RequestInvalid
from bridge.feed import EventFilter, Feed, WireEvent
from bridge.feed.follower import Follower, Notice
from bridge.model import Principal

from .access import EventAccess
from .http import Headers, Receive, Scope, Send, send_json, send_problem, send_unrouted, unexpected, without_stalling

__all__ = ["HEARTBEAT", "RETRY_MS", "EventStream", "open_event_stream", "sse_frame"]

access_log = logging.getLogger("bridge.access")
log = logging.getLogger(__name__)

STREAM_PATH = "/mcp/stream"
TICKETS_PATH = "/mcp/stream/tickets"
#: Seconds between comment lines on an idle stream: under the 30–60 s many proxies allow.
HEARTBEAT = 15.0
#: What ``retry:`` tells a client to wait before reconnecting, in milliseconds.
RETRY_MS = 3000
#: Items written per write at most; a stream catching up sends pages of this.
BURST = 256
#: Seconds a stream waits after an event for more to write with it. A busy bridge's hundred
#: streams then cost the loop a write each per 50 ms, not one per event (measured in
#: ``bench/events.py``); a subscriber hears of an event at most this much later.
GATHER = 0.05
#: The one method each route answers; any other is 405, as Flask answers on its routes.
_METHODS = {STREAM_PATH: "GET", TICKETS_PATH: "POST"}
#: An event stream's head: never cached, never buffered by a proxy in front.
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_TRUE = ("true", "1", "yes")
#: The key of an event's SSE frame among its encodings (``WireEvent.memo``).
_SSE = "sse"
_FALSE = ("false", "0", "no", "")


async def open_event_stream(send: Send) -> None:
    """Start a ``text/event-stream`` answer (200, ``_SSE_HEADERS``)."""
    await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})


def sse_frame(item: WireEvent | Notice, payload: bool) -> bytes:
    """One item as Server-Sent Events lines."""
    if isinstance(item, WireEvent):
        return item.memo(
            (_SSE, payload), lambda: b"id: " + item.id.encode() + b"\ndata: " + item.json(payload) + b"\n\n"
        )
    return b"event: " + item.type.encode() + b"\ndata: " + orjson.dumps(item.document()) + b"\n\n"


#: The spec's operation of ``GET /mcp/stream``: its query parameters are checked by it.
STREAM_OPERATION = "streamEvents"


class EventStream:
    """The stream's two routes, as a matcher and an ASGI handler."""

    def __init__(
        self, feed: Feed, access: EventAccess, heartbeat: float = HEARTBEAT, stopping: asyncio.Event | None = None
    ) -> None:
        self._feed = feed
        self._access = access
        self._heartbeat = heartbeat
        self._stopping = stopping or asyncio.Event()
        #: Streams open now (the tests' and operators' view of cleanup).
        self.open = 0

    @staticmethod
    def match(scope: Scope) -> bool:
        return scope["path"] in _METHODS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        status = 200
        try:
            headers = Headers(scope)
            if scope["method"] != _METHODS[path]:
                status = 405
                await send_unrouted(send, path, _METHODS[path])
                return
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if path == TICKETS_PATH:
                status = 201
                await self._ticket(headers, send)
            else:
                ticket = query.get("ticket", [None])[-1]
                principal = await without_stalling(lambda: self._access.principal(headers, ticket))
                await self._access.charge(principal)
                follower = self._open(principal, headers, query)
                await self._serve(follower, receive, send)
        except BridgeError as error:
            status = error.status
            await send_problem(send, error, path, scope)
        except Exception as error:  # the store down (503), or a bug: logged, answered without internals
            answered = unexpected(error, path)
            status = answered.status
            await send_problem(send, answered, path)
        if access_log.isEnabledFor(logging.INFO):  # path and status only: the query may hold a ticket
            access_log.info("%s %s %s %.1fms", scope["method"], path, status, (time.perf_counter() - started) * 1000)

    async def _ticket(self, headers: Headers, send: Send) -> None:
        principal = await without_stalling(lambda: self._access.principal(headers))
        await self._access.charge(principal)
        ticket = self._access.tickets.issue(principal)
        expires = int(self._access.tickets.ttl)
        extra = [("cache-control", "no-store")]
        await send_json(send, {"ticket": ticket, "expiresIn": expires}, 201, extra)

    def _open(self, principal: Principal, headers: Headers, query: dict[str, list[str]]) -> Follower:
        operation = self._access.gate.operation(STREAM_OPERATION)
        if operation is not None:  # the spec's rules for each value (a repeated one, each time)
            for name, values in query.items():
                for value in values:
                    operation.check({}, {name: value})
        event_filter = EventFilter.parse(query.get("type", ()), query.get("server", ()))
        payload = _flag(query.get("payload", ["false"])[-1], "/query/payload")
        last = headers.get("last-event-id", "").strip() or query.get("lastEventId", [""])[-1].strip() or None
        return Follower(self._feed, principal, event_filter, payload=payload, last_event_id=last)

    async def _serve(self, follower: Follower, receive: Receive, send: Send) -> None:
        self.open += 1
        pump: asyncio.Task[None] | None = None
        try:
            await open_event_stream(send)
            await send(
                {"type": "http.response.body", "body": b"retry: %d\n: stream open\n\n" % RETRY_MS, "more_body": True}
            )
            pump = asyncio.create_task(_pump(follower, send))
            await self._until_gone(receive, send, pump)
        finally:
            self.open -= 1
            follower.close()
            if pump is not None:
                pump.cancel()

    async def _until_gone(self, receive: Receive, send: Send, pump: asyncio.Task[None]) -> None:
        """Wait for the client to leave, writing a heartbeat whenever the stream was quiet that long;
        when the bridge stops first, end the body (a clean end, after what the pump has written)."""
        gone = asyncio.ensure_future(_disconnected(receive))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    (gone, stopping, pump), timeout=self._heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
                if stopping in done and not gone.done():
                    pump.cancel()
                    await asyncio.wait((pump,))  # its write, if one was under way, ends before the last
                    await send({"type": "http.response.body", "body": b": bridge stopping\n\n", "more_body": False})
                if done:
                    return
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
        finally:
            gone.cancel()
            stopping.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pump(follower: Follower, send: Send) -> None:
    async for first in follower:
        await asyncio.sleep(GATHER * (0.5 + random.random()))  # noqa: S311 (spreads writes; no secret)
        items = [first, *follower.ready(BURST)]
        body = b"".join(sse_frame(i, isinstance(i, WireEvent) and follower.shows_payload(i)) for i in items)
        await send({"type": "http.response.body", "body": body, "more_body": True})


def _flag(value: str, pointer: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RequestInvalid(f"{pointer}: expected true or false", [FieldError(pointer, "expected true or false")])
