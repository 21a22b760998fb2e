"""Plain JSON-RPC ``POST /mcp`` served on the event loop answers exactly as the Flask view does.

The served process answers a plain ``POST /mcp`` (no MCP headers, no ``text/event-stream``)
without Flask (``bridge.endpoint.jsonrpc``); the in-process Flask app still has the view. Every
request here goes to both, and status, media type, headers that matter and body must agree;
each case's own status is held too, so both paths being wrong alike cannot pass.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from harness import poll
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process, in_process_bridge, rich_stdio

KEY = "rpc-parity-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Content-Type": "application/json"}
SENT = {**AUTH, **JSON}
MAX_BODY = 4096


def rpc(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


def notify(method: str, params: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})}).encode()


# (method, path, headers, raw body, the status it must answer)
CASES: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "echo", "arguments": {"text": "hello"}}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "rich.echo", "arguments": {"text": "q"}}, id="s-1"), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}, id=0), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "all_content"}), 200),
    ("POST", "/mcp", SENT, rpc("tools/list"), 200),
    ("POST", "/mcp", SENT, rpc("ping", {}), 200),
    ("POST", "/mcp", SENT, rpc("resources/list"), 200),
    ("POST", "/mcp", SENT, rpc("resources/templates/list"), 200),
    ("POST", "/mcp", SENT, rpc("resources/read", {"uri": "text://greeting"}), 200),
    ("POST", "/mcp", SENT, rpc("prompts/list"), 200),
    ("POST", "/mcp", SENT, rpc("prompts/get", {"name": "greet", "arguments": {"name": "Bo"}}), 200),
    # JSON-RPC errors are 200s whose body carries the problem
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "fail", "arguments": {"message": "it broke"}}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "add", "arguments": {"a": "one"}}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"arguments": {}}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": ""}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "nope"}), 200),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "absent.echo"}), 200),
    ("POST", "/mcp", SENT, rpc("resources/read", {"uri": "nothing://here"}), 200),
    ("POST", "/mcp", SENT, rpc("prompts/get", {"name": "greet", "arguments": {"name": 5}}), 200),
    ("POST", "/mcp", SENT, rpc("sampling/createMessage", {}), 200),
    # notifications: 202, no body, whatever became of them
    ("POST", "/mcp", SENT, notify("ping"), 202),
    ("POST", "/mcp", SENT, notify("tools/call", {"name": "echo", "arguments": {"text": "n"}}), 202),
    ("POST", "/mcp", SENT, notify("no/such/method"), 202),
    # the envelope against MCPRequest: 400 problems with pointers
    ("POST", "/mcp", SENT, b'{"jsonrpc": "1.0", "method": "ping", "id": 1}', 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "method": "ping", "id": 1.5}', 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "method": "ping", "id": null}', 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "method": "", "id": 1}', 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "method": "tools/list", "params": [1], "id": 1}', 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "id": 1}', 400),
    ("POST", "/mcp", SENT, b'[{"jsonrpc": "2.0", "method": "ping", "id": 1}]', 400),
    ("POST", "/mcp", SENT, b"[]", 400),
    ("POST", "/mcp", SENT, b'{"jsonrpc": "2.0", "method": ', 400),
    ("POST", "/mcp", SENT, None, 400),
    # what the gate refuses before the body is read
    ("POST", "/mcp", JSON, rpc("ping"), 401),
    ("POST", "/mcp", {"Authorization": "Bearer wrong", **JSON}, rpc("ping"), 401),
    ("POST", "/mcp", {"X-API-Key": KEY, **JSON}, rpc("ping"), 200),
    ("POST", "/mcp", {**AUTH, "Content-Type": "application/json; charset=utf-8"}, rpc("ping"), 200),
    ("POST", "/mcp", {**AUTH, "Content-Type": "text/plain"}, rpc("ping"), 415),
    ("POST", "/mcp", AUTH, rpc("ping"), 415),
    ("POST", "/mcp", SENT, rpc("tools/call", {"name": "echo", "arguments": {"text": "x" * MAX_BODY}}), 413),
    # left to Flask on both sides
    ("POST", "/mcp?x=1", SENT, rpc("ping"), 200),
    ("GET", "/mcp", AUTH, None, 405),
    ("POST", "/mcp/", SENT, rpc("ping"), 404),
]
IDS = [f"{c[0]} {c[1]} {(c[3] or b'')[:60]!r} {c[4]}" for c in CASES]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    tmp: Path = tmp_path_factory.mktemp("served")
    with bridge_process(tmp, config, "--api-key", KEY, "--max-body", str(MAX_BODY)) as running:
        yield running


@pytest.fixture(scope="module")
def flask_client() -> Iterator[FlaskClient]:
    with in_process_bridge([rich_stdio()], api_keys=(KEY,), max_body=MAX_BODY) as running:
        yield running.app.test_client()


def _without_meta(value: Any) -> Any:
    """``value`` without the ``_meta`` of results: the upstream names itself per session, and
    both sides' answers come from different children."""
    if isinstance(value, dict):
        return {k: _without_meta(v) for k, v in value.items() if k != "_meta"}
    if isinstance(value, list):
        return [_without_meta(v) for v in value]
    return value


