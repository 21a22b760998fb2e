"""The feed: the one subscriber of the gateway's bus that puts events on the wire.

Each event the gateway publishes is encoded once (``to_wire``) and then

- kept in the event log (``bridge.store.events``, through the store's writer thread), so a
  subscriber that comes back with ``Last-Event-ID`` gets what it missed;
- appended to the tail (``bridge.feed.tail``) that every live follower (an SSE stream, a
  WebSocket subscription) reads from its own position: a follower that falls behind is told so
  and catches up from the log, and never slows the publisher;
- handed to the sinks (the webhook outbox), whose receipt the gateway awaits before answering
  the call.

A call nobody follows costs nothing: the feed hears call events from the bus only while a
follower or sink wants them, and for ``linger`` seconds after the last one left, so a stream
that reconnects finds what it missed in the log. Servers' lifecycle events (states, catalogs,
registrations) are rare and always kept. ``log_calls="always"`` keeps every call's events.

With other instances (``fan_out``, ``bridge.instances``) this instance's events go to the
fanout instead of the tail, and the tail takes everyone's from it (``deliver``), in one order;
what the other instances' followers want is one more following (``hear_remote``), and what
this one's want is told to them. The log and the sinks still take only this instance's events.
The fanout's receipt (a call's end shared) is awaited with the sinks'.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bridge.events import CallEvent, Event, EventBus, Receipt, Subscription
from bridge.feed.envelope import EVENT_TYPES, PAYLOAD_CHARS, WireEvent, rfc3339, to_wire
from bridge.feed.tail import Tail
from bridge.store import Store
from bridge.store.events import EventLogStore, LoggedEvent, Retention

__all__ = ["Fanout", "Feed", "FeedSettings", "Following", "Sink"]

log = logging.getLogger(__name__)

#: Something that takes every event the feed hears (the webhook outbox); it may hand back a receipt.
Sink = Callable[[WireEvent], Receipt | None]
_LIFECYCLE: frozenset[type[Event]] = frozenset(c for c in EVENT_TYPES.values() if not issubclass(c, CallEvent))
_CALLS: frozenset[type[Event]] = frozenset(c for c in EVENT_TYPES.values() if issubclass(c, CallEvent))


class Fanout(Protocol):
    """Events shared with other bridge instances (``bridge.instances``): this one's go out, and
    everyone's come back, in one order, through ``Feed.deliver``."""

    def publish(self, wire: WireEvent) -> Receipt | None:
        """An event this instance made (from any thread; returns at once), and a receipt when the
        caller's answer must wait until the others can have it (a call's end)."""
        ...

    def interest(self, kinds: frozenset[str], payload: bool) -> None:
        """What this instance's followers and sinks want now (event type names), for the others to send."""
        ...


@dataclass(frozen=True, slots=True)
class FeedSettings:
    retention: Retention = field(default_factory=Retention)
    #: "followed": call events only while someone follows them (and ``linger`` after); "always".
    log_calls: Literal["followed", "always"] = "followed"
    #: Seconds call events are still logged after the last follower left.
    linger: float = 600.0
    #: Include calls' params and results in every event (the operator's choice), not only for
    #: followers that ask for them.
    payloads: bool = False
    payload_chars: int = PAYLOAD_CHARS
    #: Events kept between two prunings of the log.
    prune_every: int = 1000


class Following:
    """One follower's or sink's interest; ``close()`` ends it."""

    __slots__ = ("_feed", "kinds", "payload")

    def __init__(self, feed: Feed, kinds: frozenset[type[Event]], payload: bool) -> None:
        self._feed = feed
        self.kinds = kinds
        self.payload = payload

    def close(self) -> None:
        self._feed._unfollow(self)


