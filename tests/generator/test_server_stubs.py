"""The generated Flask stubs run: 501 problem+json per unimplemented handler, the bridge's validation."""

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from bridge.spec import Spec
from tests.support import ROOT


@pytest.fixture(scope="module")
def stubs() -> Iterator[Any]:
    sys.path.insert(0, str(ROOT / "generated" / "server"))
    try:
        import mcp_bridge_server

        yield mcp_bridge_server
    finally:
        sys.path.remove(str(ROOT / "generated" / "server"))


EXAMPLE_BODIES: dict[str, Any] = {
    "mcpRequest": {"jsonrpc": "2.0", "method": "ping", "id": 1},
    "registerServer": {"name": "x", "transport": "http", "url": "http://127.0.0.1:1/mcp"},
    "createWebhook": {"url": "http://127.0.0.1:1/hook"},
    "updateWebhook": {"description": "x"},
    "redeliverWebhookEvents": {"eventIds": ["01KBQ8T2M5X0Q4A7RZP3N9D2B6"]},
    "createKey": {"name": "x"},
    "answerCall": {"answers": {"q1": {"action": "cancel"}}},
}
WEBHOOK = "wh_01KBQ8T2M5X0Q4A7RZP3N9D2B6"
DELIVERY = "msg_01KBQ8T2M5X0Q4A7RZP3N9D2B6"
KEY = "0123456789ab"


def _concrete(path: str) -> str:
    return (
        path.replace("{server}", "demo")
        .replace("{tool}", "echo")
        .replace("{prompt}", "greet")
        .replace("{name}", "x")
        .replace("{webhook}", WEBHOOK)
        .replace("{delivery}", DELIVERY)
        .replace("{key}", KEY)
        .replace("{call}", "c1")
    )


def test_every_operation_answers_501_until_it_has_a_handler(stubs: Any) -> None:
    app: Flask = stubs.create_app()
    client = app.test_client()
    spec = Spec.from_file()
    assert spec.operations
    for op in spec.operations.values():
        query = {"uri": "config://settings"} if any(p.location == "query" for p in op.parameters) else None
        body = EXAMPLE_BODIES.get(op.operation_id, {})
        response = client.open(_concrete(op.path), method=op.method, query_string=query, json=body)
        assert response.status_code == 501, op.operation_id
        assert response.content_type == "application/problem+json"
        assert response.json["detail"] == f"operation {op.operation_id} has no handler yet"


def test_a_handler_answers_and_invalid_requests_never_reach_it(stubs: Any) -> None:
    seen: list[dict[str, Any]] = []

    def call_server_tool(server: str, tool: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        seen.append({"server": server, "tool": tool, "body": body})
        return {"content": [{"type": "text", "text": body["text"]}], "isError": False}

    client = stubs.create_app({"callServerTool": call_server_tool}).test_client()
    ok = client.post("/servers/demo/tools/echo", json={"text": "hi"})
    assert ok.status_code == 200
    assert ok.json == {"content": [{"type": "text", "text": "hi"}], "isError": False}
    bad = client.post("/servers/Not_Valid/tools/echo", json={"text": "hi"})
    assert bad.status_code == 400
    assert bad.json["errors"][0]["pointer"] == "/path/server"
    wrong_type = client.post("/servers/demo/tools/echo", data="x", content_type="text/plain")
    assert wrong_type.status_code == 415
    assert seen == [{"server": "demo", "tool": "echo", "body": {"text": "hi"}}]


def test_a_plain_text_operation_answers_its_handlers_string_as_text(stubs: Any) -> None:
    def get_metrics(query: dict[str, str], body: Any) -> str:
        return "# TYPE up gauge\nup 1.0\n"

    answer = stubs.create_app({"getMetrics": get_metrics}).test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True) == "# TYPE up gauge\nup 1.0\n"
