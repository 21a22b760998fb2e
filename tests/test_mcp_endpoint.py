"""/mcp as a real MCP endpoint (official SDK client, both generations), and federation."""

import asyncio
import base64
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import ErrorData

from bridge import __version__ as bridge_version
from harness import free_port, poll
from tests.servers.launch import RICH_SERVER
from tests.support import bridge_process, problem

KEY = "endpoint-key"
ECHO = {"text": "x"}
ONE_TWO = {"a": 1, "b": 2}


def _rich_and_demo() -> dict[str, Any]:
    return {
        "mcpServers": {
            "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
        }
    }


async def _session(url: str, mode: str, key: str | None = KEY) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        tools = {t.name for t in (await client.list_tools()).tools}
        added = await client.call_tool("rich.add", {"a": 40, "b": 2})
        failed = await client.call_tool("rich.fail", {"message": "nope"})
        read = await client.read_resource("bin://bytes")
        prompt = await client.get_prompt("rich.greet", {"name": "Lin"})
        info = client.server_info
        return {
            "version": client.protocol_version,
            "server": (info.name, info.version) if info else None,
            "tools": tools,
            "added": added.structured_content,
            "failed": failed.is_error,
            "blob": read.contents[0].model_dump().get("blob", ""),
            "prompt": prompt.messages[0].content.text,  # type: ignore[union-attr]
        }


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[Any]:
    """The JSON-RPC errors at the leaves of nested exception groups; any other leaf as itself."""
    found: list[Any] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found += _leaves(exc)
        else:
            found.append(exc.error if isinstance(exc, MCPError) else exc)
    return found


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_the_official_client_uses_the_gateway_as_one_mcp_server(tmp_path: Path, mode: str, version: str) -> None:
    with bridge_process(tmp_path, _rich_and_demo(), "--api-key", KEY) as bridge:
        got = asyncio.run(_session(bridge.url + "/mcp", mode))
        plain = requests.post(
            bridge.url + "/mcp",
            json={
                "jsonrpc": "2.0",
                "method": "tools/call",
                "params": {"name": "rich.echo", "arguments": {"text": "x"}},
                "id": 1,
            },
            headers={"X-API-Key": KEY},
            timeout=30,
        )
    assert got["version"] == version
    assert got["server"] == ("mcp-rest-bridge", bridge_version)
    assert {"rich.add", "demo.analyze_data"} <= got["tools"]
    assert got["added"] == {"result": 42}
    assert got["failed"] is True
    assert base64.b64decode(got["blob"]) == bytes(range(256))
    assert got["prompt"] == "Hello, Lin!"
    assert plain.json()["result"]["content"] == [{"type": "text", "text": "x"}]


def test_mcp_clients_need_the_api_key_too(tmp_path: Path) -> None:
    with bridge_process(tmp_path, _rich_and_demo(), "--api-key", KEY) as bridge:
        refused = requests.post(
            bridge.url + "/mcp",
            json={"jsonrpc": "2.0", "method": "initialize", "id": 1, "params": {}},
            headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"},
            timeout=30,
        )
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="mcp-rest-bridge"'
        assert problem(refused) == {
            "type": "https://mcp-rest-bridge.dev/problems/unauthorized",
            "title": "Missing or invalid API key",
            "status": 401,
            "detail": "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            "instance": "/mcp",
        }
        with pytest.raises(ExceptionGroup) as failed:  # the SDK wraps the 401 in its task groups' errors
            asyncio.run(_session(bridge.url + "/mcp", "legacy", key=None))
    assert _leaves(failed.value) == [ErrorData(code=-32603, message="Server returned an error response")]


def test_federation_through_a_gateway_with_outage_and_recovery(tmp_path: Path) -> None:
    """Gateway A registers gateway B's /mcp and calls, through A, a tool only B has."""
    b_port = free_port()
    b_config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    b_args = ("--api-key", "b-key")
    admin = {"Authorization": "Bearer a-admin"}

    def add_via_a(a_url: str) -> requests.Response:
        return requests.post(a_url + "/servers/b/tools/add", json=ONE_TWO, headers=admin, timeout=30)

    with (
        bridge_process(tmp_path / "b", b_config, *b_args, port=b_port) as b,
        bridge_process(tmp_path / "a", None, "--admin-key", "a-admin", "--allow-private-upstreams") as a,
    ):
        registration = {
            "name": "b",
            "url": b.url + "/mcp",
            "transport": "streamable-http",
            "authentication": {"type": "bearer", "token": "b-key"},
        }
        created = requests.post(a.url + "/servers", json=registration, headers=admin, timeout=60)
        assert created.status_code == 201, created.text
        assert created.json()["counts"]["tools"] >= 10
        assert add_via_a(a.url).json()["structuredContent"] == {"result": 3}

        b.process.stop()
        # A requests.Response is falsy for 4xx/5xx, so poll on a list holding it.
        outage = poll(lambda: [r for r in [add_via_a(a.url)] if r.status_code == 503])[0]
        assert int(outage.headers["Retry-After"]) >= 1
        assert outage.json()["type"] == "https://mcp-rest-bridge.dev/problems/upstream-unavailable"

        with bridge_process(tmp_path / "b2", b_config, *b_args, port=b_port):
            recovered = poll(lambda: [r for r in [add_via_a(a.url)] if r.status_code == 200], timeout=60)[0]
            assert recovered.json()["structuredContent"] == {"result": 3}


async def _mcp_failures(url: str, mode: str) -> list[tuple[int, str, int]]:
    """(code, message, problem status) of each failure as an MCP client is told it."""
    told = []
    async with Client(url, mode=mode) as client:
        for name, arguments in (("rich.slow", {"seconds": 3}), ("rich.add", {"a": "two", "b": 2}), ("nope", {})):
            with pytest.raises(MCPError) as refused:
                await client.call_tool(name, arguments)
            told.append((refused.value.error.code, refused.value.error.message, refused.value.error.data["status"]))
    return told


def test_the_same_failure_has_the_same_json_rpc_error_on_plain_posts_and_for_mcp_clients(tmp_path: Path) -> None:
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"], "timeout": 0.5}}}
    with bridge_process(tmp_path, config) as bridge:
        plain = []
        for name, arguments in (("rich.slow", {"seconds": 3}), ("rich.add", {"a": "two", "b": 2}), ("nope", {})):
            answer = requests.post(
                bridge.url + "/mcp",
                json={
                    "jsonrpc": "2.0",
                    "method": "tools/call",
                    "params": {"name": name, "arguments": arguments},
                    "id": 1,
                },
                timeout=30,
            ).json()["error"]
            plain.append((answer["code"], answer["message"], answer["data"]["status"]))
        modern = asyncio.run(_mcp_failures(bridge.url + "/mcp", "auto"))
        legacy = asyncio.run(_mcp_failures(bridge.url + "/mcp", "legacy"))
    assert plain == [
        (-32000, "server 'rich' did not answer within 0.5 s", 504),
        (-32602, 'invalid arguments for tool \'rich.add\': /params/arguments/a: "two" is not of type "integer"', 400),
        (-32602, "no tool named 'nope'", 404),
    ]
    assert modern == plain
    assert legacy == plain
