"""Graceful shutdown of a real ``mcp-bridge serve`` process on SIGTERM, with calls, a stream and a socket open.

What a balancer in front relies on: once signalled the bridge refuses new connections, answers
the calls it has, ends streams and sockets with a clean close, answers a call that outlasts the
grace 503 (a problem, not a bare 500), exits 0 soon after, and leaves no upstream child behind.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness import accepting, pid_alive, poll
from tests.events.sse import SseClient
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process, problem

KEY = "shutdown-key"
PROBLEMS = "https://mcp-rest-bridge.dev/problems/"
#: Seconds a bridge may take past its grace to exit: marking calls, closing the store, stopping a child.
EXIT_BOUND = 10.0
SERVERS = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio", "--name", "rich"]}}}


@contextmanager
def bridge(tmp_path: Path, grace: float) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path, SERVERS, "--api-key", KEY, "--shutdown-grace", str(grace)) as live:
        yield live


def events(live: BridgeProcess) -> SseClient:
    return SseClient(live.url, "/mcp/stream?type=tool.call.started", {"X-API-Key": KEY}, timeout=20)


def slow_call(live: BridgeProcess, seconds: float) -> requests.Response:
    return requests.post(
        f"{live.url}/servers/rich/tools/slow", json={"seconds": seconds}, headers={"X-API-Key": KEY}, timeout=60
    )


def started_calls(client: SseClient, count: int) -> None:
    """Return once ``count`` calls have started (their ``tool.call.started`` events have arrived)."""
    seen = 0
    while seen < count:
        seen += client.next(timeout=20).data["type"] == "tool.call.started"


def rest_of(client: SseClient) -> list[Any]:
    """What the stream sends until its body ends (``EOFError`` at its last chunk)."""
    messages: list[Any] = []

    def read() -> None:
        while True:
            messages.append(client.next(timeout=20).data)

    with pytest.raises(EOFError, match="the stream ended"):
        read()
    return messages


def port_of(live: BridgeProcess) -> int:
    return int(live.url.rsplit(":", 1)[1])


def stopped(live: BridgeProcess, bound: float) -> tuple[int, float]:
    """Wait for the signalled bridge to exit: its status and the seconds it took from now."""
    began = time.monotonic()
    status = live.process.popen.wait(bound)
    return status, time.monotonic() - began


def test_sigterm_lets_calls_in_flight_finish_refuses_new_connections_and_closes_streams_cleanly(
    tmp_path: Path,
) -> None:
    with (
        bridge(tmp_path, grace=15) as live,
        ThreadPoolExecutor(2) as pool,
        events(live) as stream,
        connect(live.url.replace("http", "ws", 1) + "/ws", additional_headers={"X-API-Key": KEY}) as ws,
    ):
        ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 7,
                    "method": "tools/call",
                    "params": {"name": "rich.slow", "arguments": {"seconds": 2.5}},
                }
            )
        )
        rest: Future[requests.Response] = pool.submit(slow_call, live, 3.0)
        started_calls(stream, 2)
        children = live.process.children()
        assert children, "the rich server runs as the bridge's child"
        signalled = time.monotonic()
        live.process.popen.send_signal(signal.SIGTERM)

        poll(lambda: not accepting(port_of(live)), 5, what="new connections refused")
        assert live.process.alive(), "refused while the calls in flight still run"
        assert rest_of(stream) == []
        assert stream.comments[-1] == "bridge stopping"

        answer = json.loads(ws.recv(timeout=20))
        assert answer["id"] == 7
        assert answer["result"]["content"][0]["text"] == "slept 2.5"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001

        response = rest.result(timeout=20)
        assert response.status_code == 200, response.text
        assert response.json()["content"][0]["text"] == "slept 3.0"

        status, _ = stopped(live, 15 + EXIT_BOUND)
        assert status == 0, live.log()
        assert time.monotonic() - signalled < 3.0 + EXIT_BOUND  # it did not wait out its grace
        poll(lambda: not any(pid_alive(kid) for kid in children), 5, what="the upstream child gone")
        assert "Traceback" not in live.log()


def test_a_call_longer_than_the_grace_is_answered_503_and_the_bridge_exits_0_soon_after(tmp_path: Path) -> None:
    grace = 1.0
    with bridge(tmp_path, grace) as live, ThreadPoolExecutor(1) as pool, events(live) as stream:
        rest = pool.submit(slow_call, live, 60.0)
        started_calls(stream, 1)
        children = live.process.children()
        live.process.popen.send_signal(signal.SIGTERM)

        response = rest.result(timeout=grace + EXIT_BOUND)
        status, took = stopped(live, grace + EXIT_BOUND)
        assert status == 0, live.log()
        assert took < grace + EXIT_BOUND
        poll(lambda: not any(pid_alive(kid) for kid in children), 5, what="the upstream child gone")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert problem(response) == {
        "type": PROBLEMS + "call-cut-off",
        "title": "The call was cut off when the bridge stopped",
        "status": 503,
        "detail": "the bridge is stopping and the request did not finish within its 1 s shutdown grace;"
        " whether a call it made finished upstream is unknown",
        "instance": "/servers/rich/tools/slow",
    }


def test_an_mcp_clients_open_notification_stream_does_not_hold_the_shutdown_for_its_grace(tmp_path: Path) -> None:
    headers = {"X-API-Key": KEY, "Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    with bridge(tmp_path, grace=30) as live:
        answer = requests.post(f"{live.url}/mcp", json=init, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        session = {**headers, "Mcp-Session-Id": answer.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        notified = requests.post(
            f"{live.url}/mcp",
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers=session,
            timeout=10,
        )
        assert notified.status_code == 202
        with requests.get(
            f"{live.url}/mcp", headers={**session, "Accept": "text/event-stream"}, stream=True, timeout=30
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            live.process.popen.send_signal(signal.SIGTERM)
            status, took = stopped(live, 30 + EXIT_BOUND)
        assert status == 0, live.log()
        assert took < EXIT_BOUND  # not the 30 s grace: nothing was in flight
        assert "Traceback" not in live.log()


def test_a_second_sigterm_cuts_the_grace_short(tmp_path: Path) -> None:
    with bridge(tmp_path, grace=60) as live, ThreadPoolExecutor(1) as pool, events(live) as stream:
        rest = pool.submit(slow_call, live, 60.0)
        started_calls(stream, 1)
        live.process.popen.send_signal(signal.SIGTERM)
        poll(lambda: not accepting(port_of(live)), 5, what="the drain begun")
        live.process.popen.send_signal(signal.SIGTERM)
        response = rest.result(timeout=EXIT_BOUND)
        status, _ = stopped(live, EXIT_BOUND)
    assert status == 0
    assert response.status_code == 503
    assert response.json()["type"] == PROBLEMS + "call-cut-off"
    assert response.json()["detail"] == (
        "the bridge is stopping and the request did not finish before it was told again to stop;"
        " whether a call it made finished upstream is unknown"
    )
