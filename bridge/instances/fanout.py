"""Events across instances: one Redis stream that every instance writes to and reads all of.

Each instance appends the events it makes to the stream ``mcp-bridge:events`` (``XADD``, kept
to about ``MAXLEN`` entries; the event log in the shared store is what replay reads) from one
sender task, so a call never waits on Redis: what came in ``GATHER`` seconds goes as one entry
(the events' JSON, a line each), since a command's cost in the client is the same for one
event or many. One reader task per instance follows the stream (``XREAD BLOCK``) and takes the
other instances' events.

**A call's end is shared before its answer.** ``publish`` hands back a receipt for the events a
caller's answer waits for (a call finished or failed), done once the entry holding it is in the
stream (or Redis refused it: then it is only in the log); the sender sends at once rather than
gathering more. Without it an instance killed right after answering took the call's end with it:
followers on the others never saw a call whose caller had its answer (the log had it, so only a
follower resuming from before it did).

**Order.** Events are ordered by id everywhere: an id starts with the millisecond it was made,
and the event log replays in id order too, so what a follower was sent live and what it reads
back after ``Last-Event-ID`` agree. An instance's own events and those read from the stream
wait together for the settling time after they were made, then go to the feed's tails in id
order; so on every instance followers see the same events in the same order, as long as an
event reaches the others within the settling time (clocks kept in step by NTP, Redis nearby). An
event later than that is still handed on, after newer ones: a live follower already past its id
shows it then, out of order (``bridge.feed.follower``), rather than never; each is logged.

**The settling time follows the others' delays.** It is ``SETTLE`` while events come in time.
An event from another instance that took more than ``NEAR`` of it to arrive (a loaded machine,
a stalled process) lengthens it to twice that delay, up to ``MAX_SETTLE``, before a later one
comes too late; the lengthening then halves every ``HALF_LIFE`` seconds. Under load live events
come later rather than not at all.

**Interest.** An instance hears call events only while someone follows them (``bridge.feed``).
Each instance keeps what its followers want in the hash ``mcp-bridge:interest`` (renewed every
``REFRESH`` seconds, dropped after ``3 × REFRESH`` unrenewed) and says on the channel of that
name when it changed; every instance follows the others' wants as one following of its feed.
Webhooks are unaffected: each instance's outbox takes only its own events, as it does alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import threading
import time
from collections.abc import Awaitable
from typing import cast

import orjson
import redis.asyncio
from redis.exceptions import RedisError

from bridge.events import CallFailed, CallFinished, Receipt
from bridge.feed import EVENT_TYPES, Feed, WireEvent

from .instance import PREFIX, Instance, ended

__all__ = ["ANSWERED", "MAXLEN", "MAX_SETTLE", "SETTLE", "RedisFanout", "made_at"]

log = logging.getLogger(__name__)

STREAM = PREFIX + "events"
INTEREST = PREFIX + "interest"
#: Entries the stream keeps, about (``MAXLEN ~``): a reader further behind than this resumes
#: from the log, as a slow follower does.
MAXLEN = 10_000
#: Seconds an event waits for the others' events made before it (see the module's notes). At
#: 50 ms, on two cores loaded by twice as many processes, about one event in 40 from the other
#: instance came later than that; a stream already waits up to 50 ms to write events together.
SETTLE = 0.2
#: The longest the settling time grows to, however late the others' events come.
MAX_SETTLE = 2.0
#: The share of the settling time an event from another instance may take to arrive before the
#: settling time grows (to twice that event's delay).
NEAR = 0.5
#: Seconds in which a lengthened settling time comes half of the way back to ``SETTLE``.
HALF_LIFE = 30.0
#: Seconds the sender waits after an event for more to send with it (well within ``SETTLE``):
#: one entry of two events per call cost the bridge a third more CPU per call, batches far less.
GATHER = 0.01
#: Seconds between two renewals of this instance's interest.
REFRESH = 2.0
#: Entries read per ``XREAD``, and milliseconds it blocks for.
READ_COUNT = 500
READ_BLOCK_MS = 1000

#: The events a caller's answer waits for: ``publish`` hands back a receipt for them.
ANSWERED = frozenset({CallFinished.kind, CallFailed.kind})

_CROCKFORD = {c: i for i, c in enumerate("0123456789ABCDEFGHJKMNPQRSTVWXYZ")}


def made_at(event_id: str) -> int:
    """The millisecond (since the epoch) an event id says it was made in."""
    value = 0
    for char in event_id[:10]:
        value = value * 32 + _CROCKFORD[char]
    return value


def _int(answer: Awaitable[int] | int) -> Awaitable[int]:
    """A hash command's answer as the asyncio client gives it (its types allow both clients')."""
    return cast(Awaitable[int], answer)


class RedisFanout:
    """Shares the feed's events with the other instances (see the module's notes); a ``bridge.feed.Fanout``."""

    def __init__(
        self,
        feed: Feed,
        instance: Instance,
        loop: asyncio.AbstractEventLoop,
        settle: float = SETTLE,
        half_life: float = HALF_LIFE,
    ) -> None:
        self._feed = feed
        self._instance = instance
        self._me = instance.id.encode()
        self._client = instance.client
        self._reader: redis.asyncio.Redis | None = None
        self._loop = loop
        self._thread: int | None = None
        self._settle = settle
        self._half_life = half_life
        #: Seconds the settling time was lengthened by, and when (``time.time()``).
        self._lengthened = (0.0, 0.0)
        self._outgoing: list[WireEvent] = []
        self._wake = asyncio.Event()
        #: Done once the outgoing events are in the stream, when one of them is ``ANSWERED``.
        self._shared: asyncio.Future[None] | None = None
        #: The sender's wait for more events to gather, cut short by an ``ANSWERED`` one.
        self._gathering: asyncio.Future[None] | None = None
        self._closed = False
        self._held: list[tuple[str, WireEvent]] = []
        self._timer: asyncio.TimerHandle | None = None
        #: The newest id handed to the tails.
        self._released = ""
        self._wanted: tuple[frozenset[str], bool] = (frozenset(), False)
        self._told = True
        self._stirred = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Events that came later than ``settle`` behind a newer one (see the module's notes).
        self.late = 0

    async def start(self) -> None:
        """Follow the stream from its end, and the others' interest; then take this instance's events."""
        self._thread = threading.get_ident()
        self._reader = self._instance.connect(read_timeout=READ_BLOCK_MS / 1000 + 5)
        newest = await self._client.xrevrange(STREAM, count=1)
        start = newest[0][0] if newest else b"0-0"
        await self._gather()
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="fanout-send"),
            asyncio.create_task(self._read_forever(start), name="fanout-read"),
            asyncio.create_task(self._instance.listen(INTEREST, self._heard), name="fanout-listen"),
            asyncio.create_task(self._interest_forever(), name="fanout-interest"),
        ]
        self._feed.fan_out(self)

    async def close(self) -> None:
        self._closed = True
        await ended(self._tasks)
        _done(self._shared)  # nobody will send them now: their callers need not wait
        with contextlib.suppress(RedisError):
            await _int(self._client.hdel(INTEREST, self._instance.id))
            await self._client.publish(INTEREST, self._me)
        if self._reader is not None:
            await self._reader.aclose()

    # -- this instance's events ------------------------------------------------------------------

    def publish(self, wire: WireEvent) -> Receipt | None:
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.publish, wire)
            return None
        self._outgoing.append(wire)
        self._wake.set()
        self._hold(wire)
        if wire.type not in ANSWERED or self._closed:
            return None
        if self._shared is None:
            self._shared = self._loop.create_future()
        _done(self._gathering)  # its caller waits: send now
        return self._shared

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            if self._shared is None:  # nobody waits yet: gather what comes soon into one entry
                self._gathering = self._loop.create_future()
                timer = self._loop.call_later(GATHER, _done, self._gathering)
                await self._gathering
                timer.cancel()
                self._gathering = None
            self._wake.clear()
            batch, self._outgoing = self._outgoing, []
            shared, self._shared = self._shared, None
            lines = b"\n".join(wire.json(True) for wire in batch)  # JSON text holds no raw newline
            try:
                await self._client.xadd(STREAM, {b"i": self._me, b"e": lines}, maxlen=MAXLEN, approximate=True)
            except RedisError as exc:  # the others miss these live; they are in the log
                log.warning("%d events not shared with the other instances: %s", len(batch), exc)
            finally:
                _done(shared)

    # -- everyone's events, in order -------------------------------------------------------------

    async def _read_forever(self, last: bytes) -> None:
        assert self._reader is not None
        while True:
            try:
                found = await self._reader.xread({STREAM: last}, count=READ_COUNT, block=READ_BLOCK_MS)
            except RedisError as exc:
                log.warning("reading the other instances' events failed: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in found:
                for entry_id, fields in entries:
                    last = entry_id
                    if fields.get(b"i") != self._me:
                        for line in fields[b"e"].split(b"\n"):
                            self._arrived(WireEvent.from_json(line))

    @property
    def settle(self) -> float:
        """Seconds an event waits now for the others' events made before it (see the module's notes)."""
        extra, since = self._lengthened
        if not extra:
            return self._settle
        return self._settle + extra * math.pow(0.5, (time.time() - since) / self._half_life)

    def _arrived(self, wire: WireEvent) -> None:
        """Another instance's event: held as this instance's own are, its delay lengthening the settling time."""
        now = time.time()
        delay = now - made_at(wire.id) / 1000
        settle = self.settle
        if settle * NEAR < delay:
            lengthened = min(2 * delay, MAX_SETTLE)
            if lengthened > settle:
                self._lengthened = (lengthened - self._settle, now)
                log.info(
                    "an event came %.0f ms after it was made: events now settle for %.0f ms",
                    delay * 1000,
                    lengthened * 1000,
                )
        self._hold(wire)

    def _hold(self, wire: WireEvent) -> None:
        if wire.id <= self._released:
            self.late += 1
            delay = time.time() - made_at(wire.id) / 1000
            log.warning(
                "event %s came %.0f ms after it was made, after newer ones; live followers get it out of order",
                wire.id,
                delay * 1000,
            )
            self._feed.deliver(wire)
            return
        heapq.heappush(self._held, (wire.id, wire))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._held:
            due = made_at(self._held[0][0]) / 1000 + self.settle
            self._timer = self._loop.call_later(max(due - time.time(), 0.0), self._release)

    def _release(self) -> None:
        self._timer = None
        cutoff = (time.time() - self.settle) * 1000
        held = self._held
        while held and made_at(held[0][0]) <= cutoff:
            event_id, wire = heapq.heappop(held)
            self._released = event_id
            self._feed.deliver(wire)
        self._schedule()

    # -- interest ----------------------------------------------------------------------------------

    def interest(self, kinds: frozenset[str], payload: bool) -> None:
        self._loop.call_soon_threadsafe(self._want, (kinds, payload))

    def _want(self, wanted: tuple[frozenset[str], bool]) -> None:
        self._wanted, self._told = wanted, False
        self._stirred.set()

    def _heard(self, instance: bytes) -> None:
        if instance != self._me:
            self._stirred.set()

    async def _interest_forever(self) -> None:
        while True:
            # Not ``wait_for``: on Python 3.11 it swallows a cancel that comes as the wait ends
            # (a follower leaving as the bridge stops), and ``close()`` then waited forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH):
                    await self._stirred.wait()
            self._stirred.clear()
            try:
                await self._announce()
                await self._gather()
            except RedisError as exc:
                log.warning("sharing followers' interest through Redis failed: %s", exc)

    async def _announce(self) -> None:
        kinds, payload = self._wanted
        told = self._told
        self._told = True
        document = {"kinds": sorted(kinds), "payload": payload, "until": time.time() + 3 * REFRESH}
        await _int(self._client.hset(INTEREST, self._instance.id, orjson.dumps(document).decode()))
        if not told:
            await self._client.publish(INTEREST, self._me)

    async def _gather(self) -> None:
        """Follow what the other live instances' followers want."""
        now = time.time()
        kinds: set[str] = set()
        payload = False
        stale = []
        found = await cast(Awaitable[dict[bytes, bytes]], self._client.hgetall(INTEREST))
        for instance, raw in found.items():
            if instance == self._me:
                continue
            document = orjson.loads(raw)
            if document["until"] < now:
                stale.append(instance)
                continue
            kinds.update(document["kinds"])
            payload = payload or document["payload"]
        if stale:
            await _int(self._client.hdel(INTEREST, *(s.decode() for s in stale)))
        self._feed.hear_remote((EVENT_TYPES[k] for k in kinds if k in EVENT_TYPES), payload)


def _done(future: asyncio.Future[None] | None) -> None:
    """Complete ``future`` unless there is none or it is done already."""
    if future is not None and not future.done():
        future.set_result(None)
