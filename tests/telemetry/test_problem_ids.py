"""Every problem the bridge writes names its request (``requestId``), the id its ``X-Request-Id`` carries.

One bridge with telemetry on (the default) is asked for a problem on each edge: Flask's routes
and Werkzeug's own errors, the routes served on the loop (tool calls, ``/calls``, plain JSON-RPC
on ``/mcp``, the event stream, ``/metrics``), an MCP client's HTTP-level refusal, the WebSocket's
refused handshake and error frames, JSON-RPC errors whose ``data`` is a problem. Each is asked
with and without the caller's own ``X-Request-Id``. A second bridge, ``--no-telemetry``, names
no request at all. (The HTTP layer's own refusals, 400/408/431, are checked by every hostile
test through ``tests/hostile/wire.py``.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bridge.endpoint.protocol import MAX_HEADERS
from tests.hostile.wire import request
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

KEY = "use-key-for-problem-id-tests"
ADMIN = "admin-key-for-problem-id-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
MCP_CLIENT = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
CONFIG = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("ids"), CONFIG, "--api-key", KEY, "--admin-key", ADMIN) as running:
        yield running


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("quiet"), CONFIG, "--api-key", KEY, "--no-telemetry") as running:
        yield running


#: A request for each kind of problem: (what, method, path, JSON body, headers, the status it gets).
PROBLEMS: list[tuple[str, str, str, Any, dict[str, str], int]] = [
    ("flask: not found", "GET", "/servers/nope", None, AUTH, 404),
    ("flask: werkzeug's own 405", "PATCH", "/servers", None, AUTH, 405),
    ("no such route", "GET", "/nothing-here", None, AUTH, 404),
    ("tool call: invalid arguments", "POST", "/servers/rich/tools/echo", {}, AUTH, 400),
    ("tool call: no key", "POST", "/tools/rich.echo", {"text": "hi"}, {}, 401),
    ("plain JSON-RPC: no key", "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {}, 401),
    ("MCP client: no key", "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, MCP_CLIENT, 401),
    ("calls: no such call", "GET", "/calls/no-such-call", None, AUTH, 404),
    ("calls: no key", "GET", "/calls", None, {}, 401),
    ("event stream: bad filter", "GET", "/mcp/stream?type=", None, AUTH, 400),
    ("metrics: not an admin", "GET", "/metrics", None, AUTH, 403),
]


@pytest.mark.parametrize("named", [True, False], ids=["named", "made"])
@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"), [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS]
)
def test_every_problem_names_its_request_as_its_x_request_id_does(
    bridge: BridgeProcess, method: str, path: str, body: Any, headers: dict[str, str], status: int, named: bool
) -> None:
    given = {"X-Request-Id": f"problem-{method}-{status}"} if named else {}
    response = requests.request(method, bridge.url + path, json=body, headers={**headers, **given}, timeout=30)
    assert (response.status_code, response.headers["Content-Type"]) == (status, PROBLEM_JSON), response.text
    request_id = response.headers["X-Request-Id"]
    assert response.json()["requestId"] == request_id
    if named:
        assert request_id == given["X-Request-Id"]
    else:
        assert len(request_id) == 32


def test_a_poll_of_an_unknown_call_on_a_kept_alive_connection_names_its_request(bridge: BridgeProcess) -> None:
    with requests.Session() as session:  # keep-alive GETs, offered to the HTTP protocol's quick answers first
        answers = [session.get(f"{bridge.url}/calls/no-such-call", headers=AUTH, timeout=10) for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 404]
    assert [a.json()["requestId"] for a in answers] == [a.headers["X-Request-Id"] for a in answers]
    assert answers[0].headers["X-Request-Id"] != answers[1].headers["X-Request-Id"]


def test_a_json_rpc_error_on_mcp_names_the_request_in_its_problem(bridge: BridgeProcess) -> None:
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "rich.nope", "arguments": {}}}
    named = requests.post(f"{bridge.url}/mcp", json=call, headers={**AUTH, "X-Request-Id": "rpc-1"}, timeout=30)
    made = requests.post(f"{bridge.url}/mcp", json=call, headers=AUTH, timeout=30)
    assert [r.status_code for r in (named, made)] == [200, 200]
    assert [r.json()["error"]["data"]["status"] for r in (named, made)] == [404, 404]
    assert named.json()["error"]["data"]["requestId"] == named.headers["X-Request-Id"] == "rpc-1"
    assert made.json()["error"]["data"]["requestId"] == made.headers["X-Request-Id"]


def test_an_mcp_session_s_json_rpc_error_names_the_request_that_carried_it(bridge: BridgeProcess) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "ids", "version": "1"}},
    }
    opened = requests.post(f"{bridge.url}/mcp", json=init, headers={**AUTH, **MCP_CLIENT}, timeout=30)
    assert opened.status_code == 200, opened.text
    session = {**AUTH, **MCP_CLIENT, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"]}
    notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert requests.post(f"{bridge.url}/mcp", json=notified, headers=session, timeout=30).status_code == 202
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "rich.nope", "arguments": {}}}
    response = requests.post(
        f"{bridge.url}/mcp", json=call, headers={**session, "X-Request-Id": "session-1"}, timeout=30
    )
    assert response.status_code == 200, response.text
    text = response.text
    answer = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if "data: " in text else response.json()
    assert answer["error"]["data"]["requestId"] == "session-1"


def test_a_refused_websocket_handshake_names_its_request(bridge: BridgeProcess) -> None:
    url = bridge.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers={"X-Request-Id": "ws-refused"}):
        pass
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == "ws-refused"
    assert json.loads(response.body or b"null")["requestId"] == "ws-refused"


def test_a_websocket_error_frame_names_the_request_that_opened_the_socket(bridge: BridgeProcess) -> None:
    url = bridge.url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={**AUTH, "X-Request-Id": "ws-1"}, open_timeout=10) as ws:
        assert ws.response is not None
        assert ws.response.headers["X-Request-Id"] == "ws-1"
        for n in (1, 2):  # every frame's, the socket being one request
            ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": "rich.nope"}}))
            answer = json.loads(ws.recv(timeout=10))
            assert (answer["id"], answer["error"]["data"]["status"]) == (n, 404)
            assert answer["error"]["data"]["requestId"] == "ws-1"


def test_without_telemetry_no_problem_names_a_request(quiet: BridgeProcess) -> None:
    port = int(quiet.url.rpartition(":")[2])
    flask = requests.get(f"{quiet.url}/servers/nope", headers={**AUTH, "X-Request-Id": "quiet-1"}, timeout=10)
    loop = requests.post(f"{quiet.url}/servers/rich/tools/echo", json={}, headers=AUTH, timeout=10)
    head = request(
        port, "GET", "/healthz", [("X-Request-Id", "quiet-2")] + [(f"X-H{i}", "1") for i in range(MAX_HEADERS + 1)]
    )
    assert [flask.status_code, loop.status_code, head.status] == [404, 400, 431]
    assert [r.headers.get("X-Request-Id") for r in (flask, loop)] == [None, None]
    assert head.header("x-request-id") is None
    assert ["requestId" in body for body in (flask.json(), loop.json(), json.loads(head.body))] == [False, False, False]
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "rich.nope", "arguments": {}}}
    assert (
        "requestId" not in requests.post(f"{quiet.url}/mcp", json=rpc, headers=AUTH, timeout=10).json()["error"]["data"]
    )
