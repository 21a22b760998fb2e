"""The forwarding server in memory: the official SDK client in-process, an in-memory backend behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from bridge.mcpserver import JSON, Caller, Listing, create_forwarding_server
from bridge.mcpserver.handlers import SERVER_INFO_META
from bridge.model import Relay

CATALOG: dict[Listing, list[JSON]] = {
    "tools": [{"name": "echo", "inputSchema": {"type": "object"}}],
    "resources": [{"name": "note", "uri": "note://a"}],
    "resourceTemplates": [{"name": "notes", "uriTemplate": "note://{name}"}],
    "prompts": [{"name": "greet"}],
}
BOUND = 5.0


class MemoryBackend:
    """A fixed catalog; remembers what it was asked and lets a test announce changes."""

    def __init__(self) -> None:
        self.log_levels: list[str | None] = []
        self.subscribed: list[tuple[str, bool]] = []
        self.updated: list[Callable[[str], None]] = []
        self.changed: list[Callable[[], None]] = []

    async def listing(self, kind: Listing, caller: Caller) -> list[JSON]:
        return CATALOG[kind]

    async def call_tool(self, name: str, arguments: JSON, caller: Caller, relay: Relay | None = None) -> JSON:
        assert relay is not None
        self.log_levels.append(relay.log_level)
        await relay.progress(1, 2, "half")
        await relay.log({"level": "warning", "data": "careful"})
        text = f"{name} {arguments}"
        return {"content": [{"type": "text", "text": text}], "_meta": {SERVER_INFO_META: {"name": "up"}, "t": 1}}

    async def read_resource(self, uri: str, caller: Caller, relay: Relay | None = None) -> JSON:
        return {"contents": [{"uri": uri, "text": "hello"}]}

    async def get_prompt(
        self, name: str, arguments: dict[str, str], caller: Caller, relay: Relay | None = None
    ) -> JSON:
        message = {"role": "user", "content": {"type": "text", "text": f"{name} {arguments['name']}"}}
        return {"messages": [message]}

    async def subscribe(self, uri: str, subscribed: bool, caller: Caller) -> None:
        self.subscribed.append((uri, subscribed))

    def on_updated(self, listener: Callable[[str], None]) -> None:
        self.updated.append(listener)

    def on_changed(self, listener: Callable[[], None]) -> None:
        self.changed.append(listener)


async def _follow(client: Client, uri: str, subscribed: bool = True) -> None:
    """``resources/subscribe`` or ``unsubscribe``, sent as they are (the client warns they are deprecated)."""
    request: types.SubscribeRequest | types.UnsubscribeRequest
    if subscribed:
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
    else:
        request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
    await client.session.send_request(request, types.EmptyResult)


async def _set_level(client: Client, level: types.LoggingLevel) -> None:
    """``logging/setLevel``, sent as it is (the client warns it is deprecated)."""
    request = types.SetLevelRequest(params=types.SetLevelRequestParams(level=level))
    await client.session.send_request(request, types.EmptyResult)


def _server(backend: MemoryBackend, *, follows: bool = True) -> Any:
    subscriptions = backend if follows else None
    return create_forwarding_server(backend, name="fwd", instructions="test", subscriptions=subscriptions)


def test_each_request_reaches_the_backend_and_its_answer_comes_back_typed() -> None:
    async def run() -> dict[str, Any]:
        async with Client(_server(MemoryBackend()), mode="legacy") as client:
            called = await client.call_tool("echo", {"text": "x"})
            prompt = await client.get_prompt("greet", {"name": "Ada"})
            return {
                "tools": [t.name for t in (await client.list_tools()).tools],
                "called": (called.content, called.meta),
                "resources": [str(r.uri) for r in (await client.list_resources()).resources],
                "templates": [t.uri_template for t in (await client.list_resource_templates()).resource_templates],
                "read": (await client.read_resource("note://a")).contents,
                "prompt": prompt.messages[0].content,
            }

    got = asyncio.run(run())
    assert got == {
        "tools": ["echo"],
        "called": ([types.TextContent(type="text", text="echo {'text': 'x'}")], {"t": 1}),
        "resources": ["note://a"],
        "templates": ["note://{name}"],
        "read": [types.TextResourceContents(uri="note://a", text="hello")],
        "prompt": types.TextContent(type="text", text="greet Ada"),
    }


def test_a_call_relays_progress_and_logs_at_the_level_its_session_chose() -> None:
    backend = MemoryBackend()
    reported: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def run() -> None:
        async with Client(_server(backend), mode="legacy", logging_callback=on_log) as client:
            await client.call_tool("echo", {}, progress_callback=on_progress)
            await _set_level(client, "warning")
            await client.call_tool("echo", {}, progress_callback=on_progress)

    asyncio.run(run())
    assert backend.log_levels == ["debug", "warning"]
    assert reported == [(1, 2, "half"), (1, 2, "half")]
    assert logs == ["careful", "careful"]


def test_a_subscriber_hears_of_updates_while_the_backend_follows_the_resource_once() -> None:
    backend = MemoryBackend()
    updates: list[str] = []
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            heard.set()

    async def run() -> None:
        async with Client(_server(backend), mode="legacy", message_handler=on_message) as client:
            await _follow(client, "note://a")
            await _follow(client, "note://a")  # the same session again: no second upstream follow
            for listener in backend.updated:
                listener("note://a")
            with anyio.fail_after(BOUND):
                await heard.wait()
            await _follow(client, "note://a", subscribed=False)

    asyncio.run(run())
    assert updates == ["note://a"]
    assert backend.subscribed == [("note://a", True), ("note://a", False)]


def test_a_handshake_era_client_that_has_listed_hears_that_the_lists_changed() -> None:
    backend = MemoryBackend()
    heard: list[str] = []
    resources_changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ServerNotification | types.Notification):
            heard.append(getattr(message, "method", type(message).__name__))
        if isinstance(message, types.ResourceListChangedNotification):
            resources_changed.set()

    async def run() -> bool:
        async with Client(_server(backend), mode="legacy", message_handler=on_message) as client:
            capabilities = client.server_capabilities
            await client.list_tools()  # the server knows a session once it has asked something
            for listener in backend.changed:
                listener()
            with anyio.fail_after(BOUND):
                await resources_changed.wait()
            return bool(capabilities.tools and capabilities.tools.list_changed)

    assert asyncio.run(run()) is True
    assert heard == [
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    ]


def test_without_subscriptions_resources_cannot_be_followed_and_no_changes_are_promised() -> None:
    backend = MemoryBackend()

    async def run() -> tuple[bool, str]:
        async with Client(_server(backend, follows=False), mode="legacy") as client:
            capabilities = client.server_capabilities
            with pytest.raises(MCPError) as refused:
                await _follow(client, "note://a")
            return bool(capabilities.tools and capabilities.tools.list_changed), refused.value.error.message

    promised, message = asyncio.run(run())
    assert not promised
    assert message == "Method not found"
    assert (backend.subscribed, backend.updated, backend.changed) == ([], [], [])
