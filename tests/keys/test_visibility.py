"""A key limited to some tools sees only those, on every surface, and is refused (403) the rest;
destructive tools are only for keys with the ``destructive`` scope.

Against one real bridge process in front of the demo, the time server and the rich test server
(whose ``crash`` tool is annotated ``destructiveHint: true``): REST listings, plain JSON-RPC on
``/mcp``, the official MCP client on ``/mcp``, the WebSocket, and the live ``/openapi.json``, with
a Python client generated from it with the key.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from websockets.sync.client import connect

from bridge.cli import main
from tests.keys.conftest import ADMIN, KeyedBridge, get, post
from tests.support import problem

#: What the restricted key may call: one demo tool and every time tool.
ALLOWED = {"demo.process_data", "time.get_current_time", "time.convert_time"}
PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


@pytest.fixture(scope="module")
def restricted(live: KeyedBridge) -> str:
    key: str = live.make_key(name="reporting", scopes=["use"], tools=["demo.process_data", "time.*"])["key"]
    return key


@pytest.fixture(scope="module")
def everything(live: KeyedBridge) -> set[str]:
    return {t["qualifiedName"] for t in get(live, "/tools", ADMIN).json()["tools"]}


def _forbidden(response: requests.Response, detail: str, instance: str) -> None:
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert problem(response) == {
        "type": PROBLEMS + "forbidden",
        "title": response.json()["title"],
        "status": 403,
        "detail": detail,
        "instance": instance,
    }


def test_rest_listings_show_only_the_allowed_tools_and_servers(live: KeyedBridge, restricted: str) -> None:
    assert {t["qualifiedName"] for t in get(live, "/tools", restricted).json()["tools"]} == ALLOWED
    servers = {s["name"]: s["counts"]["tools"] for s in get(live, "/servers", restricted).json()["servers"]}
    assert servers == {"demo": 1, "time": 2}
    assert [t["name"] for t in get(live, "/servers/demo/tools", restricted).json()["tools"]] == ["process_data"]


def test_anything_outside_the_allowlist_is_403_problem_json(live: KeyedBridge, restricted: str) -> None:
    _forbidden(
        post(live, "/servers/demo/tools/analyze_data", restricted, {"data": [1]}),
        "this caller may not call tool 'demo.analyze_data'",
        "/servers/demo/tools/analyze_data",
    )
    _forbidden(
        post(live, "/tools/analyze_data", restricted, {"data": [1]}),
        "this caller may not call tool 'demo.analyze_data'",
        "/tools/analyze_data",
    )
    _forbidden(
        get(live, "/servers/rich/tools", restricted), "this caller may not use server 'rich'", "/servers/rich/tools"
    )
    _forbidden(get(live, "/servers/rich", restricted), "this caller may not use server 'rich'", "/servers/rich")
    _forbidden(
        get(live, "/servers/nowhere", restricted), "this caller may not use server 'nowhere'", "/servers/nowhere"
    )
    called = post(live, "/tools/demo.process_data", restricted, {"input": "a b", "format": "text"})
    assert called.status_code == 200
    assert called.json()["structuredContent"]["words"] == 2


def test_plain_json_rpc_on_mcp_lists_only_the_allowed_tools(live: KeyedBridge, restricted: str) -> None:
    listed = post(live, "/mcp", restricted, {"jsonrpc": "2.0", "method": "tools/list", "id": 1}).json()
    assert {t["name"] for t in listed["result"]["tools"]} == ALLOWED
    refused = post(
        live,
        "/mcp",
        restricted,
        {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "rich.add", "arguments": {}}, "id": 2},
    ).json()
    assert refused["error"]["message"] == "this caller may not use server 'rich'"
    assert refused["error"]["data"]["status"] == 403


async def _mcp_client(url: str, key: str) -> tuple[set[str], tuple[int, str, int]]:
    """The tools an MCP client is shown, and how it is told a call outside them is refused."""
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as refused:
            await client.call_tool("rich.add", {"a": 1, "b": 2})
        error = refused.value.error
        return names, (error.code, error.message, error.data["status"])


def test_mcp_clients_list_only_the_allowed_tools(live: KeyedBridge, restricted: str) -> None:
    names, refusal = asyncio.run(_mcp_client(live.url + "/mcp", restricted))
    assert names == ALLOWED
    assert refusal == (-32001, "this caller may not use server 'rich'", 403)


def test_the_websocket_lists_only_the_allowed_tools(live: KeyedBridge, restricted: str) -> None:
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"X-API-Key": restricted}, open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "tools/list", "id": "list"}))
        listed = _answer(ws, "list")
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "rich.pid"}, "id": "call"}))
        refused = _answer(ws, "call")
    assert {t["name"] for t in listed["result"]["tools"]} == ALLOWED
    assert refused["error"]["data"]["status"] == 403


def _answer(ws: Any, request_id: str) -> Any:
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("id") == request_id:
            return message


def _tool_paths(document: dict[str, Any]) -> set[str]:
    return {path for path in document["paths"] if "/tools/" in path and "{" not in path}


def test_the_live_spec_fetched_with_the_key_has_only_its_operations(
    live: KeyedBridge, restricted: str, everything: set[str]
) -> None:
    mine = get(live, "/openapi.json", restricted)
    full = requests.get(f"{live.url}/openapi.json", timeout=30)
    assert _tool_paths(mine.json()) == {f"/servers/{q.replace('.', '/tools/', 1)}" for q in ALLOWED}
    assert len(_tool_paths(full.json())) == len(everything)
    assert mine.headers["ETag"] != full.headers["ETag"]
    assert "Authorization" in mine.headers["Vary"]
    again = requests.get(
        f"{live.url}/openapi.json", headers={"X-API-Key": restricted, "If-None-Match": mine.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304
    assert (
        requests.get(f"{live.url}/openapi.json", headers={"X-API-Key": "mcpb_000000000000_x"}, timeout=30).status_code
        == 401
    )


@pytest.fixture(scope="module")
def restricted_client(live: KeyedBridge, restricted: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("restricted-client")
    spec = live.url + "/openapi.json"
    args = [
        "generate",
        "python",
        "--spec",
        spec,
        "--api-key",
        restricted,
        "--out",
        str(out),
        "--package",
        "reporting_client",
    ]
    generated = CliRunner().invoke(main, args, catch_exceptions=False)
    assert generated.exit_code == 0, generated.output
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("reporting_client"), out
    finally:
        sys.path.remove(str(out))


def test_a_client_generated_with_the_key_has_only_its_tools_methods(
    restricted_client: Any, live: KeyedBridge, restricted: str
) -> None:
    package, out = restricted_client
    with package.Client(live.url + "/mcp", api_key=restricted) as client:
        methods = {name for name in dir(client.tools) if name.startswith("call_")}
        assert methods == {"call_demo_process_data", "call_time_get_current_time", "call_time_convert_time"}
        zone = client.tools.call_time_get_current_time(timezone="UTC")
        assert zone.timezone == "UTC"
        with pytest.raises(package.Forbidden):
            client.call_tool(server="demo", tool="analyze_data", params={"data": [1]})
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "reporting_client"],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout


def test_destructive_tools_are_only_for_keys_with_the_destructive_scope(live: KeyedBridge) -> None:
    plain = live.make_key(name="no-destruction", scopes=["use"], servers=["rich"])["key"]
    trusted = live.make_key(name="may-destroy", scopes=["use", "destructive"], servers=["rich"])["key"]
    plain_tools = {t["name"] for t in get(live, "/servers/rich/tools", plain).json()["tools"]}
    trusted_tools = {t["name"] for t in get(live, "/servers/rich/tools", trusted).json()["tools"]}
    assert "crash" not in plain_tools
    assert trusted_tools - plain_tools == {"crash"}
    _forbidden(
        post(live, "/servers/rich/tools/crash", plain, {}),
        "tool 'rich.crash' is destructive (destructiveHint); calling it needs the 'destructive' scope",
        "/servers/rich/tools/crash",
    )
    listed = post(live, "/mcp", plain, {"jsonrpc": "2.0", "method": "tools/list", "id": 1}).json()
    assert "rich.crash" not in {t["name"] for t in listed["result"]["tools"]}
    assert "/servers/rich/tools/crash" not in get(live, "/openapi.json", plain).json()["paths"]
    assert "/servers/rich/tools/crash" in get(live, "/openapi.json", trusted).json()["paths"]
    assert "crash" in {t["name"] for t in get(live, "/servers/rich/tools", ADMIN).json()["tools"]}  # command-line keys


def test_no_key_reaches_a_log_line(live: KeyedBridge) -> None:
    made = live.make_key(name="logged", scopes=["use"], tools=["time.*"])
    key = made["key"]
    assert get(live, "/tools", key).status_code == 200
    assert get(live, "/tools", key[:-4] + "AAAA").status_code == 401
    assert post(live, f"/keys/{made['id']}/rotate", ADMIN).status_code == 200
    assert get(live, "/tools", key).status_code == 401
    log = live.bridge.log()
    assert f"API key {made['id']} rotated" in log  # the log names keys by id
    assert key not in log
    assert key.split("_", 2)[2] not in log
    assert re.findall(r"mcpb_[0-9a-f]{12}_[A-Za-z0-9_-]{8,}", log) == []  # no key this suite made, by any route
    assert ADMIN not in log
