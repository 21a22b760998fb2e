"""What serving an MCP client's ``POST /mcp`` from the HTTP protocol saves: ``python bench/lean_post.py``.

A bridge runs in this process (as ``mcp-bridge serve`` builds it: telemetry on, an API key) in
front of the rich test server's ``echo`` over stdio, behind a real uvicorn server on a loopback
port, once with the protocol's path for lean POSTs (``bridge.endpoint.lean_post``) and once
without it (every POST through uvicorn's cycle and the ASGI application), in alternating rounds.
One client connection, kept alive, sends a 2026-07-28 ``tools/call`` at a time. For each round:
Python function calls per call on the bridge's loop thread (``sys.setprofile``, a count that
does not depend on the machine's load), and that thread's CPU per call (``time.thread_time``:
the bridge's own work, the stdio upstream's pipe included, the client's not). Everything stops
by itself.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402

from bridge.config import BridgeSettings, ServerConfig  # noqa: E402
from bridge.runtime import Bridge  # noqa: E402
from harness import free_port, poll  # noqa: E402
from tests.servers.launch import RICH_SERVER  # noqa: E402

T = TypeVar("T")
KEY = "bench-key"
MODERN = "2026-07-28"


def _request(port: int) -> bytes:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    params = {"name": "rich.echo", "arguments": {"text": "hi"}, "_meta": meta}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode()
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
        f"MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: rich.echo\r\nX-API-Key: {KEY}\r\n\r\n"
    )
    return head.encode() + body


def _answered(reader: Any) -> None:
    """Read one answer (``Content-Length`` framed, as the lean path's JSON answers are)."""
    status = reader.readline()
    length = 0
    while (line := reader.readline()) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = reader.read(length)
    if b" 200 " not in status or b'"isError":false' not in body:
        raise RuntimeError(f"unexpected answer: {status!r} {body[:200]!r}")


def _round(protocol_path: bool, calls: int) -> tuple[float, float]:
    """(Python calls per call, loop-thread CPU µs per call) of one bridge, made and stopped here."""
    rich = ServerConfig(name="rich", transport="stdio", command=sys.executable, args=(str(RICH_SERVER), "stdio"))
    bridge = Bridge.create(BridgeSettings(api_keys=(KEY,)), [rich])
    try:
        app = bridge.asgi_app()
        if not protocol_path:
            bridge.lean_posts = None
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", http=bridge.http_protocol())
        server = uvicorn.Server(config)
        running = bridge.pool.run_forever(server.serve())
        try:
            poll(lambda: server.started, 15, what="the bridge serving")
            return _measure(bridge, port, calls)
        finally:
            server.should_exit = True
            running.result(30)
    finally:
        bridge.close()


def _measure(bridge: Bridge, port: int, calls: int) -> tuple[float, float]:
    def on_loop(work: Callable[[], T]) -> T:
        done = threading.Event()
        out: list[T] = []

        def run() -> None:
            out.append(work())
            done.set()

        bridge.pool.call_soon(run)
        done.wait(10)
        return out[0]

    request = _request(port)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, sock.makefile("rb") as reader:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def call(n: int) -> None:
            for _ in range(n):
                sock.sendall(request)
                _answered(reader)

        poll(lambda: bridge.pool.status("rich").state == "ready", 30, what="the upstream ready")
        call(200)  # warm: the catalog, the lean channel, caches
        counted = [0]

        def count(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                counted[0] += 1

        on_loop(lambda: sys.setprofile(count))
        call(200)
        on_loop(lambda: sys.setprofile(None))
        started = on_loop(time.thread_time)
        call(calls)
        cpu = on_loop(time.thread_time) - started
    return counted[0] / 200, cpu / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, alternating")
    parser.add_argument("--calls", type=int, default=2000, help="calls timed per round")
    args = parser.parse_args()
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for n in range(args.rounds):
        for path in (False, True) if n % 2 == 0 else (True, False):
            results[path].append(_round(path, args.calls))
            python_calls, cpu = results[path][-1]
            label = "protocol path" if path else "ASGI cycle"
            print(
                f"  round {n + 1}: {label:13} {python_calls:6.0f} Python calls/call  {cpu:6.0f} µs CPU/call", flush=True
            )
    print("\n| POST /mcp served | Python calls per call | loop-thread CPU µs per call (median) |")
    print("| --- | ---: | ---: |")
    for path, label in ((False, "through uvicorn's cycle and the ASGI app"), (True, "from the HTTP protocol")):
        python_calls = statistics.median(r[0] for r in results[path])
        cpu = statistics.median(r[1] for r in results[path])
        print(f"| {label} | {python_calls:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
