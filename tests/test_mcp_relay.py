"""What an upstream sends back mid-call reaches the /mcp client that made the call, and only it.

The gateway runs as a real process in front of ``relay_server`` over stdio, at both upstream
generations; the official SDK client drives ``/mcp``.
"""

from __future__ import annotations

import asyncio
import sys
import time
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

from bridge import __version__ as bridge_version
from harness import apoll, poll
from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, bridge_process, problem

UPSTREAMS = ["modern", "legacy"]
RICH = str(RICH_SERVER)
NOTE = "note://current"
CANNOT_ANSWER = (
    "server 'relay' needs to ask its caller something this caller cannot answer (a REST caller can: call the"
    " tool with 'Prefer: respond-async' and answer at POST /calls/{id}/input; an MCP client on /mcp that"
    " declares the capability can): "
)
UNPROCESSABLE = {
    "type": "https://mcp-rest-bridge.dev/problems/input-required",
    "title": "The tool needs input from its caller",
    "status": 422,
}
#: Shortest window in which a notification that must not come is given the chance to.
QUIET = 0.5


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


def _relay_says(url: str, tool: str) -> Any:
    """The answer of one of the relay server's argument-less tools, called over REST."""
    reply = requests.post(f"{url}/servers/relay/tools/{tool}", json={}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["structuredContent"]["result"]


def _not_askable(reason: str, required: dict[str, Any] | None) -> dict[str, Any]:
    """The whole JSON-RPC error an MCP client gets when the upstream asks and it cannot answer
    (MCP's -32021, a capability the client did not declare, with what the upstream said it needs)."""
    message = CANNOT_ANSWER + reason
    data = {**UNPROCESSABLE, "detail": message, **({"requiredCapabilities": required} if required else {})}
    return {"code": -32021, "message": message, "data": data}


async def _until_relay_says(url: str, tool: str, expected: Any, what: str) -> None:
    """Wait, without blocking the clients' loop, until the relay server's ``tool`` answers ``expected``."""
    await apoll(lambda: asyncio.to_thread(lambda: _relay_says(url, tool) == expected), timeout=10, what=what)


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


def test_a_2026_client_is_asked_a_2025_upstreams_question_in_an_input_required_round(tmp_path: Path) -> None:
    """A 2025-era upstream asks mid-call; a 2026-07-28 client is asked in a round, the call held meanwhile."""
    asked: list[str] = []

    async def elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "Ada"})

    async def run(url: str) -> str:
        async with _client(url, "2026-07-28", elicitation_callback=elicit) as client:
            return _text(await client.call_tool("ask", {"question": "Name?"}))

    with bridge_process(tmp_path, _config("legacy")) as bridge:
        assert asyncio.run(run(bridge.url)) == "Name? -> Ada"
    assert asked == ["Name?"]


@pytest.mark.parametrize(
    ("upstream", "reason", "required"),
    [
        # The upstream is told the asker declared nothing: it refuses the call itself, asking nobody.
        (
            "modern",
            "Client did not declare the form elicitation capability required by resolver '__main__:_question'",
            {"elicitation": {"form": {}}},
        ),
        # A 2025-era upstream's question names no call: with two open, whose it is cannot be told.
        ("legacy", "elicitation/create: no caller of this bridge can answer", None),
    ],
)
def test_a_question_never_reaches_a_client_that_did_not_cause_it(
    tmp_path: Path, upstream: str, reason: str, required: dict[str, Any] | None
) -> None:
    """A bystander that can answer questions holds a call open while another client's tool asks."""
    bystander_asked: list[str] = []

    async def bystander_elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        bystander_asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "wrong person"})

    async def run(url: str) -> tuple[dict[str, Any], int]:
        async with (
            _client(url, elicitation_callback=bystander_elicit) as bystander,
            _client(url) as asker,  # declares no elicitation: it cannot answer
        ):
            holding = asyncio.create_task(bystander.call_tool("hold", {"seconds": 30}))
            await _until_relay_says(url, "holding", 1, "the bystander's call running upstream")
            with pytest.raises(MCPError) as refused:  # the asker cannot answer: an error, and nobody else is asked
                await asker.call_tool("ask", {"question": "Secret?"})
            still_holding = await asyncio.to_thread(_relay_says, url, "holding")
            holding.cancel()
            with pytest.raises(asyncio.CancelledError):
                await holding
            return refused.value.error.model_dump(exclude_none=True), still_holding

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        error, still_holding = asyncio.run(run(bridge.url))
    made = error["data"].pop("requestId")  # the id of the POST that carried the call (the client named none)
    assert len(made) == 32
    assert error == _not_askable(reason, required)
    assert still_holding == 1  # the bystander's call was open all the while the question was refused
    assert bystander_asked == []


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_cancelled_call_is_cancelled_upstream(tmp_path: Path, upstream: str) -> None:
    async def cancel_one(url: str) -> None:
        async with _client(url) as client:
            call = asyncio.create_task(client.call_tool("hold", {"seconds": 30}))
            await _until_relay_says(url, "holding", 1, "the call running upstream")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        asyncio.run(cancel_one(bridge.url))
        assert poll(lambda: _relay_says(bridge.url, "cancellations"), timeout=10, what="a cancellation upstream") == 1
        assert _relay_says(bridge.url, "holding") == 0


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_rest_caller_cannot_be_asked_and_gets_an_answer_not_a_hang(tmp_path: Path, upstream: str) -> None:
    with bridge_process(tmp_path, _config(upstream)) as bridge:
        reply = requests.post(bridge.url + "/servers/relay/tools/ask", json={"question": "Name?"}, timeout=30)
    assert reply.status_code == 422, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert problem(reply) == {
        **UNPROCESSABLE,
        "detail": CANNOT_ANSWER + "elicitation/create: no caller of this bridge can answer",
        "instance": "/servers/relay/tools/ask",
    }


