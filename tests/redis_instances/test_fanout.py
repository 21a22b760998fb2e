"""Two feeds in one process, each with its own instance on one real Redis: order, interest, sinks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio

from bridge.events import CallFinished, CallStarted, InProcessBus, ServerStateChanged, new_event_id
from bridge.feed import Feed, WireEvent
from bridge.feed.follower import Follower
from bridge.instances import Instance, RedisFanout
from bridge.instances.fanout import HALF_LIFE, MAX_SETTLE, SETTLE, STREAM, made_at
from bridge.model import ADMIN, USE, Principal
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
async def node(url: str, half_life: float = HALF_LIFE) -> AsyncIterator[Node]:
    bus, store = InProcessBus(), Store.memory()
    feed = Feed(bus, store)
    instance = Instance.from_url(url)
    await instance.start()
    fanout = RedisFanout(feed, instance, asyncio.get_running_loop(), half_life=half_life)
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


def test_a_calls_end_is_in_the_stream_once_the_receipt_its_answer_waits_for_is_done(redis_url: str) -> None:
    """An instance killed right after answering a call has already shared the call's end."""

    async def scenario() -> None:
        async with node(redis_url) as a:
            following = a.feed.follow({CallStarted, CallFinished})
            started = CallStarted(server="s", tool="t", call_id="c1", subject="alice", arguments={})
            assert a.bus.publish(started) == ()  # a call never waits on Redis for its start
            receipts = a.bus.publish(_finished("c1"))
            assert len(receipts) == 1
            for receipt in receipts:
                await receipt
            async with redis.asyncio.Redis.from_url(redis_url) as client:
                shared = await client.xrevrange(STREAM, count=1)  # at once, no waiting
            (_entry, fields) = shared[0]
            assert [WireEvent.from_json(line).type for line in fields[b"e"].split(b"\n")] == [
                "tool.call.started",
                "tool.call.finished",
            ]
            following.close()

    asyncio.run(scenario())


def test_a_closed_fanout_leaves_no_caller_waiting(redis_url: str) -> None:
    async def scenario() -> None:
        async with node(redis_url) as a:
            following = a.feed.follow({CallFinished})
            (receipt,) = a.bus.publish(_finished("c2"))
            await a.fanout.close()
            await asyncio.wait_for(receipt, 5)
            assert a.bus.publish(_finished("c3")) == ()
            following.close()

    asyncio.run(scenario())


def test_a_fanout_closes_at_once_when_a_follower_leaves_as_it_closes(redis_url: str) -> None:
    """The bridge stopping as a stream ends: the interest task's wait ends as it is cancelled."""

    async def scenario() -> None:
        for _ in range(5):
            async with node(redis_url) as a:
                a.feed.follow({CallFinished}).close()
                began = time.monotonic()
                await asyncio.wait_for(a.fanout.close(), 10)
                assert time.monotonic() - began < 1.0

    asyncio.run(scenario())


def _finished(call_id: str) -> CallFinished:
    return CallFinished(
        server="s", tool="t", call_id=call_id, subject="alice", duration=0.01, is_error=False, arguments={}, result={}
    )


def test_an_event_later_than_the_settling_time_is_still_handed_on_and_counted(redis_url: str) -> None:
    """A live follower on b already past the late event's id gets it too, after the newer one (it
    was made after the follower began: as by an instance that took long to share it)."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with node(redis_url) as a, node(redis_url) as b:
            tail = b.feed.tail(loop)
            async with Follower(b.feed, Principal("key:root", frozenset({USE, ADMIN}))) as follower:
                stale = new_event_id()  # older than "first", shared after it: late on b
                first = ServerStateChanged(server="s", state="first")
                a.bus.publish(first)
                await apoll(lambda: tail.end == 1, 10, what="the first event on b")
                assert await _next_id(follower) == first.id
                a.bus.publish(ServerStateChanged(server="s", state="late", id=stale))
                await apoll(lambda: tail.end == 2, 10, what="the late event on b")
                late = tail.since(1, 1)
                assert late is not None
                assert [w.id for w in late] == [stale]
                assert b.fanout.late == 1
                assert await _next_id(follower) == stale

    asyncio.run(scenario())


def test_events_coming_late_lengthen_the_settling_time_so_the_next_as_late_come_in_time(redis_url: str) -> None:
    """An instance whose events take 0.5 s to arrive (a stalled process): the first comes too late
    for b's followers, and b waits longer from then on, so the next comes in time and in order."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with node(redis_url) as a, node(redis_url) as b:
            tail = b.feed.tail(loop)
            assert b.fanout.settle == SETTLE
            for round_ in (1, 2):
                b.bus.publish(ServerStateChanged(server="s", state=f"b's own {round_}"))
                await asyncio.sleep(0.5)
                # made 10 ms before b's own event, arriving 0.5 s after it was made
                a.bus.publish(ServerStateChanged(server="s", state=f"a's slow {round_}", id=_id_made_ago(0.51)))
                both = 2 * round_
                await apoll(lambda: tail.end == both, 10, what=f"both events of round {round_} on b")  # noqa: B023
                if round_ == 1:  # b's own event had gone to its followers: a's is late, and b waits longer
                    assert b.fanout.late == 1
                    assert 0.9 < b.fanout.settle <= MAX_SETTLE  # twice the delay: a little over 1 s
            assert b.fanout.late == 1  # the second round's slow event came in time
            second = tail.since(2, 2)
            assert second is not None
            assert [w.id for w in second] == sorted(w.id for w in second)
            assert [w.document(True)["data"]["state"] for w in second] == ["a's slow 2", "b's own 2"]

    asyncio.run(scenario())


def test_a_lengthened_settling_time_comes_back_and_never_passes_its_bound(redis_url: str) -> None:
    async def scenario() -> None:
        async with node(redis_url) as a, node(redis_url, half_life=0.2) as b:
            a.bus.publish(ServerStateChanged(server="s", state="a clock behind", id=_id_made_ago(30.0)))
            await apoll(lambda: b.fanout.settle > SETTLE, 10, what="b to hear the event")
            assert b.fanout.settle <= MAX_SETTLE
            await apoll(lambda: b.fanout.settle < SETTLE + 0.01, 10, what="the settling time to come back")

    asyncio.run(scenario())


async def _next_id(follower: Follower) -> str:
    """The id of the next event ``follower`` hands out (within 10 s)."""
    item = await asyncio.wait_for(anext(follower), 10)
    assert isinstance(item, WireEvent), item
    return item.id


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
