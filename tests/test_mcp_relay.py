"""What an upstream sends back mid-call reaches the /mcp client that made the call, and only it.

The gateway runs as a real process in front of ``relay_server`` over stdio, at both upstream
generations; the official SDK client drives ``/mcp``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from harness import poll
from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, bridge_process

UPSTREAMS = ["modern", "legacy"]
RICH = str(RICH_SERVER)


def _config(upstream: str) -> dict[str, Any]:
    args = ["-m", "tests.servers.relay_server", *(["--legacy"] if upstream == "legacy" else [])]
    return {"mcpServers": {"relay": {"command": sys.executable, "args": args, "cwd": str(ROOT)}}}


@asynccontextmanager
async def _client(url: str, mode: str = "legacy", key: str | None = None, **callbacks: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http), mode=mode, **callbacks) as client,
    ):
        yield client


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent), result
    return block.text


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_progress_and_log_messages_reach_the_caller(tmp_path: Path, upstream: str, mode: str) -> None:
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def run(url: str) -> str:
        async with _client(url, mode, logging_callback=on_log, log_level="info") as client:
            return _text(await client.call_tool("steps", {"count": 3}, progress_callback=on_progress))

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        assert asyncio.run(run(bridge.url)) == "counted to 3"
    assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert logs == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]


@pytest.mark.parametrize(
    ("mode", "upstream"),
    [
        ("legacy", "legacy"),  # the upstream asks mid-call; the gateway asks its client mid-call
        ("legacy", "modern"),  # the upstream answers input-required; the gateway asks its client mid-call
        ("2026-07-28", "modern"),  # input-required rounds pass through: the client answers and retries
    ],
)
def test_elicitation_and_sampling_are_answered_by_the_calling_client(tmp_path: Path, mode: str, upstream: str) -> None:
    asked: list[str] = []

    async def elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "Ada"})

    async def sample(_ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        first = params.messages[0].content
        asked.append(first.text if isinstance(first, types.TextContent) else "?")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="test-model"
        )

    async def run(url: str) -> tuple[str, str]:
        async with _client(url, mode, elicitation_callback=elicit, sampling_callback=sample) as client:
            named = _text(await client.call_tool("ask", {"question": "Your name?"}))
            sampled = _text(await client.call_tool("sample", {"prompt": "The answer?"}))
            return named, sampled

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        assert asyncio.run(run(bridge.url)) == ("Your name? -> Ada", "The answer? -> forty-two")
    assert asked == ["Your name?", "The answer?"]


def test_a_2026_client_cannot_be_asked_mid_call_so_a_2025_upstreams_question_is_refused(tmp_path: Path) -> None:
    """A 2025-era upstream asks mid-call; a 2026-07-28 client has no channel for that: an error, no hang."""

    async def elicit(_ctx: ClientRequestContext, _params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("not asked")

    async def run(url: str) -> str:
        async with _client(url, "2026-07-28", elicitation_callback=elicit) as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("ask", {"question": "Name?"})
            return refused.value.error.message

    with bridge_process(tmp_path, _config("legacy")) as bridge:
        assert "cannot answer" in asyncio.run(run(bridge.url))


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_question_never_reaches_a_client_that_did_not_cause_it(tmp_path: Path, upstream: str) -> None:
    """A bystander that can answer questions holds a call open while another client's tool asks."""
    bystander_asked: list[str] = []

    async def bystander_elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        bystander_asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "wrong person"})

    async def run(url: str) -> str:
        async with (
            _client(url, elicitation_callback=bystander_elicit) as bystander,
            _client(url) as asker,  # declares no elicitation: it cannot answer
        ):
            holding = asyncio.create_task(bystander.call_tool("hold", {"seconds": 2}))
            await asyncio.sleep(0.3)
            try:
                result = await asker.call_tool("ask", {"question": "Secret?"})
                answer = " ".join(b.text for b in result.content if isinstance(b, types.TextContent))
            except MCPError as refused:  # the asker cannot answer: an error, and nobody else is asked
                answer = refused.error.message
            await holding
            return answer

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        answer = asyncio.run(run(bridge.url))
    assert bystander_asked == []
    assert "wrong person" not in answer


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_cancelled_call_is_cancelled_upstream(tmp_path: Path, upstream: str) -> None:
    async def cancel_one(url: str) -> None:
        async with _client(url) as client:
            call = asyncio.create_task(client.call_tool("hold", {"seconds": 30}))
            await asyncio.sleep(0.5)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        asyncio.run(cancel_one(bridge.url))

        def cancellations() -> int:
            reply = requests.post(bridge.url + "/servers/relay/tools/cancellations", json={}, timeout=10)
            return int(reply.json()["structuredContent"]["result"])

        assert poll(cancellations, timeout=10) == 1


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_rest_caller_cannot_be_asked_and_gets_an_answer_not_a_hang(tmp_path: Path, upstream: str) -> None:
    with bridge_process(tmp_path, _config(upstream)) as bridge:
        reply = requests.post(bridge.url + "/servers/relay/tools/ask", json={"question": "Name?"}, timeout=30)
    assert reply.status_code == 422, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert "cannot answer" in reply.json()["detail"]