def _comparable(status: int, content_type: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parsed: Any = _without_meta(json.loads(body)) if body and "json" in content_type else body
    lowered = {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive
    kept = {k: lowered[k] for k in ("www-authenticate", "retry-after", "allow") if k in lowered}
    # An empty body has no media type to agree on (Flask labels even that text/html).
    return {"status": status, "type": content_type if body else None, "headers": kept, "body": parsed}


def _problem_in(body: Any) -> dict[str, Any] | None:
    """The problem an answer carries: its body, or its JSON-RPC error's ``data``; None if none."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"].get("data")
    return body if isinstance(body, dict) and "type" in body and "status" in body else None


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), CASES, ids=IDS)
def test_both_paths_answer_alike_and_as_they_should(
    served: BridgeProcess,
    flask_client: FlaskClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
) -> None:
    real = requests.request(method, served.url + path, headers=headers, data=body, timeout=30)
    flask = flask_client.open(path, method=method, headers=headers, data=body)
    got = _comparable(real.status_code, real.headers.get("Content-Type", ""), dict(real.headers), real.content)
    named = _problem_in(got["body"])
    if named is not None:  # the real bridge names its request; the in-process app, without telemetry, does not
        assert named.pop("requestId") == real.headers["X-Request-Id"]
    expected = _comparable(flask.status_code, flask.content_type, dict(flask.headers), flask.data)
    assert got == expected
    assert got["status"] == status


def test_a_tool_call_answers_the_tools_result_in_a_json_rpc_response(served: BridgeProcess) -> None:
    body = rpc("tools/call", {"name": "add", "arguments": {"a": 40, "b": 2}}, id="call-7")
    answer = requests.post(served.url + "/mcp", headers=SENT, data=body, timeout=30)
    assert answer.headers["Content-Type"] == "application/json"
    reply = answer.json()
    assert (reply["jsonrpc"], reply["id"], reply["result"]["structuredContent"]) == ("2.0", "call-7", {"result": 42})
    assert set(reply) == {"jsonrpc", "id", "result"}


def test_a_notification_is_202_with_an_empty_body(served: BridgeProcess) -> None:
    answer = requests.post(served.url + "/mcp", headers=SENT, data=notify("ping"), timeout=30)
    assert (answer.status_code, answer.content, answer.headers["Content-Length"]) == (202, b"", "0")


def test_a_chunked_body_over_the_limit_is_413_and_the_bridge_keeps_serving(served: BridgeProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc": "2.0", "method": "ping", "id": 1, "params": {"pad": "'
        for _ in range(MAX_BODY // 512 + 1):
            yield b"x" * 512
        yield b'"}}'

    answer = requests.post(served.url + "/mcp", headers=SENT, data=chunks(), timeout=30)
    assert (answer.status_code, answer.headers["Content-Type"]) == (413, "application/problem+json")
    after = requests.post(served.url + "/mcp", headers=SENT, data=rpc("ping"), timeout=30)
    assert after.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_refusal_on_the_loop_is_audited_as_flask_audits_it(tmp_path: Path) -> None:
    """401 without a key: one ``request.denied`` record for ``/mcp`` from each path, field for field."""
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    served_log, flask_log = tmp_path / "served.jsonl", tmp_path / "flask.jsonl"
    headers = {**JSON, "X-Request-Id": "rpc-audit-1"}
    with bridge_process(tmp_path / "served", config, "--api-key", KEY, "--audit-log", str(served_log)) as running:
        assert requests.post(running.url + "/mcp", headers=headers, data=rpc("ping"), timeout=30).status_code == 401
        poll(lambda: served_log.exists() and served_log.read_bytes().endswith(b"\n"), 10, what="the audit record")
    with in_process_bridge([rich_stdio()], api_keys=(KEY,), audit_log=str(flask_log)) as bridge:
        assert bridge.app.test_client().post("/mcp", headers=headers, data=rpc("ping")).status_code == 401

    def records(path: Path) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in json.loads(line).items() if k not in ("time", "ts")}
            for line in path.read_text().splitlines()
        ]

    expected = records(flask_log)
    assert records(served_log) == expected
    assert [(r["action"], r["target"], r["status"], r["requestId"]) for r in expected] == [
        ("request.denied", "/mcp", 401, "rpc-audit-1")
    ]
