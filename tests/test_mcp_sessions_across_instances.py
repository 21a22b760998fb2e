"""A 2025-era MCP session served by several bridge instances: its id carries it (``bridge.endpoint.session_seal``).

Two real bridges share a session secret; the official SDK client at 2025-11-25 talks to them
through an HTTP client transport that sends each request to the other instance in turn, as a
round-robin balancer does. The session opened on one is revived on the other from its id alone.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

KEY = "sessions-key-one"
OTHER_KEY = "sessions-key-two"
SECRET = "a session secret shared by every instance, 48 bytes"
CONFIG = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "8"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Alternating(httpx2.AsyncBaseTransport):
    """Each request to the next of ``ports`` in turn, as a round-robin balancer sends them; counts where."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: Counter[int] = Counter()
        self._turn = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self._ports[self._turn % len(self._ports)]
        self._turn += 1
        self.sent[port] += 1
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _instances(tmp_path: Path, count: int, *, shared: bool = True) -> Iterator[list[BridgeProcess]]:
    with ExitStack() as stack:
        found = []
        for i in range(count):
            args = ["--api-key", KEY, "--api-key", OTHER_KEY]
            if shared:
                secret = tmp_path / "session-secret"
                secret.write_text(SECRET)
                args += ["--session-secret-file", str(secret)]
            found.append(stack.enter_context(bridge_process(tmp_path / f"i{i}", CONFIG, *args)))
        yield found


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[BridgeProcess]]:
    yield from _instances(tmp_path_factory.mktemp("pair"), 2)


def _port(bridge: BridgeProcess) -> int:
    return int(bridge.url.rsplit(":", 1)[1])


async def _alternating_session(ports: list[int]) -> tuple[dict[str, Any], Counter[int]]:
    transport = Alternating(ports)
    http = httpx2.AsyncClient(transport=transport, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    async with (
        http,
        Client(streamable_http_client(f"http://127.0.0.1:{ports[0]}/mcp", http_client=http), mode="legacy") as client,
    ):
        found: dict[str, Any] = {"version": client.protocol_version}
        found["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
        found["sums"] = [(await client.call_tool("add", {"a": i, "b": 1})).structured_content for i in range(6)]
        found["echo"] = (await client.call_tool("echo", {"text": "both"})).content[0].text  # type: ignore[union-attr]
        found["prompt"] = (await client.get_prompt("greet", {"name": "Ada"})).messages[0].content.text  # type: ignore[union-attr]
    return found, transport.sent


def test_a_session_opened_on_one_instance_is_served_by_both(pair: list[BridgeProcess]) -> None:
    ports = [_port(b) for b in pair]
    found, sent = asyncio.run(_alternating_session(ports))
    assert found["version"] == "2025-11-25"
    assert "add" in found["tools"]
    assert "echo" in found["tools"]
    assert found["sums"] == [{"result": i + 1} for i in range(6)]
    assert found["echo"] == "both"
    assert "Ada" in found["prompt"]
    assert sent[ports[0]] >= 5
    assert sent[ports[1]] >= 5


def _open(port: int, key: str = KEY) -> str:
    answer = requests.post(
        f"http://127.0.0.1:{port}/mcp",
        json=INITIALIZE,
        headers={**HEADERS, "Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


def _call(port: int, session: str, key: str = KEY) -> requests.Response:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    headers = {
        **HEADERS,
        "Authorization": f"Bearer {key}",
        "Mcp-Session-Id": session,
        "MCP-Protocol-Version": "2025-11-25",
    }
    return requests.post(f"http://127.0.0.1:{port}/mcp", json=body, headers=headers, timeout=10)


def test_the_other_instance_answers_a_call_on_a_session_it_never_saw(pair: list[BridgeProcess]) -> None:
    a, b = (_port(x) for x in pair)
    session = _open(a)
    assert session.isascii()
    assert session.isprintable()
    assert " " not in session
    answer = _call(b, session)
    assert answer.status_code == 200, answer.text
    assert '"result":5' in answer.text.replace(" ", "")
    assert answer.headers["mcp-session-id"] == session


def test_a_session_id_is_refused_to_another_caller_and_when_altered(pair: list[BridgeProcess]) -> None:
    a, b = (_port(x) for x in pair)
    session = _open(a)
    assert _call(b, session, OTHER_KEY).status_code == 404  # another subject cannot take it over
    assert _call(b, session).status_code == 200  # its own caller still can
    altered = session[:-6] + ("AAAAAA" if not session.endswith("AAAAAA") else "BBBBBB")
    assert _call(b, altered).status_code == 404
    assert _call(a, "not-a-session").status_code == 404


def test_a_session_ended_on_an_instance_is_gone_there(pair: list[BridgeProcess]) -> None:
    a, b = (_port(x) for x in pair)
    session = _open(a)
    assert _call(b, session).status_code == 200
    ended = requests.delete(
        f"http://127.0.0.1:{b}/mcp",
        headers={"Authorization": f"Bearer {KEY}", "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"},
        timeout=10,
    )
    assert ended.status_code == 200
    assert _call(b, session).status_code == 404  # ended here: never revived here again


def test_without_a_shared_secret_sessions_stay_on_their_instance(tmp_path: Path) -> None:
    for alone in _instances(tmp_path, 2, shared=False):
        a, b = (_port(x) for x in alone)
        session = _open(a)
        assert _call(a, session).status_code == 200
        assert _call(b, session).status_code == 404