def test_results_name_the_gateway_not_the_upstream(tmp_path: Path) -> None:
    async def run(url: str) -> tuple[Any, Any]:
        async with _client(url) as legacy, _client(url, "2026-07-28") as modern:
            old = await legacy.call_tool("steps", {"count": 1})
            new = await modern.call_tool("steps", {"count": 1})
            return old.meta, new.meta

    with bridge_process(tmp_path, _config("modern")) as bridge:
        old, new = asyncio.run(run(bridge.url))
    assert not old or "io.modelcontextprotocol/serverInfo" not in old
    if new and "io.modelcontextprotocol/serverInfo" in new:
        assert new["io.modelcontextprotocol/serverInfo"]["name"] == "mcp-rest-bridge"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_subscribed_client_hears_of_resource_updates_and_stops_after_unsubscribing(
    tmp_path: Path, upstream: str
) -> None:
    """Through the gateway: resources/subscribe, a change upstream, notifications/resources/updated."""
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async def settle(condition: Any) -> None:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.05)

    async def run(url: str) -> tuple[list[str], list[str]]:
        async with _client(url, message_handler=on_message) as client:
            follow = types.SubscribeRequest(params=types.SubscribeRequestParams(uri="note://current"))
            await client.session.send_request(follow, types.EmptyResult)
            await asyncio.sleep(0.5)  # a 2026-07-28 upstream opens its listen stream again, now with the URI
            await client.call_tool("set_note", {"text": "second"})
            await settle(lambda: updates)
            heard = list(updates)
            stop = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri="note://current"))
            await client.session.send_request(stop, types.EmptyResult)
            await asyncio.sleep(0.5)
            await client.call_tool("set_note", {"text": "third"})
            await asyncio.sleep(0.5)
            read = await client.read_resource("note://current")
            return heard, [str(getattr(c, "text", "")) for c in read.contents]

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        heard, contents = asyncio.run(run(bridge.url))
    assert heard == ["note://current"]
    assert updates == ["note://current"]  # nothing after unsubscribing
    assert contents == ["third"]


def test_clients_of_both_generations_hear_that_the_tools_changed_when_a_server_registers(tmp_path: Path) -> None:
    """A registration over REST changes what the gateway offers; connected MCP clients are told."""
    legacy_heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            legacy_heard.append(message.method)

    async def run(url: str) -> tuple[bool, list[str], set[str]]:
        async with (
            _client(url, key="admin", message_handler=on_message) as legacy,
            _client(url, "2026-07-28", key="admin") as modern,
            modern.listen(tools_list_changed=True) as changes,
        ):
            advertised = bool(legacy.server_capabilities.tools and legacy.server_capabilities.tools.list_changed)
            await legacy.list_tools()  # the gateway knows a client session once it has asked something
            registration = {"name": "second", "transport": "stdio", "command": sys.executable, "args": [RICH, "stdio"]}
            created = await asyncio.to_thread(
                requests.post,
                url + "/servers",
                json=registration,
                headers={"Authorization": "Bearer admin"},
                timeout=60,
            )
            assert created.status_code == 201, created.text
            event = await asyncio.wait_for(changes.__anext__(), 10)
            for _ in range(100):
                if legacy_heard:
                    break
                await asyncio.sleep(0.05)
            names = {t.name for t in (await modern.list_tools()).tools}
            return advertised, [type(event).__name__, *legacy_heard], names

    with bridge_process(tmp_path, _config("modern"), "--admin-key", "admin", "--allow-stdio-registration") as bridge:
        advertised, heard, names = asyncio.run(run(bridge.url))
    assert advertised
    assert heard[0] == "ToolsListChanged"
    assert "notifications/tools/list_changed" in heard[1:]
    assert {"relay.steps", "second.echo"} <= names  # two servers now: qualified names


def test_a_2026_client_follows_a_resource_on_its_listen_stream(tmp_path: Path) -> None:
    async def run(url: str) -> str:
        async with (
            _client(url, "2026-07-28") as client,
            client.listen(resource_subscriptions=["note://current"]) as stream,
        ):
            await asyncio.sleep(0.5)  # the gateway's upstream listen stream now carries the URI
            await client.call_tool("set_note", {"text": "changed"})
            event = await asyncio.wait_for(stream.__anext__(), 10)
            return str(getattr(event, "uri", event))

    with bridge_process(tmp_path, _config("modern")) as bridge:
        assert asyncio.run(run(bridge.url)) == "note://current"
