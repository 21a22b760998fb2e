"""What a request's shape costs the upstream, counted by callgrind: ``python -m bench.upstream_shapes``.

Through the gateway an upstream spends more CPU a call than through a bare forwarder, and part of
that is what the gateway sends: its request is not the client's. This counts the instructions the
rich test server (the MCP SDK's server over Streamable HTTP, under ``valgrind --tool=callgrind``
with counting off until asked) executes for one 2026-07-28 ``tools/call echo``, in each shape:

- ``client``: as the official SDK client sends it (an integer id, no capabilities);
- ``capabilities``: declaring sampling and elicitation, as the gateway does for every call;
- ``meta-context``: with a ``traceparent`` and ``mcp-rest-bridge/requestId`` in ``_meta``;
- ``header-context``: with the same two as header fields (``traceparent``, ``X-Request-Id``);
- ``two-fields``: with two made-up header fields instead (what any two fields cost);
- ``gateway``: all of the above but the made-up fields, and the gateway's own request id.

One connection, kept alive, sends one call at a time: per shape ``--warm`` calls, then counting
on, ``--calls`` calls, counting off and the count dumped; ``--rounds`` rounds, the least kept
(what the server's own caches and timers add is never less). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.instructions import START_TIMEOUT, count_requests  # noqa: E402
from bench.targets import RICH  # noqa: E402
from harness import accepting, free_port, started  # noqa: E402

__all__ = ["SHAPES", "request"]

MODERN = "2026-07-28"
TRACE = "ce18a05d6cf56ff74d823c809b6ca61c"
TRACEPARENT = f"00-{TRACE}-27f46742772b3f85-00"
DECLARED = {"sampling": {}, "elicitation": {"form": {}, "url": {}}}
#: Each shape: the request id, the capabilities declared, the context in ``_meta``, the extra header fields.
SHAPES: dict[str, tuple[str | int, dict[str, Any], bool, tuple[tuple[str, str], ...]]] = {
    "client": (4, {}, False, ()),
    "capabilities": (4, DECLARED, False, ()),
    "meta-context": (4, {}, True, ()),
    "header-context": (4, {}, False, (("traceparent", TRACEPARENT), ("x-request-id", TRACE))),
    "two-fields": (4, {}, False, (("x-made-up-a", TRACEPARENT), ("x-made-up-b", TRACE))),
    "gateway": ("lean-3", DECLARED, True, (("traceparent", TRACEPARENT), ("x-request-id", TRACE))),
}


def request(port: int, shape: str) -> bytes:
    """The whole request (head and body) of ``shape``, its fields in the order the gateway writes them."""
    rid, declared, context, fields = SHAPES[shape]
    meta: dict[str, Any] = {"traceparent": TRACEPARENT, "mcp-rest-bridge/requestId": TRACE} if context else {}
    meta["io.modelcontextprotocol/protocolVersion"] = MODERN
    meta["io.modelcontextprotocol/clientInfo"] = {"name": "bench", "version": "1"}
    meta["io.modelcontextprotocol/clientCapabilities"] = declared
    params = {"name": "echo", "arguments": {"text": "hello"}, "_meta": meta}
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}).encode()
    head = [
        "POST /mcp HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "connection: keep-alive",
        "accept: application/json, text/event-stream",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in fields),
        f"mcp-protocol-version: {MODERN}",
        "mcp-method: tools/call",
        "mcp-name: echo",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _count(pid: int, port: int, shape: str, warm: int, calls: int, dumps: Path) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock, sock.makefile("rb") as reader:
        return count_requests(pid, sock, reader, request(port, shape), shape, warm, calls, dumps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=20, help="calls before counting, per shape and round")
    parser.add_argument("--calls", type=int, default=100, help="calls counted per shape and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every shape; the least count is kept")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    counted: dict[str, list[float]] = {shape: [] for shape in SHAPES}
    with tempfile.TemporaryDirectory(prefix="bench-upstream-shapes-") as tmp:
        work, port = Path(tmp), free_port()
        dumps = work / "callgrind.out"
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dumps}"]
        argv += [sys.executable, str(RICH), "http", "--port", str(port)]
        with started("rich (http, callgrind)", argv, cwd=ROOT, log=work / "rich.log") as proc:
            proc.wait_until(lambda: accepting(port), START_TIMEOUT, "accepting connections")
            pid = proc.pid
            assert pid is not None
            for round_ in range(args.rounds):
                for shape in SHAPES:
                    counted[shape].append(_count(pid, port, shape, args.warm, args.calls, dumps))
                done = ", ".join(f"{shape} {numbers[-1]:,.0f}" for shape, numbers in counted.items())
                print(f"  round {round_ + 1}: {done}", flush=True)
    least = {shape: min(numbers) for shape, numbers in counted.items()}
    print(f"\nThe upstream's instructions per call, the least of {args.rounds} rounds of {args.calls} calls:\n")
    print("| shape | instructions per call | ÷ client |")
    print("| --- | --- | --- |")
    for shape, number in least.items():
        print(f"| {shape} | {number:,.0f} | {number / least['client']:.3f} |")


if __name__ == "__main__":
    main()
