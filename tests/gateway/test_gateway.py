"""The gateway over in-memory upstreams: naming, access, argument checks, and what it publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.config import ServerConfig
from bridge.errors import (
    Ambiguous,
    Forbidden,
    NotFound,
    RequestInvalid,
    ToolFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bridge.events import (
    CallEvent,
    CallFailed,
    CallFinished,
    CallProgress,
    CallStarted,
    CatalogChanged,
    Event,
    InProcessBus,
    ResourceUpdated,
    ServerRegistered,
    ServerRemoved,
    ServerStateChanged,
)
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.model import DESTRUCTIVE, USE, Catalog, Principal, ServerStatus
from bridge.store import MemoryRegistrationStore
from bridge.upstream.memory import MemoryServer, MemoryUpstreams

ANYONE = Principal.anonymous()
ECHO = {
    "name": "echo",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}
ADD = {
    "name": "add",
    "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
}


def _echo(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": arguments["text"]}]}


def _fail(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": "disk full"}], "isError": True}


def _late(arguments: dict[str, Any]) -> dict[str, Any]:
    raise UpstreamTimeout("server 'b' did not answer within 1 s", server="b")


def _servers() -> dict[str, MemoryServer]:
    return {
        "a": MemoryServer(
            Catalog(tools={"echo": ECHO, "add": ADD}, resources=({"uri": "file:///a.txt", "name": "a"},)),
            tools={
                "echo": _echo,
                "add": lambda args: {"content": [], "structuredContent": {"sum": args["a"] + args["b"]}},
            },
            resources={"file:///a.txt": lambda: {"contents": [{"uri": "file:///a.txt", "text": "A"}]}},
        ),
        "b": MemoryServer(
            Catalog(tools={"echo": ECHO, "fail": {"name": "fail"}, "late": {"name": "late"}}),
            tools={"echo": _echo, "fail": _fail, "late": _late},
        ),
    }


@pytest.fixture
def upstreams() -> Iterator[MemoryUpstreams]:
    memory = MemoryUpstreams(_servers())
    yield memory
    memory.close()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def gateway(upstreams: MemoryUpstreams, bus: InProcessBus) -> Gateway:
    registry = ServerRegistry(upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=1)
    gateway = Gateway(upstreams, registry, bus)
    gateway.run(
        gateway.start(
            [ServerConfig("a", "streamable-http", url="http://a"), ServerConfig("b", "streamable-http", url="http://b")]
        )
    )
    return gateway


def _heard(bus: InProcessBus, *kinds: type[Event]) -> list[Event]:
    heard: list[Event] = []
    bus.subscribe(heard.append, kinds or None)
    return heard


def test_a_bare_name_resolves_while_one_server_offers_it(gateway: Gateway) -> None:
    assert gateway.resolve_tool("add") == ("a", "add")
    assert gateway.resolve_tool("b.echo") == ("b", "echo")
    with pytest.raises(Ambiguous) as ambiguous:
        gateway.resolve_tool("echo")
    assert ambiguous.value.candidates == ["a.echo", "b.echo"]


def test_a_call_is_checked_against_the_input_schema_before_it_goes_upstream(
    gateway: Gateway, upstreams: MemoryUpstreams
) -> None:
    with pytest.raises(RequestInvalid) as invalid:
        gateway.run(gateway.call_tool("a", "echo", {"text": 5}, principal=ANYONE, where="/params/arguments"))
    assert [e.to_dict() for e in invalid.value.errors] == [
        {"pointer": "/params/arguments/text", "message": '5 is not of type "string"'}
    ]
    assert upstreams.reachable["a"].seen == []


def test_a_tools_own_failure_is_tool_failed_with_its_content(gateway: Gateway) -> None:
    with pytest.raises(ToolFailed) as failed:
        gateway.run(gateway.call_tool("b", "fail", {}, principal=ANYONE))
    assert failed.value.detail == "tool 'b.fail' failed: disk full"
    assert failed.value.result == {"content": [{"type": "text", "text": "disk full"}], "isError": True}


def test_a_server_that_is_down_answers_503_not_404(gateway: Gateway, upstreams: MemoryUpstreams) -> None:
    upstreams.set_status("b", ServerStatus("down", last_error="gone", retry_after=7))
    upstreams.set_catalog("b", Catalog())
    with pytest.raises(UpstreamUnavailable) as unavailable:
        gateway.run(gateway.call_tool("b", "echo", {"text": "x"}, principal=ANYONE))
    assert unavailable.value.detail == "server 'b' is down: gone"
    assert unavailable.value.retry_after == 7


def test_each_request_goes_upstream_with_the_principal_it_is_made_for(
    gateway: Gateway, upstreams: MemoryUpstreams, bus: InProcessBus
) -> None:
    alice = Principal("alice")
    gateway.run(gateway.call_tool("a", "echo", {"text": "x"}, principal=alice))
    _heard(bus, CallEvent)  # an observed call passes it on too
    gateway.run(gateway.call_tool("a", "echo", {"text": "y"}, principal=ANYONE))
    gateway.run(gateway.read_resource("a", "file:///a.txt", principal=alice))
    assert upstreams.reachable["a"].callers == [alice, ANYONE, alice]


def test_a_principal_sees_and_calls_only_what_its_allowlists_name(gateway: Gateway) -> None:
    team = Principal.restricted("team", [USE], servers=["a", "b"], tools=["a.echo", "b.*"])
    assert sorted(t["qualifiedName"] for t in gateway.tools(principal=team)) == ["a.echo", "b.echo", "b.fail", "b.late"]
    with pytest.raises(Forbidden) as refused:
        gateway.run(gateway.call_tool("a", "add", {"a": 1, "b": 2}, principal=team))
    assert refused.value.detail == "this caller may not call tool 'a.add'"
    with pytest.raises(Forbidden) as by_bare_name:
        gateway.resolve_tool("add", team)
    assert by_bare_name.value.detail == "this caller may not call tool 'a.add'"
    with pytest.raises(NotFound):  # within its allowlist ("b.*"), but nowhere
        gateway.run(gateway.call_tool("b", "nothing", {}, principal=team))
    with pytest.raises(NotFound):
        gateway.resolve_tool("nothing", team)
    only_a_echo = Principal.restricted("echo-only", [USE], servers=["a"], tools=["a.echo"])
    with pytest.raises(Forbidden) as on_a_hidden_server:
        gateway.resolve_tool("b.nothing", only_a_echo)
    assert on_a_hidden_server.value.detail == "this caller may not use server 'b'"
    only_b = Principal.restricted("b-only", [USE], servers=["b"], tools=None)
    assert [s["name"] for s in gateway.servers(only_b)] == ["b"]
    assert gateway.resolve_tool("echo", only_b) == ("b", "echo")  # no longer ambiguous for it
    with pytest.raises(Forbidden) as other_server:
        gateway.server("a", only_b)
    assert other_server.value.detail == "this caller may not use server 'a'"
    with pytest.raises(Forbidden) as no_such_server:  # outside its allowlist: whether it exists is not told
        gateway.server("nowhere", only_b)
    assert no_such_server.value.detail == "this caller may not use server 'nowhere'"
    with pytest.raises(Forbidden):
        gateway.run(gateway.read_resource("a", "file:///a.txt", principal=only_b))


def test_a_destructive_tool_is_only_for_principals_with_the_destructive_scope(
    gateway: Gateway, upstreams: MemoryUpstreams
) -> None:
    wipe = {"name": "wipe", "annotations": {"destructiveHint": True}}
    hinted_false = {"name": "keep", "annotations": {"destructiveHint": False}}
    upstreams.set_catalog("b", Catalog(tools={"echo": ECHO, "wipe": wipe, "keep": hinted_false}))
    plain = Principal.restricted("plain", [USE], servers=None, tools=None)
    trusted = Principal.restricted("trusted", [USE, DESTRUCTIVE], servers=None, tools=None)
    assert sorted(t["qualifiedName"] for t in gateway.tools("b", plain)) == ["b.echo", "b.keep"]
    assert sorted(t["qualifiedName"] for t in gateway.tools("b", trusted)) == ["b.echo", "b.keep", "b.wipe"]
    assert not gateway.sees_everything(plain)
    assert gateway.sees_everything(trusted)
    assert gateway.server("b", plain)["counts"]["tools"] == 2
    with pytest.raises(Forbidden) as refused:
        gateway.check_tool_call("b", "wipe", {}, "/body", plain)
    assert refused.value.detail == (
        "tool 'b.wipe' is destructive (destructiveHint); calling it needs the 'destructive' scope"
    )
    gateway.check_tool_call("b", "wipe", {}, "/body", trusted)
    gateway.destructive_scope = False  # the operator turned the policy off
    assert len(gateway.tools("b", plain)) == 3
    gateway.check_tool_call("b", "wipe", {}, "/body", plain)


def test_nobody_listening_means_no_call_event_is_built(gateway: Gateway, bus: InProcessBus) -> None:
    assert not bus.wants(CallEvent)
    assert gateway.run(gateway.call_tool("a", "add", {"a": 1, "b": 2}, principal=ANYONE))["structuredContent"] == {
        "sum": 3
    }


def test_each_call_publishes_its_start_progress_and_end(gateway: Gateway, bus: InProcessBus) -> None:
    heard = _heard(bus, CallStarted, CallProgress, CallFinished, CallFailed)
    caller = Principal("key:abc")
    gateway.run(gateway.call_tool("a", "echo", {"text": "hi"}, principal=caller))
    with pytest.raises(ToolFailed):
        gateway.run(gateway.call_tool("b", "fail", {}, principal=caller))
    with pytest.raises(UpstreamTimeout):
        gateway.run(gateway.call_tool("b", "late", {}, principal=caller))
    kinds = [(type(e).__name__, e.server, getattr(e, "tool", None)) for e in heard]
    assert kinds == [
        ("CallStarted", "a", "echo"),
        ("CallProgress", "a", "echo"),
        ("CallFinished", "a", "echo"),
        ("CallStarted", "b", "fail"),
        ("CallProgress", "b", "fail"),
        ("CallFinished", "b", "fail"),
        ("CallStarted", "b", "late"),
        ("CallFailed", "b", "late"),
    ]
    started, _, finished, _, _, failed_call, _, timed_out = heard
    assert isinstance(started, CallStarted)
    assert started.subject == "key:abc"
    assert started.arguments == {"text": "hi"}
    assert isinstance(finished, CallFinished)
    assert finished.call_id == started.call_id
    assert finished.result == {"content": [{"type": "text", "text": "hi"}], "isError": False}
    assert isinstance(failed_call, CallFinished)
    assert failed_call.is_error
    assert isinstance(timed_out, CallFailed)
    assert timed_out.problem["status"] == 504
    assert len({e.call_id for e in heard if isinstance(e, CallStarted)}) == 3


def test_catalog_state_and_resource_changes_are_published(
    gateway: Gateway, upstreams: MemoryUpstreams, bus: InProcessBus
) -> None:
    heard = _heard(bus, CatalogChanged, ServerStateChanged, ResourceUpdated)
    upstreams.set_catalog("b", Catalog(tools={"echo": ECHO, "grow": {"name": "grow"}}))
    upstreams.set_status("b", ServerStatus("degraded", last_error="slow"))
    upstreams.update_resource("a", "file:///a.txt")
    assert heard == [
        CatalogChanged(
            server="b", added={"tools": ("grow",)}, removed={"tools": ("fail", "late")}, at=heard[0].at, id=heard[0].id
        ),
        ServerStateChanged(server="b", state="degraded", last_error="slow", at=heard[1].at, id=heard[1].id),
        ResourceUpdated(server="a", uri="file:///a.txt", at=heard[2].at, id=heard[2].id),
    ]
    ids = [e.id for e in heard]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert all(len(i) == 26 for i in ids)
    assert gateway.resolve_tool("grow") == ("b", "grow")


def test_registering_and_removing_a_server_is_published(
    gateway: Gateway, upstreams: MemoryUpstreams, bus: InProcessBus
) -> None:
    upstreams.reachable["c"] = MemoryServer(Catalog(tools={"ping": {"name": "ping"}}))
    upstreams.hosts["c"] = ["93.184.215.14"]  # a public address: registrations may name it
    heard = _heard(bus, ServerRegistered, ServerRemoved, CatalogChanged)
    info = gateway.run(gateway.register({"name": "c", "url": "http://c/mcp", "transport": "http"}))
    assert info["counts"] == {"tools": 1, "resources": 0, "prompts": 0}
    gateway.run(gateway.unregister("c"))
    assert [(type(e).__name__, e.server) for e in heard] == [
        ("CatalogChanged", "c"),
        ("ServerRegistered", "c"),
        ("CatalogChanged", "c"),
        ("ServerRemoved", "c"),
    ]
    assert heard[2] == CatalogChanged(
        server="c", added={}, removed={"tools": ("ping",)}, at=heard[2].at, id=heard[2].id
    )


def test_a_registration_without_a_timeout_gets_the_bridges_own(upstreams: MemoryUpstreams) -> None:
    upstreams.reachable["c"] = MemoryServer()
    upstreams.hosts["c"] = ["93.184.215.14"]
    store = MemoryRegistrationStore()
    registry = ServerRegistry(upstreams, store, allow_stdio=False, connect_timeout=1, call_timeout=7.5)
    gateway = Gateway(upstreams, registry, InProcessBus())
    gateway.run(gateway.register({"name": "c", "url": "http://c/mcp", "transport": "http"}))
    assert upstreams.config("c").call_timeout == 7.5
    assert store.load()[0].call_timeout is None  # kept without one, so a later --timeout applies
    gateway.run(gateway.start([ServerConfig("d", "stdio", command="x", call_timeout=60.0)], wait=False))
    assert upstreams.config("d").call_timeout == 60.0  # an explicit 60 is kept, even though it is the default


def test_the_bus_says_a_kind_is_wanted_when_it_or_a_kind_below_it_is_heard() -> None:
    bus = InProcessBus()
    assert not bus.wants(CallEvent)
    subscription = bus.subscribe(lambda _event: None, [CallFinished])
    assert bus.wants(CallEvent)
    assert bus.wants(CallFinished)
    assert not bus.wants(CallStarted)
    subscription.close()
    assert not bus.wants(CallEvent)
    bus.subscribe(lambda _event: None)  # every kind
    assert bus.wants(CallStarted)
    assert bus.wants(ServerRemoved)


def test_a_failing_handler_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus()
    heard: list[Event] = []

    def broken(_event: Event) -> None:
        raise ValueError("broken subscriber")

    bus.subscribe(broken)
    bus.subscribe(heard.append)
    event = ServerRemoved(server="a")
    bus.publish(event)
    assert heard == [event]
    assert "event handler" in caplog.text
    assert "broken subscriber" in caplog.text
