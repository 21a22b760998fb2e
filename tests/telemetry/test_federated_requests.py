"""A request through two bridges in federation (A → B → server) is one request: one id, one trace.

Bridge B fronts the ``meta`` server (its tool answers with the ``_meta`` its request carried);
bridge A's one upstream is B's ``/mcp``. A's upstream requests name the request they serve in
their headers (``traceparent``, ``X-Request-Id``) as in their ``_meta``, so B, which reads HTTP
headers before any body, logs A's request id and continues A's trace: what the server behind B
sees, and B's own log line, name the caller's request as A's do. A bridge exporting traces calls
through the MCP SDK's client, which names the request in ``_meta`` only: B takes it from there.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.support import BridgeProcess, bridge_process

META_SERVER = Path(__file__).resolve().parents[1] / "servers" / "meta_server.py"
A_KEY = "federated-front-key"
B_KEY = "federated-back-key"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {"mcpServers": {"meta": {"command": sys.executable, "args": [str(META_SERVER)]}}}
    with bridge_process(
        tmp_path_factory.mktemp("federated-b"), config, "--api-key", B_KEY, "--log-format", "json"
    ) as b:
        yield b


def _front_config(back: BridgeProcess) -> dict[str, Any]:
    return {"mcpServers": {"b": {"url": f"{back.url}/mcp", "headers": {"Authorization": f"Bearer {B_KEY}"}}}}


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, back: BridgeProcess
) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:
    with bridge_process(tmp_path_factory.mktemp("federated-a"), _front_config(back), "--api-key", A_KEY) as front:
        yield front, back


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes every export (the spans themselves are not looked at here)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def traced_front(
    tmp_path_factory: pytest.TempPathFactory, back: BridgeProcess
) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:
    """A front bridge exporting traces: its calls take the MCP SDK's path, which names the request in
    ``_meta`` only (the SDK's client span carries the trace there), not in header fields."""
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector.server_port}/v1/traces"}
    try:
        root = tmp_path_factory.mktemp("federated-traced-a")
        with bridge_process(root, _front_config(back), "--api-key", A_KEY, env=env) as front:
            yield front, back
    finally:
        collector.shutdown()
        collector.server_close()


def _seen_upstream(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    meta: dict[str, Any] = json.loads(response.json()["content"][0]["text"])
    return meta


def _called_through(a: BridgeProcess, b: BridgeProcess, request_id: str) -> tuple[dict[str, Any], str]:
    """A REST call to A named ``request_id`` in the caller's trace: what the server behind B saw,
    and B's access line naming that id."""
    headers = {"Authorization": f"Bearer {A_KEY}", "X-Request-Id": request_id, "traceparent": TRACEPARENT}
    response = requests.post(f"{a.url}/servers/b/tools/meta", json={}, headers=headers, timeout=30)
    seen = _seen_upstream(response)
    assert response.headers["X-Request-Id"] == request_id
    assert seen["mcp-rest-bridge/requestId"] == request_id
    entry = poll(lambda: b.access_line(request_id), 10, what=f"B's access line naming {request_id}")
    return seen, entry["message"]


def test_a_rest_call_through_both_bridges_is_one_request_with_one_trace(
    front: tuple[BridgeProcess, BridgeProcess],
) -> None:
    seen, logged = _called_through(*front, "federated-1")
    # Behind B, the caller's id, and the caller's trace continued by A, then by B (a span of B's own).
    version, trace, parent, flags = seen["traceparent"].split("-")
    assert (version, trace, flags) == ("00", CALLER_TRACE, "01")
    assert parent != TRACEPARENT.split("-")[2]  # not A's caller's span: B's, under A's
    assert logged.startswith("POST /mcp tools/call 200 ")


def test_a_call_without_an_id_gets_the_one_a_made_at_b_too(front: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = front
    response = requests.post(f"{a.url}/servers/b/tools/meta", json={}, headers={"X-API-Key": A_KEY}, timeout=30)
    seen = _seen_upstream(response)
    made = response.headers["X-Request-Id"]  # A's own, as no id was sent
    assert seen["mcp-rest-bridge/requestId"] == made
    assert seen["traceparent"].split("-")[1] == made  # a trace A started, its id the request's
    poll(lambda: b.access_line(made), 10, what=f"B's access line naming {made}")


def test_plain_json_rpc_to_a_reaches_b_as_the_same_request(front: tuple[BridgeProcess, BridgeProcess]) -> None:
    a, b = front
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "b.meta", "arguments": {}}}
    headers = {"X-API-Key": A_KEY, "X-Request-Id": "federated-rpc"}
    response = requests.post(f"{a.url}/mcp", json=call, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    seen = json.loads(response.json()["result"]["content"][0]["text"])
    assert seen["mcp-rest-bridge/requestId"] == "federated-rpc"
    poll(lambda: b.access_line("federated-rpc"), 10, what="B's access line naming federated-rpc")


def test_with_traces_exported_a_names_the_request_in_meta_and_b_takes_it_from_there(
    traced_front: tuple[BridgeProcess, BridgeProcess],
) -> None:
    seen, logged = _called_through(*traced_front, "federated-traced")
    assert seen["traceparent"].split("-")[1] == CALLER_TRACE  # A's spans continue the caller's trace, B too
    assert logged.startswith("POST /mcp ")
    assert " 200 " in logged
