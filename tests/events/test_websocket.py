"""``/ws`` against a real bridge process and real MCP servers, from the ``websockets`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from harness import poll
from tests.events.conftest import ADMIN, KEYS, USER, call, servers
from tests.support import BridgeProcess, bridge_process

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def ws_url(bridge: BridgeProcess, query: str = "") -> str:
    return bridge.url.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


@contextmanager
def socket(
    bridge: BridgeProcess, key: str | None = USER, query: str = "", **options: Any
) -> Iterator[ClientConnection]:
    headers = {"X-API-Key": key} if key else {}
    with connect(ws_url(bridge, query), additional_headers=headers, open_timeout=10, **options) as ws:
        yield ws


def send(ws: ClientConnection, method: str, params: Any = None, request_id: Any = None) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if request_id is not None:
        message["id"] = request_id
    ws.send(json.dumps(message))


def receive(ws: ClientConnection, timeout: float = 10) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def answer_to(ws: ClientConnection, request_id: Any, timeout: float = 10) -> Any:
    """The answer to ``request_id``, skipping notifications."""
    while True:
        message = receive(ws, timeout)
        if message.get("id") == request_id and "method" not in message:
            return message


def tool(ws: ClientConnection, request_id: Any, name: str, arguments: dict[str, Any], **params: Any) -> None:
    send(ws, "tools/call", {"name": f"events.{name}", "arguments": arguments, **params}, request_id)


def test_eight_calls_in_flight_are_answered_as_each_completes(live: BridgeProcess) -> None:
    with socket(live) as ws:
        started = time.monotonic()
        for i in range(8):  # the first sent is the slowest
            tool(ws, i, "sleep_ms", {"ms": 100 + (7 - i) * 60, "label": f"call {i}"})
        answers = [receive(ws) for _ in range(8)]
        elapsed = time.monotonic() - started
    assert [a["id"] for a in answers] == [7, 6, 5, 4, 3, 2, 1, 0]
    assert [a["result"]["structuredContent"]["result"] for a in answers] == [f"call {i}" for i in range(7, -1, -1)]
    assert elapsed < 0.52 + 1.0  # one after another would take 4.5 s


def test_cancelled_reaches_the_upstream_and_gets_no_answer(live: BridgeProcess, witness: Path) -> None:
    with socket(live) as ws:
        tool(ws, "held", "hold", {"tag": "ws-cancel"})
        tool(ws, "quick", "echo", {"text": "x"})
        assert answer_to(ws, "quick")["result"]["isError"] is False  # the held call is in flight by now
        time.sleep(0.2)  # let the held call reach the upstream before it is cancelled
        send(ws, "notifications/cancelled", {"requestId": "held", "reason": "changed my mind"})
        poll(lambda: (witness / "cancelled-ws-cancel").exists(), 10, what="the upstream's cancellation witness")
        send(ws, "ping", {}, "after")
        assert receive(ws) == {"jsonrpc": "2.0", "id": "after", "result": {}}  # nothing for "held" came first


def test_progress_reaches_the_socket_that_asked(live: BridgeProcess) -> None:
    with socket(live) as asker, socket(live) as bystander:
        tool(asker, 1, "steps", {"count": 3}, _meta={"progressToken": "p-1"})
        messages = [receive(asker) for _ in range(4)]
        send(bystander, "ping", {}, 9)
        assert receive(bystander) == {"jsonrpc": "2.0", "id": 9, "result": {}}
    progress = [m["params"] for m in messages[:3]]
    assert [m["method"] for m in messages[:3]] == ["notifications/progress"] * 3
    assert progress == [
        {"progressToken": "p-1", "progress": float(i), "total": 3.0, "message": f"step {i}"} for i in (1, 2, 3)
    ]
    assert messages[3]["id"] == 1
    assert messages[3]["result"]["structuredContent"] == {"result": 3}


def test_the_methods_of_post_mcp_answer_on_the_socket(live: BridgeProcess) -> None:
    with socket(live) as ws:
        send(ws, "tools/list", {}, "list")
        names = {t["name"] for t in answer_to(ws, "list")["result"]["tools"]}
        send(ws, "prompts/get", {"name": "nope.nothing"}, "bad")
        error = answer_to(ws, "bad")["error"]
    assert {"events.sleep_ms", "events.hold", "demo.process_data"} <= names
    assert error["data"]["status"] == 404


def test_past_the_limit_of_calls_in_flight_a_request_is_refused_not_queued(live: BridgeProcess, witness: Path) -> None:
    with socket(live) as ws:
        for i in range(64):
            tool(ws, i, "hold", {"tag": f"limit-{i}"})
        time.sleep(0.3)
        tool(ws, "one-too-many", "echo", {"text": "x"})
        refused = answer_to(ws, "one-too-many")
        assert refused["error"]["code"] == -32003
        assert refused["error"]["message"].startswith("64 calls are in flight on this socket")
        assert refused["error"]["data"]["type"] == "https://mcp-rest-bridge.dev/problems/too-many-calls"
        assert refused["error"]["data"]["status"] == 429
        send(ws, "notifications/cancelled", {"requestId": 0})
        poll(lambda: (witness / "cancelled-limit-0").exists(), 10, what="the first hold cancelled")
        tool(ws, "room-again", "echo", {"text": "y"})
        assert answer_to(ws, "room-again")["result"]["isError"] is False


def test_a_frame_that_is_not_json_gets_a_parse_error_and_the_socket_stays_open(live: BridgeProcess) -> None:
    with socket(live) as ws:
        ws.send("{not json")
        error = receive(ws)
        ws.send(b"\x00\x01binary")
        binary = receive(ws)
        ws.send(json.dumps({"id": 3, "method": "ping"}))  # no "jsonrpc": "2.0"
        invalid = receive(ws)
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 5, "method": 7}))
        no_method = receive(ws)
        send(ws, "ping", {}, 4)
        assert receive(ws) == {"jsonrpc": "2.0", "id": 4, "result": {}}
    problems = "https://mcp-rest-bridge.dev/problems/"
    assert (error["id"], error["error"]["code"]) == (None, -32700)
    assert error["error"]["data"]["type"] == problems + "parse-error"
    assert error["error"]["data"]["errors"][0]["pointer"] == ""
    assert (binary["id"], binary["error"]["code"]) == (None, -32600)
    assert binary["error"]["message"] == "binary frames are not accepted: send JSON-RPC as text frames"
    assert binary["error"]["data"]["type"] == problems + "not-json-rpc"
    assert (invalid["id"], invalid["error"]["code"]) == (3, -32600)
    assert invalid["error"]["data"]["errors"] == [{"pointer": "/jsonrpc", "message": 'must be "2.0"'}]
    assert (no_method["id"], no_method["error"]["code"]) == (5, -32600)
    assert no_method["error"]["data"]["errors"][0]["pointer"] == "/method"


def test_a_frame_over_the_size_limit_closes_the_socket_with_1009(live: BridgeProcess) -> None:
    with socket(live, max_size=None) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 11_000_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def refusal(bridge: BridgeProcess, key: str | None = USER, query: str = "", **options: Any) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as refused, socket(bridge, key, query, **options):
        pass
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"null")


def test_the_handshake_is_refused_401_without_a_key_and_403_from_another_origin(live: BridgeProcess) -> None:
    status, problem = refusal(live, key=None)
    assert status == 401
    assert problem["type"] == PROBLEMS + "unauthorized"
    assert problem["instance"] == "/ws"
    status, problem = refusal(live, origin="http://evil.example")
    assert status == 403
    assert problem["detail"].startswith("pages from the origin 'http://evil.example' may not")
    own = live.url
    with socket(live, origin=own) as ws:
        send(ws, "ping", {}, 1)
        assert receive(ws)["result"] == {}


def test_a_browser_offers_its_key_as_a_subprotocol_and_the_bridge_selects_the_plain_one(live: BridgeProcess) -> None:
    with socket(live, key=None, subprotocols=["mcp-bridge", f"mcp-bridge.key.{USER}"]) as ws:
        assert ws.subprotocol == "mcp-bridge"
        send(ws, "ping", {}, 1)
        assert receive(ws)["result"] == {}
    status, _ = refusal(live, key=None, subprotocols=["mcp-bridge", "mcp-bridge.key.wrong"])
    assert status == 401


def test_a_ticket_opens_one_socket_once(live: BridgeProcess) -> None:
    issued = requests.post(f"{live.url}/mcp/stream/tickets", headers={"X-API-Key": USER}, timeout=10).json()["ticket"]
    with socket(live, key=None, query=f"ticket={issued}") as ws:
        send(ws, "ping", {}, 1)
        assert receive(ws)["result"] == {}
    status, problem = refusal(live, key=None, query=f"ticket={issued}")
    assert status == 401
    assert "used already or expired" in problem["detail"]


def test_a_subscription_pushes_events_as_notifications_until_unsubscribed(live: BridgeProcess) -> None:
    with socket(live, key=ADMIN) as ws:
        send(ws, "events/subscribe", {"types": ["tool_executed"], "servers": ["events"], "payload": True}, "s")
        name = answer_to(ws, "s")["result"]["subscription"]
        call(live, "echo", {"text": "seen"})
        event = receive(ws)
        send(ws, "events/unsubscribe", {"subscription": name}, "u")
        assert answer_to(ws, "u")["result"] == {}
        call(live, "echo", {"text": "not seen"})
        send(ws, "ping", {}, "p")
        assert receive(ws) == {"jsonrpc": "2.0", "id": "p", "result": {}}
    assert event["method"] == "notifications/event"
    params = event["params"]
    assert params["subscription"] == name
    assert (params["type"], params["event"], params["tool"]) == ("tool.call.finished", "tool_executed", "echo")
    assert params["params"] == {"text": "seen"}  # an admin sees every call's payload


def test_a_subscription_resumes_after_last_event_id(live: BridgeProcess) -> None:
    with socket(live) as ws:
        send(ws, "events/subscribe", {"types": "tool.call.finished"}, 1)
        answer_to(ws, 1)
        call(live, "echo", {"text": "a"})
        call(live, "echo", {"text": "b"})
        first, second = receive(ws)["params"], receive(ws)["params"]
    with socket(live) as ws:
        send(ws, "events/subscribe", {"types": ["tool.call.finished"], "lastEventId": first["id"]}, 1)
        answer_to(ws, 1)
        assert receive(ws)["params"]["id"] == second["id"]


def test_a_bad_subscription_is_an_invalid_params_error_with_pointers(live: BridgeProcess) -> None:
    with socket(live) as ws:
        send(ws, "events/subscribe", {"types": ["tool.call", "bogus"]}, 1)
        bad_type = answer_to(ws, 1)["error"]
        send(ws, "events/subscribe", {"payload": "yes"}, 2)
        bad_payload = answer_to(ws, 2)["error"]
        send(ws, "events/unsubscribe", {"subscription": "sub-99"}, 3)
        unknown = answer_to(ws, 3)["error"]
    assert bad_type["code"] == -32602
    assert [e["pointer"] for e in bad_type["data"]["errors"]] == ["/params/types/1"]
    assert bad_payload["data"]["errors"] == [{"pointer": "/params/payload", "message": "expected a boolean"}]
    assert unknown["data"]["errors"] == [{"pointer": "/params/subscription", "message": "unknown"}]


def test_a_ticket_never_reaches_the_log_even_at_debug_level(tmp_path: Path, witness: Path) -> None:
    with bridge_process(tmp_path, servers(witness), *KEYS, "--log-level", "debug") as bridge:
        issued = requests.post(f"{bridge.url}/mcp/stream/tickets", headers={"X-API-Key": USER}, timeout=10)
        ticket = issued.json()["ticket"]
        with socket(bridge, key=None, query=f"ticket={ticket}") as ws:
            send(ws, "ping", {}, 1)
            assert receive(ws)["result"] == {}
        poll(lambda: '"WebSocket /ws" [accepted]' in bridge.log(), 10, what="uvicorn's debug line for the socket")
        assert ticket not in bridge.log()
