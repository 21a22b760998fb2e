"""Calls in flight per caller, and rates and calls in flight per server and tool, on a real bridge.

``--max-concurrent-calls 2 --server-limit rich=concurrent=3 --tool-limit rich.add=2/minute``
in front of the rich test server, whose ``concurrency_probe`` reports the most calls it ever had
in flight at once: what the upstream itself saw, not what the bridge says it let through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from websockets.sync.client import connect

from tests.limits.conftest import answered, call, limited, rich_config
from tests.support import BridgeProcess, bridge_process, problem, unnamed

KEYS = ("alpha-key-for-limits", "bravo-key-for-limits", "charlie-key-for-limits", "delta-key-for-limits")
A, B, C, D = KEYS
IN_FLIGHT = "this caller has 2 calls in flight, its limit; retry when one has ended"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    args = [arg for key in KEYS for arg in ("--api-key", key)]
    args += ["--max-concurrent-calls", "2", "--server-limit", "rich=concurrent=3", "--tool-limit", "rich.add=2/minute"]
    with bridge_process(tmp_path_factory.mktemp("upstream-limits"), rich_config(), *args) as bridge:
        yield bridge


def test_a_caller_past_its_calls_in_flight_gets_429_while_others_are_served(live: BridgeProcess) -> None:
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"X-API-Key": A}, open_timeout=10) as ws:
        # One socket's requests take their slots in the order sent: two hold both, the third finds none.
        for i, seconds in ((1, 3), (2, 3), (3, 0)):
            ws.send(json.dumps(_tools_call(i, "slow", {"seconds": seconds})))
        third = json.loads(ws.recv(timeout=10))
        assert third["id"] == 3
        assert third["error"]["code"] == -32003
        assert unnamed(third["error"]["data"], ws.response.headers["X-Request-Id"]) == {
            k: v for k, v in limited(IN_FLIGHT, "caller-concurrency", 1, "").items() if k != "instance"
        }
        refused = call(live, A, "slow", {"seconds": 0})  # over HTTP too, while the two are in flight
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["RateLimit-Policy"] == '"caller-concurrency";q=2;qu="concurrent-requests"'
        assert refused.headers["RateLimit"] == '"caller-concurrency";r=0'
        assert problem(refused) == limited(IN_FLIGHT, "caller-concurrency", 1, "/servers/rich/tools/slow")
        assert call(live, B, "slow", {"seconds": 0}).status_code == 200  # another caller is not held up
        held = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert sorted(h["id"] for h in held if "result" in h) == [1, 2]
    assert call(live, A, "slow", {"seconds": 0}).status_code == 200  # both slots were given back


def _tools_call(request_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "id": request_id,
        "params": {"name": tool, "arguments": arguments},
    }


def test_a_server_never_has_more_calls_in_flight_than_its_limit(live: BridgeProcess) -> None:
    callers = [A, A, B, B, C, C]  # each within its own limit of 2; together twice the server's 3
    with ThreadPoolExecutor(len(callers)) as pool:
        answers = list(pool.map(lambda key: call(live, key, "concurrency_probe", {"seconds": 3}), callers))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert {a.json()["structuredContent"]["result"] for a in answers if a.status_code == 200} <= {1, 2, 3}
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["RateLimit-Policy"] == '"server-concurrency";q=3;qu="concurrent-requests"'
    detail = "server 'rich' has 3 calls in flight, its limit; retry when one has ended"
    assert problem(refused) == limited(detail, "server-concurrency", 1, "/servers/rich/tools/concurrency_probe")


def test_a_tool_rate_is_counted_across_callers_and_edges_and_spares_other_tools(live: BridgeProcess) -> None:
    assert call(live, C, "add", {"a": 1, "b": 2}).status_code == 200
    plain = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 1}}}
    answered = requests.post(f"{live.url}/mcp", json={**plain, "id": 1}, headers={"X-API-Key": D}, timeout=10)
    assert answered.json()["result"]["structuredContent"] == {"result": 2}
    refused = call(live, D, "add", {"a": 1, "b": 2})
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert refused.headers["RateLimit-Policy"] == '"tool";q=2;w=60'
    assert refused.headers["RateLimit"] == f'"tool";r=0;t={retry}'
    detail = f"tool 'rich.add' is past its limit of 2 in 60 seconds; retry in {retry} s"
    assert problem(refused) == limited(detail, "tool", retry, "/servers/rich/tools/add")
    assert call(live, D, "echo", {"text": "still here"}).status_code == 200

    # Plain JSON-RPC and MCP clients get it as a JSON-RPC error whose data is the problem.
    rpc = requests.post(f"{live.url}/mcp", json={**plain, "id": 2}, headers={"X-API-Key": C}, timeout=10).json()
    assert rpc["error"]["code"] == -32003
    assert rpc["error"]["data"]["type"] == "https://mcp-rest-bridge.dev/problems/rate-limited"
    assert rpc["error"]["data"]["violated-policies"] == ["tool"]
    error = asyncio.run(_mcp_client_call(live.url + "/mcp", C))
    assert (error.code, error.data["type"], error.data["violated-policies"]) == (
        -32003,
        "https://mcp-rest-bridge.dev/problems/rate-limited",
        ["tool"],
    )


async def _mcp_client_call(url: str, key: str) -> Any:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        try:
            await client.call_tool("add", {"a": 1, "b": 1})
        except MCPError as exc:
            return exc.error
    raise AssertionError("the call was not refused")


def test_calls_that_fail_give_their_slots_back(live: BridgeProcess) -> None:
    answers = [call(live, B, "fail", {"message": f"no {i}"}) for i in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 422]  # a slot kept would make the third 429


def test_calls_cancelled_on_a_websocket_give_their_slots_back(live: BridgeProcess) -> None:
    url = live.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"X-API-Key": D}, open_timeout=10) as ws:
        for i, seconds in ((1, 60), (2, 60), (3, 0)):
            ws.send(json.dumps(_tools_call(i, "slow", {"seconds": seconds})))
        assert json.loads(ws.recv(timeout=10))["error"]["data"]["violated-policies"] == ["caller-concurrency"]
        assert call(live, D, "slow", {"seconds": 0}).status_code == 429
        for i in (1, 2):
            ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": i}}))
        again = answered(200, lambda: call(live, D, "slow", {"seconds": 0}))
        assert again.json()["structuredContent"] == {"result": "slept 0.0"}
