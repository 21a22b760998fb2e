"""What each way in costs the bridge per ``tools/call``, its upstream left out: ``python -m bench.lean_route``.

The same echo call as the REST call (``POST /servers/rich/tools/echo``), a plain JSON-RPC
``POST /mcp``, and an MCP client's 2026-07-28 ``tools/call`` on ``/mcp`` (the lean path,
``bridge.endpoint.lean``), each sent many times straight into the bridge's ASGI application on
its own loop, in process, with the gateway's upstream call answered at once by a stand-in. So
what is timed is the route alone (the request-id edge, the gate, the route's own checks and
shaping, the gateway's checks, the answer's encoding), without the HTTP server, the client or
the upstream, whose noise on a shared machine hides differences of tens of microseconds. Kinds
alternate by round; the table gives each kind's median and best CPU time per request. The tree
measured is the working directory's: run this file from another checkout's directory to measure
that one (``cd DIR && python /path/to/bench/lean_route.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))

from tests.support import in_process_bridge, rich_stdio  # noqa: E402

__all__ = ["KINDS"]

_CALL = {"name": "echo", "arguments": {"text": "hello"}}
_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}
#: Each kind's path, body and headers beyond those every request has.
KINDS: dict[str, tuple[str, bytes, list[tuple[bytes, bytes]]]] = {
    "REST": ("/servers/rich/tools/echo", json.dumps({"text": "hello"}).encode(), [(b"accept", b"*/*")]),
    "plain JSON-RPC": (
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": _CALL}).encode(),
        [(b"accept", b"*/*")],
    ),
    "MCP 2026-07-28 (lean)": (
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**_CALL, "_meta": _META}}).encode(),
        [
            (b"accept", b"application/json, text/event-stream"),
            (b"mcp-protocol-version", b"2026-07-28"),
            (b"mcp-method", b"tools/call"),
            (b"mcp-name", b"echo"),
        ],
    ),
}
_ANSWER = {"content": [{"type": "text", "text": "hello"}], "isError": False}


async def _request(app: Any, kind: str) -> list[dict[str, Any]]:
    path, body, extra = KINDS[kind]
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), *extra]
    headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "http_version": "1.1",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []
    read = False
    pending = asyncio.get_running_loop().create_future()  # the client never leaves

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not read:
            read = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await asyncio.shield(pending)  # type: ignore[no-any-return]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def _measure(app: Any, requests: int, rounds: int) -> dict[str, list[float]]:
    for kind in KINDS:  # each answers, and as it should
        sent = await _request(app, kind)
        if sent[0]["status"] != 200 or b"hello" not in sent[-1]["body"]:
            raise RuntimeError(f"{kind}: {sent}")
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_ in range(rounds):
        for kind in KINDS if round_ % 2 == 0 else reversed(KINDS):
            started = time.thread_time()
            for _ in range(requests):
                await _request(app, kind)
            times[kind].append((time.thread_time() - started) / requests * 1e6)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per kind per round")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with in_process_bridge([rich_stdio()]) as bridge:
        app = bridge.asgi_app()

        async def answered(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
            return dict(_ANSWER)

        bridge.gateway.upstreams.call_tool = answered  # type: ignore[method-assign]
        times = bridge.pool.run(_measure(app, args.requests, args.rounds), 3600)
    print(f"tree {ROOT}: CPU µs per request, route only ({args.rounds} rounds of {args.requests})")
    for kind, values in times.items():
        print(f"  {kind:24} median {statistics.median(values):6.1f}   best {min(values):6.1f}")


if __name__ == "__main__":
    main()