def test_results_name_the_gateway_not_the_upstream(tmp_path: Path) -> None:
    async def run(url: str) -> tuple[Any, Any]:
        async with _client(url) as legacy, _client(url, "2026-07-28") as modern:
            old = await legacy.call_tool("steps", {"count": 1})
            new = await modern.call_tool("steps", {"count": 1})
            return old.meta, new.meta

    with bridge_process(tmp_path, _config("modern")) as bridge:
        old, new = asyncio.run(run(bridge.url))
    assert old is None  # a 2025-era result names no server at all
    assert new == {"io.modelcontextprotocol/serverInfo": {"name": "mcp-rest-bridge", "version": bridge_version}}


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_subscribed_client_hears_of_resource_updates_and_stops_after_unsubscribing(
    tmp_path: Path, upstream: str
) -> None:
    """Through the gateway: resources/subscribe, a change upstream, notifications/resources/updated."""
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async def run(url: str) -> tuple[list[str], list[str]]:
        async with _client(url, message_handler=on_message) as client:
            follow = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=NOTE))
            await client.session.send_request(follow, types.EmptyResult)
            # Towards a 2026-07-28 upstream the gateway opens its listen stream again, now with the URI.
            await _until_relay_says(url, "following", [NOTE], "the upstream following the note")
            began = time.monotonic()
            await client.call_tool("set_note", {"text": "second"})
            await apoll(lambda: updates, timeout=10, what="notifications/resources/updated")
            took = time.monotonic() - began
            heard = list(updates)
            stop = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=NOTE))
            await client.session.send_request(stop, types.EmptyResult)
            await _until_relay_says(url, "following", [], "the upstream no longer following the note")
            await client.call_tool("set_note", {"text": "third"})
            # That no update comes has no event to wait for: give one the time the first update
            # took, several times over, to arrive if it were on its way.
            await asyncio.sleep(max(QUIET, 5 * took))
            read = await client.read_resource(NOTE)
            return heard, [str(getattr(c, "text", "")) for c in read.contents]

    with bridge_process(tmp_path, _config(upstream)) as bridge:
        heard, contents = asyncio.run(run(bridge.url))
    assert heard == [NOTE]
    assert updates == [NOTE]  # nothing after unsubscribing
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
            await legacy.list_tools()  # the lean path's, which keeps it known
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
            await apoll(lambda: legacy_heard, timeout=10, what="the legacy client hearing of the change")
            names = {t.name for t in (await modern.list_tools()).tools}
            assert names == {t.name for t in (await legacy.list_tools()).tools}
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
            client.listen(resource_subscriptions=[NOTE]) as stream,
        ):
            # The gateway opens its upstream listen stream again, now with the URI.
            await _until_relay_says(url, "following", [NOTE], "the upstream following the note")
            await client.call_tool("set_note", {"text": "changed"})
            event = await asyncio.wait_for(stream.__anext__(), 10)
            return str(getattr(event, "uri", event))

    with bridge_process(tmp_path, _config("modern")) as bridge:
        assert asyncio.run(run(bridge.url)) == NOTE
