"""A rate per caller, with a burst, on every edge of a real bridge process: 3 at once, 30 a minute.

``--rate-limit 30/minute --rate-burst 3`` is kept as at most 3 requests in any 6 seconds. Each
test is its own caller (its own key), so what one spends the next does not see.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from harness import poll
from tests.limits.conftest import answered, call, limited, rich_config
from tests.support import ROOT, BridgeProcess, bridge_process, problem, unnamed

KEYS = {
    edge: f"{edge}-key-for-limits"
    for edge in ("rest", "fast", "rpc", "mcp", "ws", "other", "client", "ts-client", "stream")
}
TSC = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "tsc"
#: Three calls inside the burst, a fourth past it: answered once Retry-After has passed.
NODE_SCRIPT = """
import { Client } from "./dist/index.js";
const [url, key] = process.argv.slice(2);
const client = new Client({ url, apiKey: key, retry: { backoffMs: 50, jitter: false } });
const sums = [];
for (const a of [0, 1, 2]) sums.push((await client.callTool("rich.add", { a, b: a })).structuredContent.result);
const started = Date.now();
const fourth = await client.callTool("rich.add", { a: 2, b: 3 });
console.log(JSON.stringify({ sums, fourth: fourth.structuredContent.result, waited: (Date.now() - started) / 1000 }));
"""
POLICY = '"caller";q=3;w=6'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    keys = [arg for key in KEYS.values() for arg in ("--api-key", key)]
    args = [*keys, "--rate-limit", "30/minute", "--rate-burst", "3"]
    with bridge_process(tmp_path_factory.mktemp("caller-rate"), rich_config(), *args) as bridge:
        yield bridge


def assert_limited(response: requests.Response, instance: str) -> None:
    """A whole 429 for the caller's policy, its headers agreeing with its body."""
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 6
    assert response.headers["RateLimit-Policy"] == POLICY
    assert response.headers["RateLimit"] == f'"caller";r=0;t={retry}'
    detail = f"this caller is past its limit of 3 in 6 seconds; retry in {retry} s"
    assert problem(response) == limited(detail, "caller", retry, instance)


def test_rest_requests_past_the_burst_get_429_with_retry_after_and_ratelimit_fields(live: BridgeProcess) -> None:
    headers = {"X-API-Key": KEYS["rest"]}
    answers = [requests.get(f"{live.url}/servers/rich/tools", headers=headers, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3], "/servers/rich/tools")
    assert requests.get(f"{live.url}/servers", headers={"X-API-Key": KEYS["other"]}, timeout=10).status_code == 200


def test_the_fast_tool_route_counts_the_same_and_lets_the_caller_in_again_after_the_window(
    live: BridgeProcess,
) -> None:
    answers = [call(live, KEYS["fast"], "add", {"a": i, "b": 1}) for i in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3], "/servers/rich/tools/add")
    started = time.monotonic()
    again = answered(200, lambda: call(live, KEYS["fast"], "add", {"a": 1, "b": 1}))
    assert again.json()["structuredContent"] == {"result": 2}
    assert time.monotonic() - started <= 7


def test_health_checks_are_never_counted(live: BridgeProcess) -> None:
    assert {requests.get(f"{live.url}/healthz", timeout=10).status_code for _ in range(6)} == {200}


def test_plain_json_rpc_on_mcp_is_counted_per_post(live: BridgeProcess) -> None:
    headers = {"X-API-Key": KEYS["rpc"]}
    ping = {"jsonrpc": "2.0", "method": "ping", "id": 1}
    answers = [requests.post(f"{live.url}/mcp", json=ping, headers=headers, timeout=10) for _ in range(4)]
    assert [a.json() for a in answers[:3]] == [{"jsonrpc": "2.0", "id": 1, "result": {}}] * 3
    assert_limited(answers[3], "/mcp")