class Feed:
    """Encodes, logs and fans out the bus's events; see the module's notes."""

    def __init__(self, bus: EventBus, store: Store, settings: FeedSettings | None = None) -> None:
        self._bus = bus
        self._store = store
        self.settings = settings or FeedSettings()
        self._lock = threading.Lock()
        self._followings: list[Following] = []
        self._offers: tuple[Callable[[WireEvent], Receipt | None], ...] = ()
        #: The tails' offers: ``_offers`` itself, unless a fanout orders events first.
        self._tail_offers: tuple[Callable[[WireEvent], None], ...] = ()
        self._fanout: Fanout | None = None
        #: What other instances' followers want (``hear_remote``), as one following.
        self._remote: Following | None = None
        self._announced: tuple[frozenset[str], bool] | None = None
        self._sinks: tuple[Sink, ...] = ()
        self._tails: dict[asyncio.AbstractEventLoop, Tail] = {}
        self._subscription: Subscription | None = None
        self._heard: frozenset[type[Event]] = frozenset()
        self._payload = self.settings.payloads
        self._lingering_until = 0.0
        self._linger_timer: threading.Timer | None = None
        self._appended = 0
        self._closed = False
        self._resubscribe()

    # -- who listens ---------------------------------------------------------------------------

    def follow(self, kinds: Iterable[type[Event]], *, payload: bool = False) -> Following:
        """Hear events of ``kinds`` from the bus (and log them) until the returned token is closed."""
        following = Following(self, frozenset(kinds), payload)
        with self._lock:
            self._followings.append(following)
        self._resubscribe()
        return following

    def _unfollow(self, following: Following) -> None:
        with self._lock:
            if following not in self._followings:
                return
            self._followings.remove(following)
            if (following.kinds & _CALLS) and not any(f.kinds & _CALLS for f in self._followings):
                self._lingering_until = time.monotonic() + self.settings.linger
                self._schedule_linger_end()
        self._resubscribe()

    @property
    def followers(self) -> int:
        """Followings open now (live followers and sinks' interests): what a vanished client must not leave behind."""
        return len(self._followings)

    def tail(self, loop: asyncio.AbstractEventLoop) -> Tail:
        """The tail of events live followers on ``loop`` read (made, and fed, on first use)."""
        with self._lock:
            tail = self._tails.get(loop)
            if tail is None:
                tail = self._tails[loop] = Tail(loop)
                self._tail_offers = (*self._tail_offers, tail.offer)  # live followers read the tail
                if self._fanout is None:
                    self._offers = self._tail_offers
        return tail

    def fan_out(self, fanout: Fanout) -> None:
        """Share events with other instances through ``fanout``: this instance's events go to it,
        and the tails take what it ``deliver``s (everyone's, in its order)."""
        with self._lock:
            self._fanout = fanout
            self._offers = (fanout.publish,)
            self._announced = None
        self._resubscribe()

    def deliver(self, wire: WireEvent) -> None:
        """Hand an event (this instance's or another's, from the fanout) to every live follower."""
        for offer in self._tail_offers:
            offer(wire)

    def hear_remote(self, kinds: Iterable[type[Event]], payload: bool) -> None:
        """Hear what other instances' followers want (the fanout tells), as a following of their own."""
        kinds = frozenset(kinds)
        following = Following(self, kinds, payload) if kinds else None
        with self._lock:
            old = self._remote
            if old is not None and following is not None and (old.kinds, old.payload) == (kinds, payload):
                return
            self._remote = following  # before it counts: never told back to the others as this one's own
            if following is not None:
                self._followings.append(following)
        if old is not None:
            old.close()  # as a follower leaving: the log lingers on calls for a stream that comes back
        else:
            self._resubscribe()

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def _schedule_linger_end(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        timer = threading.Timer(self.settings.linger + 0.05, self._resubscribe)
        timer.daemon = True
        self._linger_timer = timer
        timer.start()

    def _resubscribe(self) -> None:
        """Hear from the bus exactly what someone wants now."""
        with self._lock:
            if self._closed:
                return
            kinds = set(_LIFECYCLE)
            for following in self._followings:
                kinds |= following.kinds
            if self.settings.log_calls == "always" or time.monotonic() < self._lingering_until:
                kinds |= _CALLS
            self._payload = self.settings.payloads or any(f.payload for f in self._followings)
            heard = frozenset(kinds)
            announce = self._announcement()
            if heard == self._heard and self._subscription is not None:
                if announce is not None and self._fanout is not None:
                    self._fanout.interest(*announce)
                return
            old, self._heard = self._subscription, heard
            self._subscription = self._bus.subscribe(self._hear, heard)
        if old is not None:
            old.close()
        if announce is not None and self._fanout is not None:
            self._fanout.interest(*announce)

    def _announcement(self) -> tuple[frozenset[str], bool] | None:
        """What this instance's own followings want, when it differs from what was last told (under the lock)."""
        if self._fanout is None:
            return None
        local = [f for f in self._followings if f is not self._remote]
        names = frozenset(c.kind for f in local for c in f.kinds)
        now = (names, any(f.payload for f in local))
        if now == self._announced:
            return None
        self._announced = now
        return now

    def close(self) -> None:
        with self._lock:
            self._closed = True
            subscription, self._subscription = self._subscription, None
            if self._linger_timer is not None:
                self._linger_timer.cancel()
        if subscription is not None:
            subscription.close()

    # -- what it does with an event ------------------------------------------------------------

    def _hear(self, event: Event) -> Receipt | None:
        wire = to_wire(event, payload=self._payload, payload_chars=self.settings.payload_chars)
        with self._store.writer.together():  # the log's row and the sinks' writes: one hand-over
            self._keep(wire)
            receipts = [r for offer in self._offers if (r := offer(wire)) is not None]
            receipts += [r for sink in self._sinks if (r := sink(wire)) is not None]
        if not receipts:
            return None
        if len(receipts) == 1:
            return receipts[0]
        return _all(receipts)

    def _keep(self, wire: WireEvent) -> None:
        logged = LoggedEvent(
            id=wire.id,
            type=wire.type,
            server=wire.server,
            at=wire.document(True)["time"],
            body=wire.json(True).decode(),
        )
        writer = self._store.writer
        writer.submit(lambda tx: EventLogStore.append(tx, (logged,)))
        self._appended += 1
        if self._appended % self.settings.prune_every == 0:
            self.prune()

    def prune(self) -> None:
        """Drop from the log what its retention no longer keeps (soon, on the writer's thread)."""
        retention = self.settings.retention
        oldest = rfc3339(time.time() - retention.age)
        self._store.writer.submit(lambda tx: log.debug("pruned %d events", EventLogStore.prune(tx, retention, oldest)))

    # -- replay --------------------------------------------------------------------------------

    async def replay(self, after: str, limit: int, *, resuming: bool = True) -> tuple[bool, list[WireEvent]]:
        """Events logged after id ``after``, oldest first, at most ``limit``; and whether some
        after it may be missing: the log has dropped events after it (its oldest is newer), or,
        for a subscriber ``resuming`` from an id of its own, the log is empty."""
        return await asyncio.to_thread(self._replay, after, limit, resuming)

    def _replay(self, after: str, limit: int, resuming: bool) -> tuple[bool, list[WireEvent]]:
        self._store.writer.flush(timeout=10.0)  # what was heard before now is in the log
        events = self._store.events
        oldest = events.oldest()
        gap = resuming if oldest is None else oldest > after
        return gap, [WireEvent.from_json(body.encode()) for _id, body in events.after(after, limit)]


async def _all(receipts: list[Receipt]) -> None:
    for receipt in receipts:
        await receipt
