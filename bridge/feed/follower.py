"""One live subscriber of the feed (an SSE stream, a WebSocket subscription): what it may see,
in order, without ever slowing the publisher.

A follower reads the feed's tail (``bridge.feed.tail``), which every follower shares, from its
own position. When more than ``buffer`` events wait for it, or what it has not read has left the
tail (the consumer is slow or gone), it is behind: its consumer is told (``stream.lagged``) and
it catches up from the event log, after the last event it delivered, then goes on live. Coming
back with ``Last-Event-ID`` works the same way; if the log no longer holds that id, the
follower says so (``stream.gap``) before what the log still has.

Events come in id order, but for one that another instance's event took too long to share
(``bridge.instances.fanout``): it comes after newer ones, and goes out then, out of order, not
dropped, if it was made after the follower began (or after the id it resumed from). What a
follower hands out is each event once: what the log gave a catch-up and the tail gives again is
known by id (the ids of the last ``buffer`` events the catch-up read). A client that resumes
with the id of such a late event as its ``Last-Event-ID`` is sent the newer events after it
again: ids tell them apart.

A follower sees only events about servers (and tools) its principal may use, and a call's
params and result only if it asked for them and may see them (its own calls; any call with
the admin scope).
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from bridge.events import new_event_id
from bridge.feed.envelope import EventFilter, WireEvent
from bridge.feed.feed import Feed
from bridge.model import ADMIN, Principal

__all__ = ["BUFFER", "Follower", "Notice"]

#: Events a follower holds for its consumer before it is behind.
BUFFER = 1024
#: Events read from the log per query while catching up.
PAGE = 500


@dataclass(frozen=True, slots=True)
class Notice:
    """Something about the stream itself, not an event of the gateway (it has no id)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {"type": self.type, "data": self.data}


class Follower:
    """Events for one subscriber, as an async iterator of ``WireEvent`` and ``Notice``.

    Use as ``async with Follower(...) as follower: async for item in follower: ...``.
    """

    def __init__(
        self,
        feed: Feed,
        principal: Principal,
        event_filter: EventFilter | None = None,
        *,
        payload: bool = False,
        last_event_id: str | None = None,
        buffer: int = BUFFER,
    ) -> None:
        self._feed = feed
        self._principal = principal
        self.filter = event_filter or EventFilter()
        self.payload = payload
        self._sees_all_payloads = principal.has_scopes((ADMIN,))
        #: Every event passes (no filter, no allowlist): the common case skips the checks.
        self._sees_everything = self.filter == EventFilter() and principal.unrestricted
        #: The id of the last event handed out, or (before any) an id made now, which sorts
        #: before every event still to come: a catch-up reads the log after it.
        self.last_id = last_event_id or new_event_id()
        #: Where it began: an event made before it (a late one too) is not this follower's.
        self._since = self.last_id
        self._tail = feed.tail(asyncio.get_running_loop())
        #: Where this follower reads the tail next.
        self._position = self._tail.end
        self._limit = buffer
        self._behind = last_event_id is not None  # coming back: first catch up from the log
        self._resuming = last_event_id is not None
        self._replayed: collections.deque[WireEvent | Notice] = collections.deque()
        #: The ids of the last events a catch-up read from the log, which the tail may hold too.
        self._read_back: set[str] = set()
        self._following = feed.follow(self.filter.kinds(), payload=payload)
        self._closed = False

    async def __aenter__(self) -> Follower:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._following.close()

    # -- what it may see ------------------------------------------------------------------------

    def visible(self, wire: WireEvent) -> bool:
        if not self.filter.matches(wire):
            return False
        principal = self._principal
        if wire.server is None or principal.unrestricted:
            return True
        if not principal.may_use(wire.server):
            return False
        tool = wire.document(False)["data"].get("tool") if wire.type.startswith("tool.") else None
        return tool is None or principal.may_call(wire.server, tool)

    # -- what goes out (on the loop) -------------------------------------------------------------

    def shows_payload(self, wire: WireEvent) -> bool:
        """Whether this follower gets ``wire``'s params and result."""
        return self.payload and (self._sees_all_payloads or wire.subject == self._principal.subject)

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> WireEvent | Notice:
        while not self._closed:
            items = self.ready(1)
            if items:
                return items[0]
            if self._behind:
                await self._catch_up()
                continue
            await self._tail.wait(self._position)
        raise StopAsyncIteration

    def ready(self, limit: int) -> list[WireEvent | Notice]:
        """Up to ``limit`` more items that are here now, without waiting (none while catching up):
        lets a consumer that got one item from ``__anext__`` write a burst in one go."""
        items: list[WireEvent | Notice] = []
        while self._replayed and len(items) < limit:
            items.append(self._handed(self._replayed.popleft()))
        if self._behind or self._closed or len(items) >= limit:
            return items
        tail = self._tail
        if tail.end - self._position > self._limit:
            self._behind = True  # more than it may hold: the log has them, and it catches up from there
            return items
        while len(items) < limit:
            new = tail.since(self._position, limit - len(items))
            if new is None:
                self._behind = True  # fell out of the tail
                return items
            if not new:
                return items
            self._position += len(new)
            last = self.last_id
            for wire in new:
                newer = wire.id > last
                # An older one is another instance's that came late (see the module's notes): it goes
                # out of order, once, unless it is from before this follower or a catch-up had it.
                if not newer and (wire.id <= self._since or wire.id in self._read_back):
                    continue
                if self._sees_everything or self.visible(wire):
                    items.append(wire)
                    if newer:
                        last = wire.id
            self.last_id = last
        return items

    def _handed(self, item: WireEvent | Notice) -> WireEvent | Notice:
        if isinstance(item, WireEvent):
            self.last_id = item.id
        return item

    async def _catch_up(self) -> None:
        """Read what the log has after ``last_id`` into ``_replayed``; live again when it is read."""
        resuming, self._resuming = self._resuming, False
        self._position = self._tail.end  # what comes from now on is read live; overlaps skipped by id
        self._behind = False
        if not resuming:
            self._replayed.append(Notice("stream.lagged", {"lastEventId": self.last_id}))
        after = self.last_id
        first = True
        read_back: collections.deque[str] = collections.deque(maxlen=self._limit)
        while True:
            gap, page = await self._feed.replay(after, PAGE, resuming=resuming)
            if first and gap:
                self._replayed.append(
                    Notice("stream.gap", {"lastEventId": after, "resumedFrom": page[0].id if page else None})
                )
            first = False
            self._replayed.extend(w for w in page if self.visible(w))
            read_back.extend(w.id for w in page)
            if len(page) < PAGE:
                self._read_back = set(read_back)
                return
            after = page[-1].id
