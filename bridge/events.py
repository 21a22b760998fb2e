"""What happens in the gateway, as events on one bus that any part of the bridge may follow.

The gateway publishes; the MCP endpoint's change announcements, the live spec, and the event
stream, WebSocket subscriptions, webhook outbox and call store still to come subscribe.
Publishing never waits on a subscriber: handlers run on the publisher's thread and must return
at once (an async consumer hands the event to its own loop). A handler that raises is logged
and kept. Nobody listening costs nothing: publishers ask ``wants(kind)`` before building an
event, and the bus answers from a dict.

A handler that must have an event kept before the publisher goes on (the webhook outbox: once a
caller has its answer, the call's event is in the store) returns a *receipt*, an awaitable that
completes when it is; ``publish`` hands the receipts back, and the gateway awaits those of a
call's end before answering. Every other handler returns None.

Every event has an ``id`` that is unique across processes and restarts and sorts in the order
the events were made within a process (a millisecond clock, a per-process random part, then a
counter: 26 characters of Crockford's base 32, like a ULID).

::

    Event
    ├── CallEvent
    │   ├── CallStarted       a tool call passed every check and went upstream
    │   ├── CallProgress      the upstream reported progress on it
    │   ├── CallInputRequired an asynchronous call asks its caller something (``POST /calls/{id}/input``)
    │   ├── CallFinished      it answered (``is_error``: the tool said it failed)
    │   └── CallFailed        it did not answer usably (the problem a caller saw)
    ├── ServerStateChanged    connecting, ready, degraded, down
    ├── CatalogChanged        tools, resources or prompts added or removed
    ├── ResourceUpdated       a followed resource changed upstream
    ├── ServerRegistered      added at run time
    └── ServerRemoved         removed at run time
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

__all__ = [
    "CallEvent",
    "CallFailed",
    "CallFinished",
    "CallInputRequired",
    "CallProgress",
    "CallStarted",
    "CatalogChanged",
    "Event",
    "EventBus",
    "Handler",
    "InProcessBus",
    "Receipt",
    "ResourceUpdated",
    "ServerRegistered",
    "ServerRemoved",
    "ServerStateChanged",
    "Subscription",
    "new_event_id",
]

log = logging.getLogger(__name__)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


class _EventIds:
    """Ids that sort by time, then by order of making within this process; see the module's notes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process = _base32(secrets.randbits(30), 6)
        self._counter = itertools.count()
        self._last_ms = 0
        self._time = _base32(0, 10)

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._last_ms:  # a clock set back keeps the last time: ids never go backwards
                self._last_ms = ms
                self._time = _base32(ms, 10)
            return self._time + self._process + _base32(next(self._counter), 10)


#: A new event id (26 characters; sorts after every id this process made before it).
new_event_id = _EventIds()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened, about one server (or none), at one time (seconds since the epoch)."""

    #: The event's type as it will be named on the wire (``tool.call.finished``).
    kind: ClassVar[str] = "event"
    server: str | None
    at: float = field(default_factory=time.time)
    id: str = field(default_factory=new_event_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(Event):
    """Something that happened to one tool call; ``wants(CallEvent)`` asks whether anyone hears any."""

    server: str
    call_id: str
    tool: str
    #: Who called: the principal's subject (a key's name or fingerprint, a token's subject), never a secret.
    subject: str
    #: The caller's id for its request (``X-Request-Id``, a JSON-RPC id), when it gave one.
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(CallEvent):
    kind: ClassVar[str] = "tool.call.started"
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallProgress(CallEvent):
    kind: ClassVar[str] = "tool.call.progress"
    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInputRequired(CallEvent):
    """An asynchronous call (``call_id`` is its id in ``/calls``) waits for its caller's answers."""

    kind: ClassVar[str] = "tool.call.input_required"
    #: The pending questions: ``{"id", "method", "params"}`` each, params in wire shape.
    questions: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFinished(CallEvent):
    kind: ClassVar[str] = "tool.call.finished"
    duration: float
    is_error: bool
    arguments: Mapping[str, Any]
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFailed(CallEvent):
    kind: ClassVar[str] = "tool.call.failed"
    duration: float
    arguments: Mapping[str, Any]
    #: The RFC 9457 problem the caller was answered.
    problem: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStateChanged(Event):
    kind: ClassVar[str] = "server.state.changed"
    server: str
    state: str
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogChanged(Event):
    kind: ClassVar[str] = "server.catalog.changed"
    server: str
    #: Names added and removed, by kind (``tools``, ``prompts``, ``resources``: URIs).
    added: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    removed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceUpdated(Event):
    kind: ClassVar[str] = "resource.updated"
    server: str
    uri: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRegistered(Event):
    kind: ClassVar[str] = "server.registered"
    server: str
    transport: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRemoved(Event):
    kind: ClassVar[str] = "server.removed"
    server: str


