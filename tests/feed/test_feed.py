"""The feed over a real gateway (in-memory upstreams) and a real store: what is encoded, kept,
followed and replayed, and what a call costs when nobody follows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import orjson
import pytest

from bridge.config import ServerConfig
from bridge.errors import RequestInvalid
from bridge.events import CallEvent, CallFinished, InProcessBus, ServerStateChanged, new_event_id
from bridge.feed import EventFilter, Feed, FeedSettings, to_wire
from bridge.feed.envelope import capped
from bridge.feed.follower import Follower, Notice
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.model import ADMIN, USE, Catalog, Principal, ServerStatus
from bridge.spec import Spec
from bridge.store import MemoryRegistrationStore, Store
from bridge.store.events import Retention
from bridge.upstream.memory import MemoryServer, MemoryUpstreams

ECHO = {"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
ALICE = Principal("key:alice", frozenset({USE}))
BOB = Principal("key:bob", frozenset({USE}))
ADMINISTRATOR = Principal("key:root", frozenset({USE, ADMIN}))


def _echo(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": arguments.get("text", "")}]}


class World:
    """A gateway with servers a and b, its bus, a store and the feed, on the upstreams' loop."""

    def __init__(self, settings: FeedSettings | None = None) -> None:
        self.upstreams = MemoryUpstreams(
            {
                "a": MemoryServer(Catalog(tools={"echo": ECHO}), tools={"echo": _echo}),
                "b": MemoryServer(Catalog(tools={"echo": ECHO}), tools={"echo": _echo}),
            }
        )
        self.bus = InProcessBus()
        self.store = Store.memory()
        self.feed = Feed(self.bus, self.store, settings)
        registry = ServerRegistry(self.upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=1)
        self.gateway = Gateway(self.upstreams, registry, self.bus)
        servers = [ServerConfig(n, "streamable-http", url=f"http://{n}") for n in ("a", "b")]
        self.gateway.run(self.gateway.start(servers))

    def call(self, server: str = "a", text: str = "hi", principal: Principal = ALICE) -> None:
        self.gateway.run(self.gateway.call_tool(server, "echo", {"text": text}, principal=principal))

    def logged(self, after: str = "") -> list[dict[str, Any]]:
        """What the log holds (after id ``after``), oldest first."""
        self.store.writer.flush(5)
        return [orjson.loads(body) for _id, body in self.store.events.after(after, 10_000)]

    def mark(self) -> str:
        """The id of the newest event in the log: what ``logged(after=...)`` counts from."""
        logged = self.logged()
        return logged[-1]["id"] if logged else ""

    def close(self) -> None:
        self.feed.close()
        self.upstreams.close()
        self.store.close()


@pytest.fixture
def world() -> Iterator[World]:
    made = World()
    yield made
    made.close()


def _event_schema() -> dict[str, Any]:
    document = Spec.from_file(None).document
    return {"$ref": "#/components/schemas/Event", "components": document["components"]}


def test_a_finished_call_on_the_wire_has_the_envelope_and_the_guides_names(world: World) -> None:
    heard: list[CallFinished] = []
    world.bus.subscribe(heard.append, [CallFinished])  # type: ignore[arg-type]
    world.gateway.run(world.gateway.call_tool("a", "echo", {"text": "x"}, principal=ALICE, request_id="r-7"))
    bare, full = to_wire(heard[0], payload=False), to_wire(heard[0], payload=True)
    document = full.document(True)
    assert document["type"] == "tool.call.finished"
    assert (document["event"], document["tool"], document["timestamp"]) == ("tool_executed", "echo", document["time"])
    assert document["params"] == {"text": "x"}
    assert document["result"] == {"content": [{"type": "text", "text": "x"}], "isError": False}
    assert document["data"] == {
        "callId": heard[0].call_id,
        "tool": "echo",
        "subject": "key:alice",
        "requestId": "r-7",
        "durationMs": document["data"]["durationMs"],
        "outcome": "ok",
        "isError": False,
    }
    assert "params" not in bare.document(False)
    assert orjson.loads(full.json(False)) == bare.document(False)
    validator = jsonschema.Draft202012Validator(_event_schema(), format_checker=jsonschema.FormatChecker())
    for wire in (bare, full):
        assert list(validator.iter_errors(wire.document(True))) == []


