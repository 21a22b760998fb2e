"""A 2025-era MCP client whose answer stream is cut comes back with ``Last-Event-ID`` and gets the rest.

Two real bridges front the relay server over stdio (at 2026-07-28 as ``relay``, at 2025-11-25
as ``old``): one as served, where a 2025-era session's tool calls take the lean path, and one
with ``--mcp-sdk-only``, where the SDK's server answers them. The relay server's ``beat`` tool
reports progress, waits, reports again and answers, and counts the calls it finished and those
cancelled. Raw HTTP cuts a stream after its first event and resumes it with a ``GET``; the
official SDK client, in front of a TCP relay that cuts its connection once, resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from harness import poll
from harness.cutting import cutting_once
from tests.support import ROOT, BridgeProcess, bridge_process

HANDSHAKE = "2025-11-25"
BOTH = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
CONFIG = {
    "mcpServers": {
        "relay": {"command": sys.executable, "args": ["-m", "tests.servers.relay_server"], "cwd": str(ROOT)},
        "old": {"command": sys.executable, "args": ["-m", "tests.servers.relay_server", "--legacy"], "cwd": str(ROOT)},
    }
}
#: The ``retry`` the bridge tells a client to wait before it resumes, in ms.
RETRY = "500"


class Session:
    """A 2025-11-25 session on one bridge, spoken as raw HTTP."""

    def __init__(self, bridge: BridgeProcess, version: str = HANDSHAKE) -> None:
        self.url = bridge.url + "/mcp"
        self.bridge = bridge
        params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        opened = requests.post(self.url, headers=BOTH, json=initialize, timeout=30)
        assert opened.status_code == 200, opened.text
        self.headers = {**BOTH, "Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": version}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert requests.post(self.url, headers=self.headers, json=initialized, timeout=30).status_code == 202

    def call(self, rid: str, tool: str, arguments: dict[str, Any], timeout: Any, stream: bool = False) -> Any:
        params = {"name": tool, "arguments": arguments, "_meta": {"progressToken": rid}}
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}
        return requests.post(self.url, headers=self.headers, json=body, timeout=timeout, stream=stream)

    def resume(self, last_event_id: str) -> list[dict[str, Any]]:
        """The events a ``GET`` resuming after ``last_event_id`` sends, each as its fields, until the stream ends."""
        headers = {**self.headers, "Accept": "text/event-stream", "Last-Event-ID": last_event_id}
        headers.pop("Content-Type")
        with requests.get(self.url, headers=headers, stream=True, timeout=30) as answer:
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/event-stream")
            return list(events(answer))


def events(answer: requests.Response) -> Iterator[dict[str, Any]]:
    """An SSE answer's events as they come, each as its fields (``data`` parsed, when there is any)."""
    fields: dict[str, Any] = {}
    for line in answer.iter_lines(decode_unicode=True):
        if line:
            name, _, value = line.partition(":")
            if name:  # not a comment (a ping)
                fields[name] = value.removeprefix(" ")
            continue
        if fields:
            if fields.get("data"):
                fields["data"] = json.loads(fields["data"])
            yield fields
        fields = {}


def relay_says(bridge: BridgeProcess, tool: str, server: str = "relay") -> int:
    """What one of the relay server's counting tools says, over REST, of ``server`` (its process)."""
    reply = requests.post(f"{bridge.url}/servers/{server}/tools/{tool}", json={}, timeout=10)
    assert reply.status_code == 200, reply.text
    return int(reply.json()["structuredContent"]["result"])


