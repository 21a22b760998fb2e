"""Events fan out across instances: a stream on one bridge sees the calls made through the other."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.sync.client import connect

from harness import poll
from tests.events.sse import Message, SseClient
from tests.redis_instances.conftest import ALICE, Api, stream
from tests.support import BridgeProcess


def heard(client: SseClient, api: Api) -> None:
    """Until ``client`` hears a call made through ``api``'s bridge (the other bridges know it listens),
    then what came of those calls read off."""

    def one_heard() -> bool:
        api.says("holding")
        try:
            client.next(timeout=0.5)
        except TimeoutError:
            return False
        return True

    poll(one_heard, 15, what="a call on one bridge heard on the other's stream")
    drained(client)


def drained(client: SseClient) -> None:
    """Read off what ``client`` has, until it has been quiet for half a second."""
    while True:
        try:
            client.next(timeout=0.5)
        except TimeoutError:
            return


def calls_seen(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.data["type"], m.data["data"]["callId"]) for m in messages]


def test_a_stream_on_b_sees_the_calls_made_on_a_in_order(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = pair
    on_a = Api(a.url, ALICE)
    with stream(b) as client:
        heard(client, on_a)
        for _ in range(5):
            on_a.says("holding")
        events = client.take(10)
    ids = [m.id for m in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10
    kinds = [m.data["type"] for m in events]
    assert kinds == ["tool.call.started", "tool.call.finished"] * 5
    started, finished = calls_seen(events[0::2]), calls_seen(events[1::2])
    assert [c for _, c in started] == [c for _, c in finished]  # each call's two events, one call after another


def test_streams_on_both_instances_see_the_same_events_in_the_same_order(
    pair: tuple[BridgeProcess, BridgeProcess],
) -> None:
    a, b = pair
    on_a, on_b = Api(a.url, ALICE), Api(b.url, ALICE)
    with stream(a) as one, stream(b) as two:
        heard(one, on_b)
        heard(two, on_a)
        drained(one)  # the calls ``two`` heard, which ``one`` heard too
        for _ in range(4):
            on_a.says("holding")
            on_b.says("holding")
        seen_on_a, seen_on_b = one.take(16), two.take(16)
    ids = [m.id for m in seen_on_a]
    assert ids == [m.id for m in seen_on_b]
    assert ids == sorted(ids)
    assert [m.data for m in seen_on_a] == [m.data for m in seen_on_b]


def test_resuming_on_b_with_an_id_made_on_a_gives_what_followed_it(
    pair: tuple[BridgeProcess, BridgeProcess],
) -> None:
    a, b = pair
    on_a = Api(a.url, ALICE)
    with stream(a) as client:
        heard(client, on_a)
        for _ in range(3):
            on_a.says("holding")
        made_on_a = client.take(6)
    last = made_on_a[1].id  # the first call's finish: what follows it is the other two calls
    assert last is not None
    with stream(b, **{"Last-Event-ID": last}) as resumed:
        replayed = resumed.take(4)
    assert [m.id for m in replayed] == [m.id for m in made_on_a[2:]]
    assert [m.data for m in replayed] == [_without_payload(m.data) for m in made_on_a[2:]]


def _without_payload(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("params", "result")}


def test_calls_made_at_once_on_both_instances_come_in_one_order_on_both(
    pair: tuple[BridgeProcess, BridgeProcess],
) -> None:
    a, b = pair
    on_a, on_b = Api(a.url, ALICE), Api(b.url, ALICE)
    with stream(a) as one, stream(b) as two:
        heard(one, on_b)
        heard(two, on_a)
        drained(one)
        with ThreadPoolExecutor(4) as pool:  # two callers on each instance, their calls interleaved in time
            list(pool.map(lambda api: [api.says("holding") for _ in range(5)], [on_a, on_b, on_a, on_b]))
        seen_on_a, seen_on_b = one.take(40), two.take(40)
        for client in (one, two):
            with pytest.raises(TimeoutError):
                client.next(timeout=0.5)  # nothing more: no event twice
    ids = [m.id for m in seen_on_a]
    assert ids == [m.id for m in seen_on_b]
    assert ids == sorted(ids)
    assert len(set(ids)) == 40


def test_a_websocket_subscriber_on_b_gets_the_calls_made_on_a_with_their_payload_when_its_own(
    pair: tuple[BridgeProcess, BridgeProcess],
) -> None:
    a, b = pair
    on_a = Api(a.url, ALICE)
    url = b.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"X-API-Key": ALICE}, open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "events/subscribe", "params": _finished}))
        assert json.loads(ws.recv(timeout=10))["id"] == 1

        def pushed() -> dict[str, Any] | None:
            # Until a's feed hears of b's subscriber and that it wants payloads. Interest spreads
            # as it changes: a may first hear of the kind from a subscriber b had before, and
            # publish the calls it makes meanwhile without their payload.
            on_a.says("holding")
            try:
                event = dict(json.loads(ws.recv(timeout=0.5))["params"])
            except TimeoutError:
                return None
            return event if "params" in event else None

        event = poll(pushed, 15, what="a call on a pushed on b's socket with its payload")
    assert (event["type"], event["server"], event["tool"]) == ("tool.call.finished", "calls", "holding")
    assert event["params"] == {}  # its own call's arguments, made on a, shown on b
    assert event["result"]["structuredContent"] == {"result": 0}


_finished = {"types": ["tool.call.finished"], "payload": True}