def test_payloads_are_cut_to_their_cap_with_a_marker_where_cut() -> None:
    small = {"text": "short", "n": [1, 2]}
    assert capped(small, 100) is small
    cut = capped({"text": "x" * 1000, "rows": list(range(500))}, 200)
    assert cut == {"text": "x" * 190 + "…[cut 810 characters]", "…": "[cut 1 more members]"}
    rows = capped({"a": "short", "rows": list(range(500))}, 200)["rows"]
    assert rows[-1] == f"…[cut {500 - len(rows) + 1} more items]"
    assert rows[:-1] == list(range(len(rows) - 1))
    assert len(orjson.dumps(rows)) < 260


def test_filters_take_names_groups_the_guides_name_and_refuse_unknown_types_with_pointers() -> None:
    started = to_wire(_started(), payload=False)
    assert EventFilter.parse(["tool.call"]).matches(started)
    assert EventFilter.parse(["tool.call.started,server"]).matches(started)
    assert not EventFilter.parse(["tool_executed"]).matches(started)
    assert not EventFilter.parse(["*"], ["b"]).matches(started)
    assert EventFilter.parse(["*"]).types is None
    with pytest.raises(RequestInvalid) as refused:
        EventFilter.parse(["tool.call", "tool.cal", "nonsense"])
    assert [e.pointer for e in refused.value.errors] == ["/query/type/1", "/query/type/2"]


def _started() -> CallEvent:
    from bridge.events import CallStarted

    return CallStarted(server="a", call_id="c1", tool="echo", subject="key:alice", arguments={})


def test_nobody_following_calls_means_no_call_events_are_built_while_server_events_are_kept(world: World) -> None:
    assert not world.bus.wants(CallEvent)
    mark = world.mark()
    world.call()
    world.upstreams.set_status("b", ServerStatus("degraded", last_error="slow"))
    assert [e["type"] for e in world.logged(mark)] == ["server.state.changed"]
    following = world.feed.follow({CallFinished})
    assert world.bus.wants(CallFinished)
    world.call(text="kept")
    following.close()
    assert [e["type"] for e in world.logged(mark)] == ["server.state.changed", "tool.call.finished"]
    assert world.bus.wants(CallFinished), "call events are still kept while the linger lasts"


def test_a_sinks_receipt_is_awaited_before_the_caller_has_its_answer(world: World) -> None:
    order: list[str] = []

    async def kept() -> None:
        await asyncio.sleep(0.05)
        order.append("kept")

    world.feed.add_sink(lambda wire: kept() if wire.type == "tool.call.finished" else None)
    following = world.feed.follow({CallFinished})
    world.call()
    order.append("answered")
    following.close()
    assert order == ["kept", "answered"]


def _collect(world: World, follower_args: dict[str, Any], act: Any, count: int) -> list[Any]:
    """Start a follower on the loop, run ``act`` (a thread-side callable), and take ``count`` items."""

    async def follow() -> list[Any]:
        items: list[Any] = []
        async with Follower(world.feed, **follower_args) as follower:
            await asyncio.get_running_loop().run_in_executor(None, act)
            async for item in follower:
                items.append(item)
                if len(items) == count:
                    break
        return items

    return world.gateway.run(asyncio.wait_for(follow(), 10))


def test_a_follower_sees_only_what_its_principal_may_use_and_payloads_of_its_own_calls() -> None:
    world = World()
    try:
        only_a = Principal("key:carol", frozenset({USE}), servers=frozenset({"a"}))

        def act() -> None:
            world.call("b", "secret", BOB)
            world.call("a", "mine", only_a)
            world.call("a", "theirs", BOB)

        got = _collect(
            world, {"principal": only_a, "payload": True, "event_filter": EventFilter.parse(["tool_executed"])}, act, 2
        )
        assert [(w.server, w.document(follower_payload(w, only_a)).get("params")) for w in got] == [
            ("a", {"text": "mine"}),
            ("a", None),
        ]
    finally:
        world.close()


