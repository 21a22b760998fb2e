"""Request ids, upstream ``_meta``, JSON logs and ``/metrics`` on a real ``mcp-bridge serve`` process.

One bridge fronts two real stdio servers: ``meta`` (its tool answers with the ``_meta`` its
request carried) and ``rich`` (with a tool limit, so a second ``echo`` is refused with 429). The
tests speak HTTP over loopback to every edge and read the process's own log lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import free_port, poll
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

META_SERVER = Path(__file__).resolve().parents[1] / "servers" / "meta_server.py"
KEY = "use-key-for-telemetry-tests"
ADMIN = "admin-key-for-telemetry-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BridgeProcess, int]]:
    config = {
        "mcpServers": {
            "meta": {"command": sys.executable, "args": [str(META_SERVER)]},
            "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
        }
    }
    metrics_port = free_port()
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--log-format", "json", "--tool-limit", "rich.echo=1/minute")
    args += (
        "--metrics-address",
        f"127.0.0.1:{metrics_port}",
        "--allow-private-webhooks",
        "--webhook-retry-delays",
        "0.2",
    )
    with bridge_process(tmp_path_factory.mktemp("telemetry"), config, *args) as running:
        yield running, metrics_port


@pytest.fixture
def bridge(served: tuple[BridgeProcess, int]) -> BridgeProcess:
    return served[0]


def _upstream_meta(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    meta: dict[str, Any] = json.loads(response.json()["content"][0]["text"])
    return meta


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return _samples(response.text)


# -- request ids on every edge ---------------------------------------------------------------------


def test_a_tool_call_returns_the_caller_s_request_id(bridge: BridgeProcess) -> None:
    response = requests.post(
        f"{bridge.url}/servers/meta/tools/meta", json={}, headers={**AUTH, "X-Request-Id": "call-1"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "call-1"


def test_a_request_without_an_id_gets_a_new_one_each_time(bridge: BridgeProcess) -> None:
    ids = {requests.get(f"{bridge.url}/servers", headers=AUTH, timeout=10).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_an_unsafe_request_id_is_replaced_and_the_replacement_is_in_the_problem(bridge: BridgeProcess) -> None:
    response = requests.get(f"{bridge.url}/servers", headers={"X-Request-Id": "x" * 200}, timeout=10)
    assert response.status_code == 401
    made = response.headers["X-Request-Id"]
    assert made != "x" * 200
    assert len(made) == 32
    assert response.json() == {
        "type": "https://mcp-rest-bridge.dev/problems/unauthorized",
        "title": "Missing or invalid API key",
        "status": 401,
        "detail": "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        "instance": "/servers",
        "requestId": made,
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "extra"),
    [
        ("GET", "/servers", None, {}),  # Flask
        ("POST", "/servers/meta/tools/meta", {}, {}),  # the tool-call fast route
        ("POST", "/tools/meta", {}, {}),
        ("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {}),  # plain JSON-RPC on /mcp
        (  # an MCP client on /mcp (the SDK's Streamable HTTP app)
            "POST",
            "/mcp",
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"},
        ),
        ("GET", "/calls/nope", None, {}),  # asynchronous calls' resources
        ("GET", "/healthz", None, {}),
        ("GET", "/nothing-here", None, {}),  # unrouted
    ],
)
def test_every_edge_returns_the_request_id(
    bridge: BridgeProcess, method: str, path: str, body: Any, extra: dict[str, str]
) -> None:
    headers = {**AUTH, **extra, "X-Request-Id": f"edge-{method}-{path.strip('/').replace('/', '.')}"}
    response = requests.request(method, f"{bridge.url}{path}", json=body, headers=headers, timeout=30)
    assert response.headers["X-Request-Id"] == headers["X-Request-Id"], (response.status_code, response.text)


def test_a_poll_answered_in_the_http_protocol_returns_the_request_id(bridge: BridgeProcess) -> None:
    started = requests.post(
        f"{bridge.url}/servers/meta/tools/meta", json={}, headers={**AUTH, "Prefer": "respond-async"}, timeout=30
    )
    assert started.status_code == 202, started.text
    with requests.Session() as session:  # keep-alive HTTP/1.1 GETs: the polls answered before any ASGI cycle
        named = session.get(f"{bridge.url}{started.headers['Location']}", headers={**AUTH, "X-Request-Id": "poll-1"})
        made = [session.get(f"{bridge.url}{started.headers['Location']}", headers=AUTH) for _ in range(2)]
    assert named.status_code == 200
    assert named.headers["X-Request-Id"] == "poll-1"
    assert [m.status_code for m in made] == [200, 200]
    assert len({m.headers["X-Request-Id"] for m in made}) == 2
    assert all(len(m.headers["X-Request-Id"]) == 32 for m in made)


def test_the_event_stream_returns_the_request_id(bridge: BridgeProcess) -> None:
    with requests.get(
        f"{bridge.url}/mcp/stream", headers={**AUTH, "X-Request-Id": "stream-1"}, stream=True, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Request-Id"] == "stream-1"


def test_a_problem_names_the_request_the_caller_named(bridge: BridgeProcess) -> None:
    response = requests.post(
        f"{bridge.url}/servers/meta/tools/nope", json={}, headers={**AUTH, "X-Request-Id": "missing-1"}, timeout=10
    )
    assert response.status_code == 404
    assert response.json() == {
        "type": "https://mcp-rest-bridge.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "server 'meta' has no tool named 'nope'",
        "instance": "/servers/meta/tools/nope",
        "requestId": "missing-1",
    }
    flask = requests.get(f"{bridge.url}/servers/nope/tools", headers={**AUTH, "X-Request-Id": "missing-2"}, timeout=10)
    assert flask.status_code == 404
    assert flask.json()["requestId"] == "missing-2"


# -- what the upstream sees -------------------------------------------------------------------------


def test_the_upstream_request_carries_the_request_id_and_continues_the_caller_s_trace(bridge: BridgeProcess) -> None:
    headers = {**AUTH, "X-Request-Id": "traced-1", "traceparent": TRACEPARENT}
    meta = _upstream_meta(requests.post(f"{bridge.url}/servers/meta/tools/meta", json={}, headers=headers, timeout=30))
    assert meta["mcp-rest-bridge/requestId"] == "traced-1"
    version, trace_id, parent, flags = meta["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert parent != "00f067aa0ba902b7"  # the bridge's request is the upstream's parent, not the caller's


def test_a_call_without_trace_context_starts_a_trace_and_names_its_made_up_id(bridge: BridgeProcess) -> None:
    response = requests.post(f"{bridge.url}/tools/meta", json={}, headers=AUTH, timeout=30)
    meta = _upstream_meta(response)
    assert meta["mcp-rest-bridge/requestId"] == response.headers["X-Request-Id"]
    assert meta["traceparent"].startswith("00-")
    assert meta["traceparent"].endswith("-00")


def test_a_call_through_flask_carries_the_request_id_upstream(bridge: BridgeProcess) -> None:
    # A query string sends the call through Flask rather than the fast route.
    response = requests.post(
        f"{bridge.url}/servers/meta/tools/meta?via=flask",
        json={},
        headers={**AUTH, "X-Request-Id": "flask-1", "traceparent": TRACEPARENT},
        timeout=30,
    )
    meta = _upstream_meta(response)
    assert meta["mcp-rest-bridge/requestId"] == "flask-1"
    assert meta["traceparent"].split("-")[1] == CALLER_TRACE


def test_plain_json_rpc_on_mcp_carries_the_request_id_upstream(bridge: BridgeProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "meta.meta", "arguments": {}}}
    response = requests.post(f"{bridge.url}/mcp", json=body, headers={**AUTH, "X-Request-Id": "rpc-1"}, timeout=30)
    assert response.status_code == 200, response.text
    meta = json.loads(response.json()["result"]["content"][0]["text"])
    assert meta["mcp-rest-bridge/requestId"] == "rpc-1"


# -- log lines --------------------------------------------------------------------------------------


def _logged(bridge: BridgeProcess, request_id: str) -> dict[str, Any] | None:
    for line in bridge.log().splitlines():
        if line.startswith("{") and f'"{request_id}"' in line:
            entry: dict[str, Any] = json.loads(line)
            return entry
    return None


def test_log_lines_are_json_and_name_their_request(bridge: BridgeProcess) -> None:
    requests.post(
        f"{bridge.url}/servers/meta/tools/meta", json={}, headers={**AUTH, "X-Request-Id": "logged-1"}, timeout=30
    )
    entry = poll(lambda: _logged(bridge, "logged-1"), 10, what="a log line naming request logged-1")
    assert entry["logger"] == "bridge.access"
    assert entry["level"] == "INFO"
    assert entry["message"].startswith("POST /servers/meta/tools/meta 200 ")
    assert set(entry) == {"time", "level", "logger", "requestId", "message"}


def test_every_log_line_is_json(bridge: BridgeProcess) -> None:
    requests.get(f"{bridge.url}/servers", headers=AUTH, timeout=10)
    # What is not a log line: the banner ``serve`` prints once, as it starts.
    lines = [line for line in bridge.log().splitlines() if line and not line.startswith(("mcp-bridge: ", "  "))]
    assert lines
    assert [line for line in lines if not line.startswith("{")] == []
    assert all("requestId" in json.loads(line) for line in lines)


def test_a_flask_request_s_log_line_names_its_request(bridge: BridgeProcess) -> None:
    # Flask answers in a worker thread: the request's id must reach it there.
    requests.get(f"{bridge.url}/servers/meta/tools", headers={**AUTH, "X-Request-Id": "logged-flask"}, timeout=30)
    entry = poll(lambda: _logged(bridge, "logged-flask"), 10, what="a log line naming request logged-flask")
    assert entry["message"].startswith("GET /servers/meta/tools 200 ")


# -- metrics ----------------------------------------------------------------------------------------


def test_metrics_need_the_admin_scope(bridge: BridgeProcess) -> None:
    assert requests.get(f"{bridge.url}/metrics", timeout=10).status_code == 401
    refused = requests.get(f"{bridge.url}/metrics", headers=AUTH, timeout=10)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{bridge.url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10).ok
    other = requests.post(f"{bridge.url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert other.status_code == 405  # as the spec has it: GET (and HEAD) only
    assert other.headers["Allow"] == "GET, HEAD"
    assert other.headers["Content-Type"] == "application/problem+json"


def test_metrics_move_with_calls(served: tuple[BridgeProcess, int]) -> None:
    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"  # the separate address: no key needed
    calls = ("mcp_bridge_tool_calls_total", (("server", "meta"), ("status", "200"), ("tool", "meta")))
    upstream = ("mcp_bridge_upstream_seconds_count", (("server", "meta"),))
    own = ("mcp_bridge_own_seconds_count", ())
    before = _scrape(url)
    for _ in range(3):
        requests.post(f"{bridge.url}/servers/meta/tools/meta", json={}, headers=AUTH, timeout=30).raise_for_status()
    requests.post(f"{bridge.url}/servers/meta/tools/nope", json={}, headers=AUTH, timeout=30)
    requests.post(f"{bridge.url}/servers/made-up/tools/whatever", json={}, headers=AUTH, timeout=30)
    after = _scrape(url)
    assert after[calls] - before.get(calls, 0) == 3
    assert after[upstream] - before.get(upstream, 0) == 3
    assert after[own] - before.get(own, 0) >= 5
    unknown = ("mcp_bridge_tool_calls_total", (("server", "(unknown)"), ("status", "404"), ("tool", "(unknown)")))
    assert after[unknown] - before.get(unknown, 0) == 2  # names a caller made up are not series of their own
    assert not any(dict(labels).get("tool") in ("nope", "whatever") for _, labels in after)
    assert after[("mcp_bridge_tool_calls_in_flight", ())] == 0
    assert after[("mcp_bridge_upstream_state", (("server", "meta"), ("state", "ready")))] == 1
    assert after[("mcp_bridge_upstream_state", (("server", "meta"), ("state", "down")))] == 0
    assert after[("mcp_bridge_upstream_reconnects_total", (("server", "meta"),))] == 0
    assert ("process_cpu_seconds_total", ()) in after


def test_a_limit_refusal_is_counted(served: tuple[BridgeProcess, int]) -> None:
    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    before = _scrape(url)[("mcp_bridge_rate_limited_total", ())]
    statuses = [
        requests.post(
            f"{bridge.url}/servers/rich/tools/echo", json={"text": "hi"}, headers=AUTH, timeout=30
        ).status_code
        for _ in range(2)
    ]
    assert 429 in statuses
    after = _scrape(url)
    assert after[("mcp_bridge_rate_limited_total", ())] - before == statuses.count(429)
    limited = ("mcp_bridge_tool_calls_total", (("server", "rich"), ("status", "429"), ("tool", "echo")))
    assert after[limited] >= 1


def test_open_streams_are_counted_while_open(served: tuple[BridgeProcess, int]) -> None:
    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    gauge = ("mcp_bridge_event_streams_open", ())
    with requests.get(f"{bridge.url}/mcp/stream", headers=AUTH, stream=True, timeout=10) as response:
        assert response.status_code == 200
        poll(lambda: _scrape(url)[gauge] == 1, 10, what="the stream counted open")
    poll(lambda: _scrape(url)[gauge] == 0, 10, what="the stream counted closed")


def test_an_mcp_client_s_tool_call_carries_the_request_id_upstream(bridge: BridgeProcess) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {
            "name": "meta.meta",
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            },
        },
    }
    headers = {
        **AUTH,
        "X-Request-Id": "mcp-client-1",
        "traceparent": TRACEPARENT,
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "meta.meta",
    }
    response = requests.post(f"{bridge.url}/mcp", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-Id"] == "mcp-client-1"
    text = response.text
    payload = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if "data: " in text else response.json()
    meta = json.loads(payload["result"]["content"][0]["text"])
    assert meta["mcp-rest-bridge/requestId"] == "mcp-client-1"
    assert meta["traceparent"].split("-")[1] == CALLER_TRACE


def _sse_or_json(response: requests.Response) -> dict[str, Any]:
    text = response.text
    found: dict[str, Any] = (
        json.loads(text.split("data: ", 1)[1].split("\n", 1)[0]) if "data: " in text else response.json()
    )
    return found


def test_each_request_of_a_2025_session_carries_its_own_request_id_upstream(bridge: BridgeProcess) -> None:
    accept = {**AUTH, "Accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
    }
    opened = requests.post(
        f"{bridge.url}/mcp", json=init, headers={**accept, "X-Request-Id": "session-open"}, timeout=30
    )
    assert opened.status_code == 200, opened.text
    session = {**accept, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
    requests.post(
        f"{bridge.url}/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session, timeout=30
    )
    for n in (1, 2):
        call = {"jsonrpc": "2.0", "id": 1 + n, "method": "tools/call", "params": {"name": "meta.meta", "arguments": {}}}
        response = requests.post(
            f"{bridge.url}/mcp", json=call, headers={**session, "X-Request-Id": f"session-call-{n}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        meta = json.loads(_sse_or_json(response)["result"]["content"][0]["text"])
        assert meta["mcp-rest-bridge/requestId"] == f"session-call-{n}"


def test_open_websockets_are_counted_and_their_handshake_returns_the_request_id(
    served: tuple[BridgeProcess, int],
) -> None:
    from websockets.sync.client import connect

    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    gauge = ("mcp_bridge_websockets_open", ())
    address = bridge.url.replace("http://", "ws://") + "/ws"
    with connect(address, additional_headers={**AUTH, "X-Request-Id": "socket-1"}) as socket:
        assert socket.response is not None
        assert socket.response.headers["X-Request-Id"] == "socket-1"
        poll(lambda: _scrape(url)[gauge] == 1, 10, what="the socket counted open")
    poll(lambda: _scrape(url)[gauge] == 0, 10, what="the socket counted closed")


def test_an_upstream_that_comes_back_is_counted_as_a_reconnect(served: tuple[BridgeProcess, int]) -> None:
    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    reconnects = ("mcp_bridge_upstream_reconnects_total", (("server", "rich"),))
    ready = ("mcp_bridge_upstream_state", (("server", "rich"), ("state", "ready")))
    before = _scrape(url)[reconnects]
    crashed = requests.post(f"{bridge.url}/servers/rich/tools/crash", json={}, headers=AUTH, timeout=30)
    assert crashed.status_code in (502, 503)
    poll(lambda: _scrape(url)[reconnects] == before + 1, 30, what="the reconnect counted")
    assert _scrape(url)[ready] == 1


def test_webhook_deliveries_are_reported_by_status(served: tuple[BridgeProcess, int]) -> None:
    bridge, metrics_port = served
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: each delivery fails
    made = requests.post(
        f"{bridge.url}/webhooks", json={"url": nobody, "types": ["tool.call.finished"]}, headers=admin, timeout=10
    )
    assert made.status_code == 201, made.text
    try:
        requests.post(f"{bridge.url}/servers/meta/tools/meta", json={}, headers=AUTH, timeout=30).raise_for_status()
        failed = ("mcp_bridge_webhook_deliveries", (("status", "failed"),))
        poll(lambda: _scrape(url).get(failed, 0) >= 1, 30, what="the failed delivery reported")
    finally:
        requests.delete(f"{bridge.url}/webhooks/{made.json()['id']}", headers=admin, timeout=10)
