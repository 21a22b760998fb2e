"""A 2026-07-28 upstream is told the client capabilities the MCP client declared, as if called directly.

Through the gateway's ``/mcp`` each call tells the upstream what its own client declared
(``bridge/upstream/declaring.py``), so capability-aware tools behave as they would for that client:
what the gateway carries back is told (sampling and elicitation as declared, roots to a
2026-07-28 client, every extension but tasks), on the lean path and on the SDK's (a bridge started
with ``--mcp-sdk-only``), to an upstream over stdio and over Streamable HTTP, for 2026-07-28 and
2025-era clients alike. A REST call has no capabilities of its own: the upstream is told the
gateway's stand (it can relay sampling and elicitation). The real ``meta`` server answers each call
with the ``_meta`` it got.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client
from mcp.client.context import ClientRequestContext

from harness import accepting, free_port, started
from tests.servers.launch import START_TIMEOUT
from tests.support import BridgeProcess, bridge_process

META_SERVER = Path(__file__).resolve().parent / "servers" / "meta_server.py"
CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
APPS = "io.modelcontextprotocol/ui"
TASKS = "io.modelcontextprotocol/tasks"
APPS_SETTINGS = {"mimeTypes": ["text/html;profile=mcp-app"]}


@pytest.fixture(scope="module")
def meta_over_http() -> Iterator[str]:
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="meta-server-") as logs,
        started(
            "meta server (http)",
            [sys.executable, str(META_SERVER), "http", "--port", str(port)],
            log=Path(logs) / "server.log",
        ) as server,
    ):
        server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def bridges(tmp_path_factory: pytest.TempPathFactory, meta_over_http: str) -> Iterator[dict[str, BridgeProcess]]:
    tmp = tmp_path_factory.mktemp("declared")
    servers = {"stdio": {"command": sys.executable, "args": [str(META_SERVER)]}, "http": {"url": meta_over_http}}
    config = {"mcpServers": servers}
    with (
        bridge_process(tmp / "lean", config) as lean,
        bridge_process(tmp / "sdk", config, "--mcp-sdk-only") as sdk,
    ):
        yield {"lean": lean, "sdk": sdk}


def _told(text: str) -> Any:
    """What the upstream was told its client declared, from the meta tool's answer."""
    return json.loads(text)[CAPABILITIES]


def _call(bridge: BridgeProcess, server: str, declared: dict[str, Any]) -> Any:
    """A 2026-07-28 ``tools/call`` of ``server``'s meta tool from a client that declared ``declared``."""
    return _call_tool(bridge, f"{server}.meta", declared)


def _call_tool(bridge: BridgeProcess, name: str, declared: dict[str, Any]) -> Any:
    """What the upstream was told, from a call of a meta tool named ``name`` here."""
    return _told(_text(bridge, name, declared))


