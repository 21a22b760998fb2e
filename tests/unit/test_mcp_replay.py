"""One session's record of its answer streams (``bridge.endpoint.mcp_replay``): ids, replay, bounds.

The store is what the SDK's Streamable HTTP transport asks when a client resumes (its
``EventStore``), and what the lean path keeps its streams in; tests/test_mcp_resume.py drives
both through real bridges. Here: what it keeps and gives back, on its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mcp_types as types
import pytest
from mcp.server.streamable_http import EventMessage

from bridge.endpoint import mcp_replay
from bridge.endpoint.mcp_replay import EVENTS_PER_STREAM, STREAMS_PER_SESSION, Raw, SessionEvents


def _note(n: int) -> types.JSONRPCNotification:
    return types.JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": n})


def _answer(rid: str) -> types.JSONRPCResponse:
    return types.JSONRPCResponse(jsonrpc="2.0", id=rid, result={})


async def _replayed(events: SessionEvents, after: str) -> tuple[list[EventMessage], Any]:
    sent: list[EventMessage] = []

    async def send(message: EventMessage) -> None:
        sent.append(message)

    returned = await asyncio.wait_for(events.replay_events_after(after, send), 5)
    return sent, returned


def test_the_sdk_s_stream_replays_after_an_id_and_ends_at_its_answer() -> None:
    async def run() -> None:
        events = SessionEvents()
        priming = await events.store_event("7", None)
        ids = [await events.store_event("7", _note(n)) for n in (1, 2)]
        ids.append(await events.store_event("7", _answer("7")))
        assert len({priming, *ids}) == 4
        assert all(i.rsplit(".", 1)[0] == priming.rsplit(".", 1)[0] for i in ids)  # one stream
        sent, returned = await _replayed(events, priming)
        assert [m.event_id for m in sent] == ids
        assert returned is None  # followed here to its end: the SDK adds no tail of its own
        sent, _ = await _replayed(events, ids[0])
        assert [m.event_id for m in sent] == ids[1:]

    asyncio.run(run())


def test_a_follower_gets_each_event_as_it_is_kept_until_the_answer() -> None:
    async def run() -> None:
        events = SessionEvents()
        stream = events.open(None)
        first = stream.keep(Raw('{"n": 1}'))
        follower = asyncio.create_task(_replayed(events, first))
        await asyncio.sleep(0.01)
        assert not follower.done()
        stream.keep(Raw('{"n": 2}'))
        stream.keep(Raw('{"answer": true}'), last=True)
        sent, _ = await follower
        assert [m.message.model_dump_json() for m in sent] == ['{"n": 2}', '{"answer": true}']

    asyncio.run(run())


def test_an_answer_kept_while_a_follower_is_still_sending_reaches_it() -> None:
    # The answer comes while the follower waits on a send of the events before it (a slow client):
    # it is sent after them, and the stream ends with it, not before it.
    async def run() -> None:
        events = SessionEvents()
        stream = events.open(None)
        first = stream.keep(Raw('{"n": 1}'))
        stream.keep(Raw('{"n": 2}'))
        sent: list[str] = []

        async def slow_send(message: EventMessage) -> None:
            if not sent:  # while the first is being sent, the call answers
                stream.keep(Raw('{"n": 3}'))
                stream.keep(Raw('{"answer": true}'), last=True)
                await asyncio.sleep(0)
            sent.append(message.message.model_dump_json())

        await asyncio.wait_for(events.replay_events_after(first, slow_send), 5)
        assert sent == ['{"n": 2}', '{"n": 3}', '{"answer": true}']

    asyncio.run(run())


def test_an_unknown_id_replays_nothing() -> None:
    async def run() -> None:
        events = SessionEvents()
        stream = events.open(None)
        stream.keep(Raw("{}"), last=True)
        for unknown in ("", "nope", "nope.1", f"{stream.token}.x", f"{stream.token}x.1"):
            assert await _replayed(events, unknown) == ([], None)

    asyncio.run(run())


def test_a_request_id_used_again_begins_a_new_stream() -> None:
    async def run() -> None:
        events = SessionEvents()
        old = await events.store_event("1", _answer("1"))
        new = await events.store_event("1", _note(1))
        assert old.rsplit(".", 1)[0] != new.rsplit(".", 1)[0]

    asyncio.run(run())


def test_a_long_stream_keeps_its_latest_events_and_its_answer() -> None:
    async def run() -> None:
        events = SessionEvents()
        stream = events.open(None)
        start = stream.keep(None)
        for n in range(EVENTS_PER_STREAM + 10):
            stream.keep(Raw(str(n)))
        stream.keep(Raw("answer"), last=True)
        sent, _ = await _replayed(events, start)
        assert len(sent) == EVENTS_PER_STREAM
        assert sent[-1].message.model_dump_json() == "answer"
        assert sent[0].message.model_dump_json() == str(11)

    asyncio.run(run())


def test_a_session_keeps_so_many_streams_the_finished_going_first() -> None:
    async def run() -> None:
        events = SessionEvents()
        running = events.open(None)
        running_id = running.keep(Raw("running"))
        finished = []
        for _ in range(STREAMS_PER_SESSION + 5):
            stream = events.open(None)
            finished.append(stream.keep(Raw("done"), last=True))
        assert await _replayed(events, finished[0]) == ([], None)  # the oldest finished went
        follower = asyncio.create_task(_replayed(events, running_id))
        await asyncio.sleep(0.01)
        assert not follower.done()  # the running stream stayed
        running.keep(Raw("answer"), last=True)
        sent, _ = await follower
        assert [m.message.model_dump_json() for m in sent] == ["answer"]

    asyncio.run(run())


def test_a_finished_stream_is_kept_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        now = [1000.0]
        monkeypatch.setattr(mcp_replay.time, "monotonic", lambda: now[0])
        events = SessionEvents()
        stream = events.open(None)
        start = stream.keep(None)
        stream.keep(Raw("answer"), last=True)
        now[0] += mcp_replay.KEPT_SECONDS - 1
        events.open(None)  # what prunes
        assert len((await _replayed(events, start))[0]) == 1
        now[0] += 2
        events.open(None)
        assert await _replayed(events, start) == ([], None)

    asyncio.run(run())


def test_a_session_s_end_lets_its_followers_go() -> None:
    async def run() -> None:
        events = SessionEvents()
        stream = events.open(None)
        first = stream.keep(Raw("1"))
        follower = asyncio.create_task(_replayed(events, first))
        await asyncio.sleep(0.01)
        events.close()
        assert await follower == ([], None)

    asyncio.run(run())