#: What a handler may hand back: something to await before the publisher goes on.
Receipt = Awaitable[None]
#: A handler returns None, or a ``Receipt`` when the event must be kept before the publisher goes on.
Handler = Callable[[Event], Receipt | None]


class Subscription(Protocol):
    def close(self) -> None:
        """Stop delivering; safe to call twice."""
        ...


class EventBus(Protocol):
    def subscribe(self, handler: Handler, kinds: Iterable[type[Event]] | None = None) -> Subscription:
        """Deliver events of ``kinds`` (every kind when None, subclasses included) to ``handler``."""
        ...

    def wants(self, kind: type[Event]) -> bool:
        """Whether anyone would receive an event of ``kind`` or of a kind below it (publishers skip
        building events nobody would receive)."""
        ...

    def publish(self, event: Event) -> tuple[Receipt, ...]:
        """Hand ``event`` to its handlers; the receipts some of them gave (usually none)."""
        ...


class _Subscription:
    __slots__ = ("_bus", "handler", "kinds")

    def __init__(self, bus: InProcessBus, handler: Handler, kinds: tuple[type[Event], ...]) -> None:
        self._bus = bus
        self.handler = handler
        self.kinds = kinds

    def close(self) -> None:
        self._bus._remove(self)


class InProcessBus:
    """Events delivered synchronously to the handlers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[_Subscription] = []
        #: Handlers by exact event class, and whether a kind or one below it is heard; both rebuilt
        #: on (un)subscribe, so publishing and asking only read a dict.
        self._routes: dict[type[Event], tuple[Handler, ...]] = {}
        self._wanted: dict[type[Event], bool] = {}

    def subscribe(self, handler: Handler, kinds: Iterable[type[Event]] | None = None) -> Subscription:
        subscription = _Subscription(self, handler, tuple(kinds) if kinds is not None else (Event,))
        with self._lock:
            self._subscriptions.append(subscription)
            self._routes, self._wanted = {}, {}
        return subscription

    def _remove(self, subscription: _Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
                self._routes, self._wanted = {}, {}

    def _handlers(self, kind: type[Event]) -> tuple[Handler, ...]:
        handlers = self._routes.get(kind)
        if handlers is None:
            with self._lock:
                handlers = tuple(s.handler for s in self._subscriptions if issubclass(kind, s.kinds))
                self._routes = {**self._routes, kind: handlers}
        return handlers

    def wants(self, kind: type[Event]) -> bool:
        wanted = self._wanted.get(kind)
        if wanted is None:
            with self._lock:
                wanted = any(
                    issubclass(kind, s.kinds) or any(issubclass(k, kind) for k in s.kinds) for s in self._subscriptions
                )
                self._wanted = {**self._wanted, kind: wanted}
        return wanted

    def publish(self, event: Event) -> tuple[Receipt, ...]:
        receipts: tuple[Receipt, ...] = ()
        for handler in self._handlers(type(event)):
            try:
                receipt = handler(event)
            except Exception:  # one broken subscriber must not stop the others, nor the publisher
                log.exception("event handler %r failed on %s", handler, event.kind)
                continue
            if receipt is not None:
                receipts = (*receipts, receipt)
        return receipts
