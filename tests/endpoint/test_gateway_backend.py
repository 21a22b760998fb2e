"""The gateway as the MCP endpoint's backend: each request as its own principal, or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from mcp.shared.exceptions import MCPError

from bridge.config import ServerConfig
from bridge.endpoint.asgi import PRINCIPAL
from bridge.endpoint.server import GatewayBackend
from bridge.events import CallStarted, Event, InProcessBus
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.mcpserver import Caller
from bridge.model import USE, Catalog, Principal
from bridge.store import MemoryRegistrationStore
from bridge.upstream.memory import MemoryServer, MemoryUpstreams


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    tools = {"echo": {"name": "echo"}, "add": {"name": "add"}}
    upstreams = MemoryUpstreams(
        {"a": MemoryServer(Catalog(tools=tools), tools={"echo": lambda args: {"content": [], "isError": False}})}
    )
    registry = ServerRegistry(upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=1)
    gateway = Gateway(upstreams, registry, InProcessBus())
    gateway.run(gateway.start([ServerConfig("a", "streamable-http", url="http://a")]))
    yield gateway
    gateway.close()


def test_a_request_that_did_not_pass_the_gate_is_refused(gateway: Gateway) -> None:
    backend = GatewayBackend(gateway)
    with pytest.raises(MCPError) as refused:
        asyncio.run(backend.listing("tools", Caller()))
    assert refused.value.error.code == -32001
    assert refused.value.error.message == "this request did not pass the bridge's gate"


def test_each_request_is_served_as_the_principal_the_gate_attached(gateway: Gateway) -> None:
    backend = GatewayBackend(gateway)
    only_echo = Principal.restricted("key:team", [USE], servers=None, tools=["a.echo"])
    heard: list[Event] = []
    gateway.bus.subscribe(heard.append, [CallStarted])
    listed = asyncio.run(backend.listing("tools", Caller({PRINCIPAL: only_echo})))
    assert [t["name"] for t in listed] == ["echo"]
    everything = asyncio.run(backend.listing("tools", Caller({PRINCIPAL: Principal.anonymous()})))
    assert sorted(t["name"] for t in everything) == ["add", "echo"]
    gateway.run(backend.call_tool("echo", {}, Caller({PRINCIPAL: only_echo})))
    assert [(e.subject, e.tool) for e in heard if isinstance(e, CallStarted)] == [("key:team", "echo")]
    with pytest.raises(MCPError) as hidden:
        gateway.run(backend.call_tool("add", {}, Caller({PRINCIPAL: only_echo})))
    assert hidden.value.error.message == "this caller may not call tool 'a.add'"
