"""Two feeds in one process, each with its own instance on one real Redis: order, interest, sinks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bridge.events import CallFinished, InProcessBus, ServerStateChanged, new_event_id
from bridge.feed import Feed
from bridge.instances import Instance, RedisFanout
from bridge.instances.fanout import made_at
from bridge.store import Store
from harness import apoll


@dataclass
class Node:
    bus: InProcessBus
    feed: Feed
    fanout: RedisFanout
    #: What the feed's sinks (the webhook outbox's place) were handed.
    sunk: list[str] = field(default_factory=list)


@asynccontextmanager
async def node(url: str) -> AsyncIterator[Node]:
    bus, store = InProcessBus(), Store.memory()
    feed = Feed(bus, store)
    instance = Instance.from_url(url)
    await instance.start()
    fanout = RedisFanout(feed, instance, asyncio.get_running_loop())
    await fanout.start()
    joined = Node(bus, feed, fanout)
    feed.add_sink(lambda wire: joined.sunk.append(wire.id))
    try:
        yield joined
    finally:
        await fanout.close()
        await instance.close()
        feed.close()
        store.close()


def test_an_event_id_says_the_millisecond_it_was_made_in() -> None:
    before = time.time_ns() // 1_000_000
    made = made_at(new_event_id())
    assert before <= made <= time.time_ns() // 1_000_000


def test_events_made_on_two_instances_reach_both_in_id_order_and_only_their_makers_sinks(redis_url: str) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with node(redis_url) as a, node(redis_url) as b:
            tails = [a.feed.tail(loop), b.feed.tail(loop)]
            for i in range(10):
                (a, b)[i % 2].bus.publish(ServerStateChanged(server="s", state=f"state-{i}"))
            await apoll(lambda: all(t.end == 10 for t in tails), 10, what="ten events on both instances")
            seen = [[w.id for w in t.since(0, 100) or []] for t in tails]
            assert seen[0] == seen[1]
            assert seen[0] == sorted(seen[0])
            assert len(set(seen[0])) == 10
            assert a.sunk == seen[0][0::2]  # the webhook outbox's place: each instance's own events only
            assert b.sunk == seen[0][1::2]
            assert (a.fanout.late, b.fanout.late) == (0, 0)

    asyncio.run(scenario())


def test_an_instance_hears_calls_while_another_instance_follows_them(redis_url: str) -> None:
    async def scenario() -> None:
        async with node(redis_url) as a, node(redis_url) as b:
            assert not a.bus.wants(CallFinished)  # nobody follows calls: a call builds no event
            following = b.feed.follow({CallFinished})
            await apoll(lambda: a.bus.wants(CallFinished), 10, what="a hears calls for b's follower")
            following.close()

    asyncio.run(scenario())


def test_an_event_later_than_the_settling_time_is_still_handed_on_and_counted(redis_url: str) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with node(redis_url) as a, node(redis_url) as b:
            tail = b.feed.tail(loop)
            a.bus.publish(ServerStateChanged(server="s", state="first"))
            await apoll(lambda: tail.end == 1, 10, what="the first event on b")
            stale = _id_made_ago(5.0)  # as from an instance whose clock is 5 s behind
            a.bus.publish(ServerStateChanged(server="s", state="late", id=stale))
            await apoll(lambda: tail.end == 2, 10, what="the late event on b")
            late = tail.since(1, 1)
            assert late is not None
            assert [w.id for w in late] == [stale]
            assert b.fanout.late == 1

    asyncio.run(scenario())


def _id_made_ago(seconds: float) -> str:
    """An event id as one made ``seconds`` ago (its time part moved back, the rest kept)."""
    fresh = new_event_id()
    ms = made_at(fresh) - int(seconds * 1000)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    digits = ""
    for _ in range(10):
        ms, digit = divmod(ms, 32)
        digits = alphabet[digit] + digits
    return digits + fresh[10:]
