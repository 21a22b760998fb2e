"""The newest events, kept once for every live follower on the loop.

A hundred streams following every call used to cost a hundred buffer appends and wake-ups per
event, on the loop the calls share. Here an event is appended once; each follower keeps only
its position (an index that counts every event the tail ever took) and reads what is new when
its consumer asks, checking it against its filter then. Followers waiting for the next event
all wait on one future, resolved once per event at most.

The tail holds ``capacity`` events. A follower whose position falls out of it (its consumer is
slow or gone) is behind, and catches up from the event log (``bridge.feed.follower``).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading

from bridge.feed.envelope import WireEvent

__all__ = ["CAPACITY", "Tail"]

#: Events the tail holds; a follower further behind than this catches up from the log.
CAPACITY = 4096


class Tail:
    """The newest ``capacity`` events on one loop, by position."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int = CAPACITY) -> None:
        self._loop = loop
        self._thread = threading.get_ident() if _running(loop) else None
        self._events: collections.deque[WireEvent] = collections.deque(maxlen=capacity)
        self._capacity = capacity
        #: Position of the next event to come, and so of the newest held plus one.
        self.end = 0
        self._arrived: asyncio.Future[None] | None = None

    @property
    def start(self) -> int:
        """Position of the oldest event still held."""
        return self.end - len(self._events)

    def offer(self, wire: WireEvent) -> None:
        """Take an event (from any thread; it is added on the loop)."""
        if self._thread is None:
            self._thread = threading.get_ident() if _running(self._loop) else None
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.offer, wire)
            return
        self._events.append(wire)
        self.end += 1
        arrived, self._arrived = self._arrived, None
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    def since(self, position: int, limit: int) -> list[WireEvent] | None:
        """Up to ``limit`` events from ``position`` on; None if it is no longer held."""
        start = self.end - len(self._events)
        if position < start:
            return None
        return list(itertools.islice(self._events, position - start, position - start + limit))

    async def wait(self, position: int) -> None:
        """Until there is an event at ``position``."""
        while self.end <= position:
            if self._arrived is None:
                self._arrived = self._loop.create_future()
            await asyncio.shield(self._arrived)  # a cancelled waiter must not cancel the others' future


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
