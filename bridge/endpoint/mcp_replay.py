"""What a 2025-era MCP client missed on a cut event stream, kept so it can resume (``Last-Event-ID``).

Up to 2025-11-25, Streamable HTTP lets a client whose answer stream was cut come back with a
``GET`` naming the last event it saw; the server sends the stream's events after it, then the
rest as they come, ending with the answer. A cut stream is not a cancelled request: the
revision says so, and a client that wants a call stopped sends ``notifications/cancelled``. (At
2026-07-28 there is no resuming: a client that goes away has given its call up.)

``SessionEvents`` is one session's record of its streams, and is the SDK's ``EventStore`` for
that session's transport too, so the streams the SDK's server answers and those the lean path
answers (``bridge.endpoint.lean_exchange.Exchange``) are resumed alike:

- every event on a stream gets an id, ``<stream>.<n>``, the stream's part random, so an id names
  its stream and cannot be guessed; a stream that begins at 2025-11-25 begins with a priming
  event (an id and ``retry``, no data), so a client cut before anything else came can resume;
- the ``GET`` that resumes is the SDK's (its session, owner and header checks first), which asks
  ``replay_events_after``: the events after that id, then each one as it is kept, until the
  stream's answer (or, on the standalone stream, until the client goes again). A stream the
  record no longer holds sends nothing, and the stream ends;
- the store is per session, so an id is only ever looked up among its own session's streams.

Bounded: ``EVENTS_PER_STREAM`` events a stream (the oldest go first, the answer is always kept),
``STREAMS_PER_SESSION`` streams a session (finished ones go first), and a finished stream is kept
``KEPT_SECONDS`` after its answer. A session's record goes with the session.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import OrderedDict, deque
from typing import Any, Final

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCError, JSONRPCResponse

__all__ = [
    "EVENTS_PER_STREAM",
    "KEPT_SECONDS",
    "RETRY_MS",
    "STREAMS_PER_SESSION",
    "Raw",
    "SessionEvents",
    "Stream",
    "events_of",
    "resumable",
]

#: How long a client waits before it resumes (the priming event's ``retry``).
RETRY_MS: Final = 500
#: Events kept per stream; the oldest go first (progress, say), never the answer.
EVENTS_PER_STREAM: Final = 1000
#: Streams kept per session; the finished go first, the oldest of them first.
STREAMS_PER_SESSION: Final = 64
#: How long a finished stream stays resumable.
KEPT_SECONDS: Final = 60.0


class Raw:
    """A JSON-RPC message kept as the JSON it was sent as, handed to the SDK's replay as its messages are."""

    __slots__ = ("json",)

    def __init__(self, json: str) -> None:
        self.json = json

    def model_dump_json(self, **_: Any) -> str:
        return self.json


class Stream:
    """One answer stream's events, in order, and whether its answer came."""

    __slots__ = ("_changed", "_count", "done_at", "events", "key", "token")

    def __init__(self, key: StreamId | None) -> None:
        self.key = key
        self.token = secrets.token_urlsafe(9)
        self._count = itertools.count(1)
        #: (number, message): None for a priming event, which is never sent again.
        self.events: deque[tuple[int, Any]] = deque()
        self.done_at: float | None = None
        self._changed = asyncio.Event()

    def keep(self, message: Any, last: bool = False) -> EventId:
        """Keep ``message`` (None: a priming event) and give its id; ``last``: the stream's answer."""
        number = next(self._count)
        if message is not None:
            self.events.append((number, message))
            if len(self.events) > EVENTS_PER_STREAM:
                self.events.popleft()
        if last:
            self.done_at = time.monotonic()
        self._changed.set()
        return f"{self.token}.{number}"

    def end(self) -> None:
        """The stream is over without an answer (its request was cancelled)."""
        if self.done_at is None:
            self.done_at = time.monotonic()
        self._changed.set()

    async def follow(self, after: int, send: EventCallback) -> None:
        """Send the events after number ``after``, then each as it comes, until the stream's end."""
        while True:
            self._changed.clear()
            # Whether it had ended as the events were taken: an answer kept while they are being
            # sent (each send may wait) is not among them, and goes on the next turn.
            ended = self.done_at is not None
            for number, message in list(self.events):
                if number > after:
                    await send(EventMessage(message, f"{self.token}.{number}"))
                    after = number
            if ended:
                return
            await self._changed.wait()