def _text(bridge: BridgeProcess, name: str, declared: dict[str, Any]) -> str:
    """The text a 2026-07-28 ``tools/call`` of tool ``name`` answers to a client that declared ``declared``."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", CAPABILITIES: declared}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "_meta": meta}}
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    answered = requests.post(f"{bridge.url}/mcp", json=body, headers=headers, timeout=30)
    assert answered.status_code == 200, answered.text
    text = answered.text
    message = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if "data: " in text else answered.json()
    said: str = message["result"]["content"][0]["text"]
    return said


@pytest.mark.parametrize("path", ["lean", "sdk"])
@pytest.mark.parametrize("server", ["stdio", "http"])
@pytest.mark.parametrize(
    ("declared", "told"),
    [
        pytest.param({}, {}, id="nothing"),
        pytest.param(
            {"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}}},
            {"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}}},
            id="sampling-and-elicitation",
        ),
        pytest.param({"elicitation": {}}, {"elicitation": {}}, id="bare-elicitation"),
        pytest.param(
            {
                "roots": {"listChanged": True},
                "elicitation": {"form": {}},
                "extensions": {APPS: APPS_SETTINGS},
                "experimental": {"private": {}},
            },
            {"roots": {"listChanged": True}, "elicitation": {"form": {}}, "extensions": {APPS: APPS_SETTINGS}},
            id="roots-apps-experimental",
        ),
    ],
)
def test_the_upstream_is_told_what_the_client_declared(
    bridges: dict[str, BridgeProcess], path: str, server: str, declared: dict[str, Any], told: dict[str, Any]
) -> None:
    assert _call(bridges[path], server, declared) == told


@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_a_call_the_gateway_runs_as_a_task_tells_its_own_stand(bridges: dict[str, BridgeProcess], path: str) -> None:
    """A client that declares the tasks extension has its calls run in the gateway's call store,
    which follows an upstream's own tasks: the upstream is told the gateway's stand, tasks and all."""
    told = _call(bridges[path], "stdio", {"elicitation": {}, "extensions": {APPS: APPS_SETTINGS, TASKS: {}}})
    assert set(told) == {"sampling", "elicitation", "extensions"}
    assert TASKS in told["extensions"]


@pytest.mark.parametrize("server", ["stdio", "http"])
def test_a_rest_call_tells_the_gateways_own_stand(bridges: dict[str, BridgeProcess], server: str) -> None:
    answered = requests.post(f"{bridges['lean'].url}/servers/{server}/tools/meta", json={}, timeout=30)
    assert answered.status_code == 200, answered.text
    told = _told(answered.json()["content"][0]["text"])
    assert set(told) == {"sampling", "elicitation"}


async def _elicit(_ctx: ClientRequestContext, _params: types.ElicitRequestParams) -> types.ElicitResult:
    raise AssertionError("the meta tool asks nothing")


@pytest.mark.parametrize("path", ["lean", "sdk"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_an_sdk_clients_own_capabilities_are_told_upstream(
    bridges: dict[str, BridgeProcess], path: str, mode: str
) -> None:
    """The official client declaring elicitation only, at 2026-07-28 and with a 2025-era session: the
    upstream hears elicitation and nothing else (not the sampling the gateway could relay)."""

    async def run() -> list[Any]:
        async with Client(f"{bridges[path].url}/mcp", mode=mode, elicitation_callback=_elicit) as client:
            results = [await client.call_tool(f"{server}.meta", {}) for server in ("stdio", "http")]
        return [_told(result.content[0].text) for result in results if isinstance(result.content[0], types.TextContent)]

    told = asyncio.run(run())
    assert len(told) == 2
    for capabilities in told:
        assert set(capabilities) == {"elicitation"}


def test_gateways_in_federation_tell_the_client_s_capabilities_all_the_way(
    tmp_path: Path, bridges: dict[str, BridgeProcess]
) -> None:
    """A → B → meta server: B is told what A's client declared, and tells the server the same."""
    inner = {"mcpServers": {"inner": {"url": f"{bridges['lean'].url}/mcp"}}}
    declared = {"elicitation": {"form": {}}, "extensions": {APPS: APPS_SETTINGS}}
    with bridge_process(tmp_path, inner) as front:
        assert _call_tool(front, "inner.stdio.meta", declared) == declared
        assert _call_tool(front, "inner.http.meta", {}) == {}


@pytest.mark.parametrize("path", ["lean", "sdk"])
@pytest.mark.parametrize("server", ["stdio", "http"])
def test_a_ui_tool_shows_its_app_to_a_client_that_declared_mcp_apps(
    bridges: dict[str, BridgeProcess], path: str, server: str
) -> None:
    """The server decides with the SDK's ``client_supports_apps``, from what it is told."""
    bridge, name = bridges[path], f"{server}.view"
    assert _text(bridge, name, {"extensions": {APPS: APPS_SETTINGS}}) == "app"
    assert _text(bridge, name, {"extensions": {APPS: {"mimeTypes": ["text/html"]}}}) == "text"
    assert _text(bridge, name, {}) == "text"