def follower_payload(wire: Any, principal: Principal) -> bool:
    return principal.has_scopes((ADMIN,)) or wire.subject == principal.subject


def test_a_follower_that_falls_behind_is_told_and_catches_up_from_the_log_in_order(world: World) -> None:
    def act() -> None:
        for n in range(6):
            world.call(text=str(n))

    got = _collect(
        world,
        {"principal": ALICE, "event_filter": EventFilter.parse(["tool.call.finished"]), "buffer": 2},
        act,
        7,
    )
    assert isinstance(got[0], Notice)
    assert got[0].type == "stream.lagged"
    assert [w.type for w in got[1:]] == ["tool.call.finished"] * 6
    texts = [orjson.loads(w.json(True))["data"]["callId"] for w in got[1:]]
    assert len(set(texts)) == 6
    ids = [w.id for w in got[1:]]
    assert ids == sorted(ids)


def test_an_event_that_comes_after_newer_ones_still_reaches_a_live_follower_once(world: World) -> None:
    """As another instance's event that took longer than the settling time to arrive does: it goes
    out when it comes, after the newer ones, rather than never. One made before the follower began
    is not its own, late or not."""
    early: list[str] = []

    def act() -> None:
        world.bus.publish(ServerStateChanged(server="a", state="before", id=before))
        early.append(new_event_id())  # made once the follower has begun
        world.bus.publish(ServerStateChanged(server="a", state="newer"))
        world.bus.publish(ServerStateChanged(server="a", state="late", id=early[0]))
        world.bus.publish(ServerStateChanged(server="a", state="last"))

    before = new_event_id()
    changes = EventFilter.parse(["server.state.changed"])
    got = _collect(world, {"principal": ADMINISTRATOR, "event_filter": changes}, act, 3)
    assert [orjson.loads(w.json(False))["data"]["state"] for w in got] == ["newer", "late", "last"]
    assert got[1].id == early[0] < got[0].id < got[2].id


def test_coming_back_after_an_event_replays_what_followed_and_a_pruned_id_is_a_gap() -> None:
    world = World(FeedSettings(retention=Retention(count=3), log_calls="always"))
    try:
        mark = world.mark()
        for n in range(3):
            world.call(text=str(n))
        calls = [e for e in world.logged(mark) if e["type"] == "tool.call.finished"]
        assert len(calls) == 3
        finished = EventFilter.parse(["tool.call.finished"])
        got = _collect(
            world, {"principal": ALICE, "event_filter": finished, "last_event_id": calls[0]["id"]}, lambda: None, 2
        )
        assert [w.id for w in got] == [e["id"] for e in calls[1:]]
        assert not any(isinstance(w, Notice) for w in got)
        world.feed.prune()
        kept = world.logged()
        assert len(kept) == 3
        got = _collect(world, {"principal": ALICE, "last_event_id": mark}, lambda: None, 4)
        assert isinstance(got[0], Notice)
        assert got[0].type == "stream.gap"
        assert got[0].data == {"lastEventId": mark, "resumedFrom": kept[0]["id"]}
        assert [w.id for w in got[1:]] == [e["id"] for e in kept]
    finally:
        world.close()


def test_the_log_prunes_itself_to_its_count_and_age() -> None:
    small = World(FeedSettings(retention=Retention(count=5), prune_every=10))
    try:
        for n in range(30):
            small.upstreams.set_status("a", ServerStatus("ready" if n % 2 else "degraded"))
        kept = small.logged()
        assert 5 <= len(kept) < 15, "pruned every 10 events, to 5"
        assert kept[-1]["type"] == ServerStateChanged.kind
        assert kept[-1]["data"]["state"] == "ready"
    finally:
        small.close()
    young = World(FeedSettings(retention=Retention(age=0.0)))
    try:
        young.upstreams.set_status("a", ServerStatus("degraded"))
        assert young.logged()
        time.sleep(0.002)  # the log's times are to the millisecond: now is after every one of them
        young.feed.prune()
        assert young.logged() == []
    finally:
        young.close()