def _is_answer(message: Any, key: StreamId) -> bool:
    """Whether ``message`` is the response that ends the SDK's stream ``key`` (its request's id)."""
    return isinstance(message, JSONRPCResponse | JSONRPCError) and str(message.id) == key


class SessionEvents(EventStore):
    """One 2025-era session's streams, lean and the SDK's (see the module)."""

    def __init__(self) -> None:
        self._streams: OrderedDict[str, Stream] = OrderedDict()
        #: The SDK's streams, by its own key (the request id, or the standalone stream's).
        self._by_key: dict[StreamId, Stream] = {}

    def open(self, key: StreamId | None) -> Stream:
        """A new stream: the SDK's ``key`` (a finished one of that key before it is left as it was),
        or None for the lean path's, which the SDK never names."""
        self._prune()
        stream = Stream(key)
        self._streams[stream.token] = stream
        if key is not None:
            self._by_key[key] = stream
        return stream

    def _prune(self) -> None:
        now = time.monotonic()
        for token, stream in list(self._streams.items()):
            if stream.done_at is not None and now - stream.done_at > KEPT_SECONDS:
                self._drop(token)
        if len(self._streams) >= STREAMS_PER_SESSION:
            finished = [token for token, stream in self._streams.items() if stream.done_at is not None]
            for token in (finished or list(self._streams))[: len(self._streams) - STREAMS_PER_SESSION + 1]:
                self._drop(token)

    def _drop(self, token: str) -> None:
        stream = self._streams.pop(token)
        stream.end()  # whoever follows it is done with it too
        if stream.key is not None and self._by_key.get(stream.key) is stream:
            del self._by_key[stream.key]

    def close(self) -> None:
        """The session is gone: its streams end, and whoever follows one stops."""
        for token in list(self._streams):
            self._drop(token)

    async def store_event(self, stream_id: StreamId, message: Any) -> EventId:
        """The SDK's: keep an event of its stream ``stream_id`` (a priming event when ``message`` is None)."""
        stream = self._by_key.get(stream_id)
        if stream is None or stream.done_at is not None:
            stream = self.open(stream_id)
        return stream.keep(message, last=message is not None and _is_answer(message, stream_id))

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        """Send what came after ``last_event_id`` on its stream, then the rest as it comes; None,
        so the SDK adds no tail of its own (every event is kept here first, and followed here)."""
        token, _, number = last_event_id.rpartition(".")
        stream = self._streams.get(token)
        if stream is None or not number.isdigit():
            return None
        await stream.follow(int(number), send_callback)
        return None


def resumable(manager: Any) -> None:
    """Make every session the SDK's session manager opens resumable: its transport keeps a record
    of its streams (``SessionEvents``), which goes with the session. The SDK's manager shares one
    store among all its sessions; one per session keeps each id to its own session's streams."""
    admit = manager._admit_session
    discard = manager._discard_session

    def admitting(requestor: Any) -> Any:
        transport = admit(requestor)
        if transport is not None:
            transport._event_store = SessionEvents()
            transport._retry_interval = RETRY_MS
        return transport

    async def discarding(session_id: str, transport: Any) -> None:
        if (events := events_of(transport)) is not None:
            events.close()
        await discard(session_id, transport)

    manager._admit_session = admitting
    manager._discard_session = discarding


def events_of(transport: Any) -> SessionEvents | None:
    """The record of a session's streams its transport holds (``resumable``, or a revived session's)."""
    events = getattr(transport, "_event_store", None)
    return events if isinstance(events, SessionEvents) else None
