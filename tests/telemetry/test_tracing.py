"""OpenTelemetry spans of a tool call, caught in-process by the SDK's in-memory exporter.

The bridge runs in this process (``Bridge.create`` with ``Tracing``) behind a real uvicorn server
on a loopback port, in front of the real ``meta`` stdio server, which answers with the ``_meta``
it was sent. One call with a caller's ``traceparent`` must give one trace: the request's server
span continuing the caller's, the gateway's span for the call inside it, and the MCP SDK's own
client span inside that, whose id the upstream sees as its parent.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bridge.config import BridgeSettings, ServerConfig
from bridge.runtime import Bridge
from bridge.telemetry import Tracing
from harness import free_port, poll
from tests.unit.test_import_boundaries import BRIDGE, _loaded_after_importing

META_SERVER = Path(__file__).resolve().parents[1] / "servers" / "meta_server.py"
KEY = "key-for-tracing-tests"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def traced() -> Iterator[tuple[str, InMemorySpanExporter]]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):  # set once per process
        trace.set_tracer_provider(TracerProvider())
    exporter = InMemorySpanExporter()
    tracing = Tracing.with_processor(SimpleSpanProcessor(exporter))
    meta = ServerConfig(name="meta", transport="stdio", command=sys.executable, args=(str(META_SERVER),))
    bridge = Bridge.create(BridgeSettings(api_keys=(KEY,)), [meta], tracing=tracing)
    try:
        port = free_port()
        config = uvicorn.Config(
            bridge.asgi_app(),
            host="127.0.0.1",
            port=port,
            lifespan="on",
            log_level="error",
            http=bridge.http_protocol(),
        )
        server = uvicorn.Server(config)
        running = bridge.pool.run_forever(server.serve())
        poll(lambda: server.started, 15, what="the bridge serving")
        yield f"http://127.0.0.1:{port}", exporter
        server.should_exit = True
        running.result(15)
    finally:
        bridge.close()
        exporter.shutdown()


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_a_tool_call_is_one_trace_from_the_caller_to_the_upstream(traced: tuple[str, InMemorySpanExporter]) -> None:
    url, exporter = traced
    exporter.clear()
    response = requests.post(
        f"{url}/servers/meta/tools/meta",
        json={},
        headers={
            "Authorization": f"Bearer {KEY}",
            "X-Request-Id": "traced-call",
            "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    upstream_meta = json.loads(response.json()["content"][0]["text"])

    spans = poll(lambda: (s := list(exporter.get_finished_spans())) and any(x.name == "POST" for x in s) and s, 10)
    request = _one(spans, "POST")
    call = _one(spans, "execute_tool meta.meta")
    sent = _one(spans, "MCP send tools/call meta")  # the MCP SDK's own client span

    assert request.kind == SpanKind.SERVER
    assert request.context.trace_id == int(CALLER_TRACE, 16)
    assert request.parent is not None
    assert request.parent.span_id == int(CALLER_SPAN, 16)
    assert request.attributes is not None
    assert request.attributes["http.request.id"] == "traced-call"
    assert request.attributes["http.response.status_code"] == 200
    assert call.parent is not None
    assert call.parent.span_id == request.context.span_id
    assert sent.kind == SpanKind.CLIENT
    assert sent.parent is not None
    assert sent.parent.span_id == call.context.span_id
    assert {s.context.trace_id for s in (request, call, sent)} == {int(CALLER_TRACE, 16)}
    # The upstream hears of the SDK's span as its parent, in the same trace, and of the request's id.
    assert upstream_meta["traceparent"] == f"00-{CALLER_TRACE}-{sent.context.span_id:016x}-01"
    assert upstream_meta["mcp-rest-bridge/requestId"] == "traced-call"


def test_a_request_without_trace_context_starts_its_own_trace(traced: tuple[str, InMemorySpanExporter]) -> None:
    url, exporter = traced
    exporter.clear()
    response = requests.get(f"{url}/servers", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert response.status_code == 200
    spans = poll(lambda: list(exporter.get_finished_spans()), 10, what="the request's span")
    request = _one(spans, "GET")
    assert request.parent is None
    assert request.attributes is not None
    assert request.attributes["http.request.id"] == response.headers["X-Request-Id"]


def test_a_failed_call_s_span_says_so(traced: tuple[str, InMemorySpanExporter]) -> None:
    url, exporter = traced
    exporter.clear()
    response = requests.post(
        f"{url}/servers/meta/tools/nope", json={}, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    assert response.status_code == 404
    spans = poll(lambda: (s := list(exporter.get_finished_spans())) and any(x.name == "POST" for x in s) and s, 10)
    assert _one(spans, "POST").attributes["http.response.status_code"] == 404  # type: ignore[index]
    assert _one(spans, "execute_tool meta.nope").status.status_code == StatusCode.ERROR


def test_without_an_otlp_endpoint_nothing_is_traced() -> None:
    assert Tracing.from_env({}) is None
    assert Tracing.from_env({"OTEL_SERVICE_NAME": "bridge"}) is None
    assert (
        Tracing.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}) is None
    )


def test_the_bridge_loads_no_tracing_sdk_or_exporter_until_traces_are_configured() -> None:
    loaded = _loaded_after_importing(*BRIDGE)
    assert set(BRIDGE) <= loaded
    # (redis-py loads parts of the metrics SDK for its own observability when the SDK is installed)
    assert sorted(n for n in loaded if n.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter"))) == []


def _mcp_call(
    traced: tuple[str, InMemorySpanExporter], meta: dict[str, Any], **headers: str
) -> tuple[requests.Response, list[ReadableSpan]]:
    """An MCP client's 2026-07-28 ``tools/call`` of ``meta`` on ``/mcp`` (``meta`` joins the
    envelope), answered 200, and the spans once the request's own has ended."""
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        **meta,
    }
    params = {"name": "meta", "arguments": {}, "_meta": envelope}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    sent = {
        "Authorization": f"Bearer {KEY}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "meta",
        **headers,
    }
    url, exporter = traced
    exporter.clear()
    response = requests.post(f"{url}/mcp", json=body, headers=sent, timeout=30)
    assert response.status_code == 200, response.text
    spans = poll(lambda: (s := list(exporter.get_finished_spans())) and any(x.name == "POST" for x in s) and s, 10)
    return response, spans


def test_an_mcp_client_s_call_joins_the_sdk_s_server_span_to_the_request_s_trace(
    traced: tuple[str, InMemorySpanExporter],
) -> None:
    # A client that declares the tasks extension: its calls are the SDK server's, not the lean path's.
    tasks = {"io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}
    _, spans = _mcp_call(traced, tasks, traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    request = _one(spans, "POST")
    served = _one(spans, "tools/call meta")  # the MCP SDK's server span for the client's message
    call = _one(spans, "execute_tool meta.meta")
    sent = _one(spans, "MCP send tools/call meta")
    assert {s.context.trace_id for s in (request, served, call, sent)} == {int(CALLER_TRACE, 16)}
    assert served.kind == SpanKind.SERVER
    assert call.parent is not None
    assert sent.parent is not None
    assert sent.parent.span_id == call.context.span_id


def test_an_mcp_request_named_in_its_meta_is_named_so_in_its_span(traced: tuple[str, InMemorySpanExporter]) -> None:
    response, spans = _mcp_call(traced, {"mcp-rest-bridge/requestId": "named-in-meta"})
    assert response.headers["X-Request-Id"] == "named-in-meta"
    request = _one(spans, "POST")
    assert request.attributes is not None
    assert request.attributes["http.request.id"] == "named-in-meta"