@pytest.fixture(scope="module", params=["lean", "sdk"])
def bridge(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    args = ["--mcp-sdk-only"] if request.param == "sdk" else []
    with bridge_process(tmp_path_factory.mktemp(request.param), CONFIG, "--log-level", "info", *args) as served:
        poll(lambda: requests.get(served.url + "/readyz", timeout=5).status_code == 200, 60)
        yield served


def _progress_of(event: dict[str, Any]) -> float | None:
    data = event.get("data")
    if isinstance(data, dict) and data.get("method") == "notifications/progress":
        return float(data["params"]["progress"])
    return None


@pytest.mark.parametrize("tool", ["relay.beat", "old.beat"])
def test_a_cut_stream_resumes_after_its_last_event_and_the_call_runs_on(bridge: BridgeProcess, tool: str) -> None:
    session = Session(bridge)
    server = tool.split(".")[0]
    beaten, cancelled = relay_says(bridge, "beaten", server), relay_says(bridge, "cancellations", server)
    with session.call("cut-1", tool, {"seconds": 2}, stream=True, timeout=30) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        seen = events(answer)
        priming = next(seen)
        first = next(seen)
    # The stream begins with an id and no data, which a client cut off at once can resume from.
    assert priming["retry"] == RETRY
    assert priming["id"]
    assert not priming.get("data")
    assert _progress_of(first) == 1
    assert first["id"] != priming["id"]
    # Cut: the call is not cancelled (its client may come back), and runs to its end.
    poll(lambda: relay_says(bridge, "beaten", server) == beaten + 1, 20, what="the call finished upstream")
    assert relay_says(bridge, "cancellations", server) == cancelled
    # From the priming event: what came after it, then the rest, ending with the answer.
    resumed = session.resume(priming["id"])
    messages = [event["data"] for event in resumed if event.get("data")]
    assert [_progress_of(event) for event in resumed[:2]] == [1, 2]
    assert resumed[0]["id"] == first["id"]
    assert messages[-1]["id"] == "cut-1"
    assert messages[-1]["result"]["content"][0]["text"] == "beat"
    assert len({event["id"] for event in resumed}) == len(resumed)
    # Again, later, from the first progress event: the rest once more (a finished stream is kept a while).
    again = session.resume(first["id"])
    assert [event["data"] for event in again if event.get("data")] == messages[1:]


def test_a_stream_resumed_while_its_call_runs_follows_it_to_the_answer(bridge: BridgeProcess) -> None:
    session = Session(bridge)
    with session.call("live-1", "old.beat", {"seconds": 3}, stream=True, timeout=30) as answer:
        seen = events(answer)
        next(seen)
        first = next(seen)
    assert relay_says(bridge, "holding", "old") >= 1  # still running as the client comes back
    resumed = session.resume(first["id"])
    assert [_progress_of(event) for event in resumed[:1]] == [2]
    assert resumed[-1]["data"]["result"]["content"][0]["text"] == "beat"


def test_another_session_cannot_resume_a_stream(bridge: BridgeProcess) -> None:
    owner, other = Session(bridge), Session(bridge)
    with owner.call("mine-1", "relay.beat", {"seconds": 0.5}, stream=True, timeout=30) as answer:
        first = next(events(answer))
        assert first["id"]
    assert not [event for event in other.resume(first["id"]) if event.get("data")]
    assert owner.resume(first["id"])[-1]["data"]["id"] == "mine-1"


def test_a_client_gone_before_its_stream_began_has_its_call_cancelled(
    bridge: BridgeProcess, request: pytest.FixtureRequest
) -> None:
    session = Session(bridge)
    cancelled = relay_says(bridge, "cancellations")
    if request.node.callspec.params["bridge"] == "sdk":
        pytest.skip("the SDK's server answers every 2025-era request on a stream, primed: always resumable")
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.call("quiet-1", "relay.hold", {"seconds": 30}, timeout=(5, 1))
    poll(lambda: relay_says(bridge, "cancellations") == cancelled + 1, 20, what="the call cancelled upstream")


@pytest.mark.parametrize("tool", ["relay.beat", "old.beat"])
def test_the_sdk_client_cut_off_mid_call_resumes_by_itself(bridge: BridgeProcess, tool: str) -> None:
    server = tool.split(".")[0]
    beaten, cancelled = relay_says(bridge, "beaten", server), relay_says(bridge, "cancellations", server)
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def call(port: int) -> types.CallToolResult:
        async with (
            create_mcp_http_client() as http,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http), mode="legacy") as client,
        ):
            return await client.call_tool(tool, {"seconds": 1}, progress_callback=on_progress)

    with cutting_once(int(bridge.url.rsplit(":", 1)[1]), b"notifications/progress") as (port, cut):
        result = asyncio.run(asyncio.wait_for(call(port), 30))
    assert cut.is_set()
    assert not result.is_error, result
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    assert block.text == "beat"
    assert progress[0] == 1
    assert progress[-1] == 2
    assert relay_says(bridge, "beaten", server) == beaten + 1
    assert relay_says(bridge, "cancellations", server) == cancelled


def test_a_client_cut_off_cancels_its_call_by_notifications_cancelled(bridge: BridgeProcess) -> None:
    session = Session(bridge)
    cancelled = relay_says(bridge, "cancellations", "old")
    with session.call("called-off-1", "old.beat", {"seconds": 30}, stream=True, timeout=30) as answer:
        seen = events(answer)
        next(seen)
        first = next(seen)
    assert relay_says(bridge, "holding", "old") >= 1  # cut, and still running
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "called-off-1"}}
    assert requests.post(session.url, headers=session.headers, json=cancel, timeout=10).status_code == 202
    poll(lambda: relay_says(bridge, "cancellations", "old") == cancelled + 1, 20, what="the call cancelled upstream")
    # Resumed, the stream ends without a result (the SDK's server ends it with an error for the id).
    resumed = session.resume(first["id"])
    assert not [event for event in resumed if isinstance(event.get("data"), dict) and "result" in event["data"]]
