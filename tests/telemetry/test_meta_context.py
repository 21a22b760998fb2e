"""An MCP request names itself in its ``_meta`` too: the trace its client continues, the request id.

The MCP SDK's clients put the W3C ``traceparent`` they continue in a request's ``_meta``, not in an
HTTP header field, and a bridge in front puts its request id there (``mcp-rest-bridge/requestId``).
Where the header fields name nothing, the bridge takes them from ``_meta``: the answer's
``X-Request-Id``, the log line and what the upstream is sent then name the caller's request, on
the lean path and on the SDK's (a bridge started with ``--mcp-sdk-only``), and for a plain
JSON-RPC ``POST /mcp``. Header fields, when sent, still win; invalid values are ignored.

Both bridges front the real ``meta`` stdio server, whose tool answers with the ``_meta`` it got.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.support import BridgeProcess, bridge_process

META_SERVER = Path(__file__).resolve().parents[1] / "servers" / "meta_server.py"
KEY = "key-for-meta-context-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
CALLER_TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
CALLER_SPAN = "051581bf3cb55c13"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
MODERN = {
    **AUTH,
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "meta.meta",
}
STAMP = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "meta-context-test", "version": "1"},
}


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BridgeProcess]]:
    tmp = tmp_path_factory.mktemp("meta-context")
    config = {"mcpServers": {"meta": {"command": sys.executable, "args": [str(META_SERVER)]}}}
    common = ("--api-key", KEY, "--log-format", "json")
    with (
        bridge_process(tmp / "lean", config, *common) as lean,
        bridge_process(tmp / "sdk", config, *common, "--mcp-sdk-only") as sdk,
    ):
        yield {"lean": lean, "sdk": sdk}


def _message(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    text = response.text
    found: dict[str, Any] = (
        json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if "data: " in text else response.json()
    )
    return found


def _upstream_meta(message: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(message["result"]["content"][0]["text"])
    return meta


def _call(bridge: BridgeProcess, meta: dict[str, Any], headers: dict[str, str] | None = None) -> requests.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "meta.meta", "_meta": meta}}
    return requests.post(f"{bridge.url}/mcp", json=body, headers={**MODERN, **(headers or {})}, timeout=30)


@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_an_mcp_request_is_named_by_the_id_and_trace_in_its_meta(peers: dict[str, BridgeProcess], path: str) -> None:
    bridge = peers[path]
    given = f"named-in-meta-{path}"
    response = _call(bridge, {**STAMP, "traceparent": TRACEPARENT, "mcp-rest-bridge/requestId": given})
    assert response.headers["X-Request-Id"] == given
    seen = _upstream_meta(_message(response))
    assert seen["mcp-rest-bridge/requestId"] == given
    version, trace_id, parent, flags = seen["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert parent != CALLER_SPAN  # the bridge's request is the upstream's parent
    poll(lambda: bridge.access_line(given) is not None, 10, what="the access log line under the meta's id")


@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_header_fields_win_over_the_meta(peers: dict[str, BridgeProcess], path: str) -> None:
    header_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"X-Request-Id": f"from-header-{path}", "traceparent": f"00-{header_trace}-00f067aa0ba902b7-00"}
    bridge = peers[path]
    response = _call(bridge, {**STAMP, "traceparent": TRACEPARENT, "mcp-rest-bridge/requestId": "m"}, headers)
    assert response.headers["X-Request-Id"] == f"from-header-{path}"
    seen = _upstream_meta(_message(response))
    assert seen["mcp-rest-bridge/requestId"] == f"from-header-{path}"
    assert seen["traceparent"].split("-")[1] == header_trace
    assert seen["traceparent"].endswith("-00")


@pytest.mark.parametrize("path", ["lean", "sdk"])
@pytest.mark.parametrize(
    ("meta_id", "meta_trace"),
    [
        ("two words", f"00-{CALLER_TRACE}-{'0' * 16}-01"),  # an unsafe id; a zero parent
        ("x" * 129, f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01"),  # too long; version ff
        (7, f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01"),  # not a string; upper case
    ],
)
def test_invalid_values_in_the_meta_are_ignored(
    peers: dict[str, BridgeProcess], path: str, meta_id: Any, meta_trace: str
) -> None:
    response = _call(peers[path], {**STAMP, "traceparent": meta_trace, "mcp-rest-bridge/requestId": meta_id})
    made = response.headers["X-Request-Id"]
    assert made != meta_id
    seen = _upstream_meta(_message(response))
    assert seen["mcp-rest-bridge/requestId"] == made
    assert seen["traceparent"].split("-")[1] != CALLER_TRACE.lower()
    assert seen["traceparent"].endswith("-00")  # a trace begun here is not sampled


@pytest.mark.parametrize("query", ["", "?via=flask"])
def test_a_plain_json_rpc_request_is_named_by_its_meta(peers: dict[str, BridgeProcess], query: str) -> None:
    given = "plain-rpc-meta" + query.replace("?via=", "-")
    meta = {"traceparent": TRACEPARENT, "mcp-rest-bridge/requestId": given}
    body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "meta.meta", "_meta": meta}}
    response = requests.post(f"{peers['lean'].url}/mcp{query}", json=body, headers=AUTH, timeout=30)
    assert response.headers["X-Request-Id"] == given
    seen = _upstream_meta(_message(response))
    assert seen["mcp-rest-bridge/requestId"] == given
    assert seen["traceparent"].split("-")[1] == CALLER_TRACE


def test_each_call_of_a_handshake_era_session_is_named_by_its_meta(peers: dict[str, BridgeProcess]) -> None:
    bridge = peers["lean"]
    accept = {**AUTH, "Accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "meta-context-test", "version": "1"},
            "_meta": {"mcp-rest-bridge/requestId": "opened-by-meta"},
        },
    }
    opened = requests.post(f"{bridge.url}/mcp", json=init, headers=accept, timeout=30)
    assert opened.status_code == 200, opened.text
    # The SDK answers a handshake on an event stream whose head goes out before the message is
    # read: the id is the header's, one id throughout (the log line names the same).
    named = opened.headers["X-Request-Id"]
    poll(lambda: bridge.access_line(named) is not None, 10, what="the handshake's log line under its header's id")
    session = {**accept, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert requests.post(f"{bridge.url}/mcp", json=initialized, headers=session, timeout=30).status_code == 202
    for n in (1, 2):
        meta = {"mcp-rest-bridge/requestId": f"session-call-{n}", "traceparent": TRACEPARENT}
        call = {"jsonrpc": "2.0", "id": 1 + n, "method": "tools/call", "params": {"name": "meta.meta", "_meta": meta}}
        response = requests.post(f"{bridge.url}/mcp", json=call, headers=session, timeout=30)
        assert response.headers["X-Request-Id"] == f"session-call-{n}"
        seen = _upstream_meta(_message(response))
        assert seen["mcp-rest-bridge/requestId"] == f"session-call-{n}"
        assert seen["traceparent"].split("-")[1] == CALLER_TRACE