def test_mcp_client_requests_are_counted_before_the_mcp_server_sees_them(live: BridgeProcess) -> None:
    headers = {
        "Authorization": f"Bearer {KEYS['mcp']}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    answers = [requests.post(f"{live.url}/mcp", json=hello, headers=headers, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3], "/mcp")


def test_the_websocket_handshake_and_each_request_on_it_are_counted_and_the_socket_stays_open(
    live: BridgeProcess,
) -> None:
    url = live.url.replace("http://", "ws://") + "/ws"
    headers = {"X-API-Key": KEYS["ws"]}
    with connect(url, additional_headers=headers, open_timeout=10) as ws:  # the handshake is the first
        answers = []
        for i in range(3):
            ws.send(json.dumps({"jsonrpc": "2.0", "method": "ping", "id": i}))
            answers.append(json.loads(ws.recv(timeout=10)))
        assert answers[:2] == [{"jsonrpc": "2.0", "id": i, "result": {}} for i in range(2)]
        # Each frame's problem names the request the socket was opened by.
        error = {
            **answers[2]["error"],
            "data": unnamed(answers[2]["error"]["data"], ws.response.headers["X-Request-Id"]),
        }
        refused = {**answers[2], "error": error}
        retry = refused["error"]["data"]["retryAfterSeconds"]
        detail = f"this caller is past its limit of 3 in 6 seconds; retry in {retry} s"
        assert refused == {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {
                "code": -32003,
                "message": detail,
                "data": {k: v for k, v in limited(detail, "caller", retry, "").items() if k != "instance"},
            },
        }
        with pytest.raises(InvalidStatus) as opened:
            connect(url, additional_headers=headers, open_timeout=10)
        assert opened.value.response.status_code == 429
        assert opened.value.response.headers["RateLimit-Policy"] == POLICY
        again = poll(lambda: _ping_answered(ws), 10)
        assert again == {"jsonrpc": "2.0", "id": "again", "result": {}}


def test_event_stream_tickets_are_counted(live: BridgeProcess) -> None:
    headers = {"X-API-Key": KEYS["stream"]}
    answers = [requests.post(f"{live.url}/mcp/stream/tickets", headers=headers, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [201, 201, 201]
    assert_limited(answers[3], "/mcp/stream/tickets")


def _ping_answered(ws: Any) -> Any:
    ws.send(json.dumps({"jsonrpc": "2.0", "method": "ping", "id": "again"}))
    answer = json.loads(ws.recv(timeout=10))
    return answer if "result" in answer else None


def test_the_generated_python_client_waits_retry_after_and_succeeds(live: BridgeProcess) -> None:
    sys.path.insert(0, str(ROOT / "generated" / "python"))
    try:
        from mcp_bridge_client import Client, Retry

        retry = Retry(attempts=3, backoff=0.05, jitter=False)
        with Client(live.url, api_key=KEYS["client"], retry=retry) as client:
            sums = [client.call_tool("rich.add", {"a": i, "b": i}).structuredContent for i in range(3)]
            started = time.monotonic()
            fourth = client.call_tool("rich.add", {"a": 2, "b": 3})  # past the burst: 429, waited out, sent again
            waited = time.monotonic() - started
    finally:
        sys.path.remove(str(ROOT / "generated" / "python"))
    assert sums == [{"result": 0}, {"result": 2}, {"result": 4}]
    assert fourth.structuredContent == {"result": 5}
    assert waited >= 1.0  # at least the Retry-After of one second, not the 0.05 s backoff


def test_the_generated_typescript_client_retries_429_by_default(live: BridgeProcess, tmp_path: Path) -> None:
    package = tmp_path / "mcp-bridge-client"
    shutil.copytree(ROOT / "generated" / "typescript" / "mcp-bridge-client", package)
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "check.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    ran = subprocess.run(
        ["node", "check.mjs", live.url, KEYS["ts-client"]],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert (out["sums"], out["fourth"]) == ([0, 2, 4], 5)
    assert out["waited"] >= 1.0  # Retry-After, not the 50 ms backoff
