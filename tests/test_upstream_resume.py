"""A 2025-era upstream's answer stream that ends or is cut before its answer is resumed, as the SDK's client resumes it.

The conformance fixture (official SDK server, with an event store) runs over Streamable HTTP,
and the bridge speaks 2025-11-25 to it (``"protocol": "legacy"``), so each call is answered on
an event stream read by the bridge's lean channel. The fixture's ``test_reconnection`` ends its
own stream mid-call and answers on the stream the client resumes (SEP-1699); and with a relay
between the bridge and the fixture (``harness.cutting``), a call's connection is cut just after
its last progress notification passes. Either way the bridge resumes with ``Last-Event-ID``
and its caller gets the answer, by REST and as an MCP client of either revision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
import pytest
import requests
from mcp import Client

from harness import poll
from harness.cutting import cutting_once
from tests.servers.launch import running_conformance_server
from tests.support import BridgeProcess, bridge_process

RECONNECTED = "Reconnection test completed"
PROGRESSED = "Tool with progress executed successfully"
#: The connection is cut as the tool's last progress passes, before its answer: by the time the
#: bridge resumes, the fixture holds the answer. (Cut any earlier and the fixture's own server may
#: send an event made while it replays to nobody: the SDK server's replay and live tail race.)
LAST_PROGRESS = b'"progress":100'


def _config(url: str) -> dict[str, Any]:
    return {"mcpServers": {"conf": {"url": url, "type": "streamable-http", "protocol": "legacy"}}}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    tmp = tmp_path_factory.mktemp("upstream-resume")
    with running_conformance_server(tmp / "fixture.log") as url, bridge_process(tmp / "bridge", _config(url)) as served:
        poll(lambda: requests.get(served.url + "/readyz", timeout=5).status_code == 200, 60)
        yield served


async def _called(url: str, mode: str, tool: str, progress: list[float] | None = None) -> types.CallToolResult:
    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if progress is not None:
            progress.append(value)

    async with Client(url + "/mcp", mode=mode) as client:
        return await client.call_tool(tool, {}, progress_callback=on_progress if progress is not None else None)


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    block = result.content[0]
    assert isinstance(block, types.TextContent), result
    return block.text


def test_a_stream_the_upstream_ends_mid_call_is_resumed_for_a_rest_caller(bridge: BridgeProcess) -> None:
    reply = requests.post(f"{bridge.url}/servers/conf/tools/test_reconnection", json={}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["content"][0]["text"] == RECONNECTED


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_a_stream_the_upstream_ends_mid_call_is_resumed_for_an_mcp_client(bridge: BridgeProcess, mode: str) -> None:
    result = asyncio.run(asyncio.wait_for(_called(bridge.url, mode, "test_reconnection"), 30))
    assert _text(result) == RECONNECTED


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_a_cut_upstream_connection_is_resumed_after_its_last_event(tmp_path: Path, mode: str) -> None:
    with running_conformance_server(tmp_path / "fixture.log") as url:
        port = urlsplit(url).port
        assert port is not None
        with (
            cutting_once(port, LAST_PROGRESS) as (relayed, cut),
            bridge_process(tmp_path / "bridge", _config(f"http://127.0.0.1:{relayed}/mcp")) as served,
        ):
            poll(lambda: requests.get(served.url + "/readyz", timeout=5).status_code == 200, 60)
            progress: list[float] = []
            result = asyncio.run(asyncio.wait_for(_called(served.url, mode, "test_tool_with_progress", progress), 30))
            assert cut.is_set()
            assert _text(result) == PROGRESSED
            assert progress == [0, 50, 100]  # each once
            # The upstream's session was not taken for lost: the next call goes straight through.
            reply = requests.post(f"{served.url}/servers/conf/tools/test_simple_text", json={}, timeout=30)
            assert reply.status_code == 200, reply.text
