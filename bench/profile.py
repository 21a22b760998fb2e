"""Where the bridge's CPU goes under load: ``python bench/profile.py [--bridge-root DIR]``.

Starts ``mcp-bridge serve`` in front of the rich test server's ``echo`` tool over stdio (or, with
``--transport http``, over Streamable HTTP from an upstream process of its own), drives
it with the bench's load generator (REST, ``--jsonrpc`` plain JSON-RPC on ``/mcp``, or ``--mcp
newest|2025``: the official SDK client on ``/mcp`` through ``bench/mcp_load.py``, at that
handshake, the bridge's upstream pinned to the same), samples the bridge process with py-spy for a fixed time,
and prints the share of samples per component, inclusive (a frame anywhere on the stack). The
evidence behind each optimisation in the README comes from this script, run on the commit
before and after it (``--bridge-root`` points at another checkout, e.g. a ``git worktree``).
Everything stops by itself; the bridge is stopped by its PID.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.jsonrpc import rpc_body  # noqa: E402
from bench.mcp_load import run_load  # noqa: E402
from bench.targets import HANDSHAKES, Upstream, running_http_upstream  # noqa: E402
from harness import free_port, http_status, started  # noqa: E402

#: Components by the frames that mark them: (label, substrings of "function (file")."
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP server (uvicorn)", ("uvicorn/", "h11_impl", "httptools_impl")),
    ("WSGI adapter (a2wsgi)", ("a2wsgi/",)),
    ("Flask and Werkzeug", ("flask/", "werkzeug/")),
    ("tool-call route (bridge/endpoint/calls.py)", ("endpoint/calls.py",)),
    ("plain JSON-RPC route and dispatcher (endpoint/jsonrpc.py, gateway/jsonrpc.py)", ("/jsonrpc.py",)),
    (
        "MCP endpoint for MCP clients (bridge/endpoint/server.py, lean.py, protocol.py)",
        ("endpoint/server.py", "endpoint/lean.py", "endpoint/protocol.py"),
    ),
    ("  of it, the lean path (bridge/endpoint/lean.py)", ("endpoint/lean.py",)),
    ("bridge/mcpserver (the SDK server's handlers, sessions, relay)", ("bridge/mcpserver/",)),
    ("SDK server (mcp/server)", ("mcp/server/",)),
    ("  of it, Streamable HTTP transport and session manager", ("mcp/server/streamable_http",)),
    ("Starlette", ("starlette/",)),
    ("anyio memory object streams", ("anyio/streams/",)),
    ("request gate and validation", ("gate/", "rest/app.py", "validation.py", "schema.py")),
    ("waiting thread hop (LoopThread.run)", ("LoopThread.run (",)),
    ("SDK client (mcp/client, mcp/shared)", ("mcp/client/", "mcp/shared/")),
    ("  of it, the SDK's stdio pipe tasks", ("mcp/client/stdio.py",)),
    ("  of it, the tool-result output check (validate_tool_result)", ("jsonschema/", "validate_tool_result")),
    ("HTTP client stack (httpx2, httpcore2, h11)", ("httpx2/", "httpcore2/", "h11/")),
    ("bridge's stdio transport (bridge/upstream/stdio.py)", ("upstream/stdio.py",)),
    ("bridge's HTTP transport (bridge/upstream/http.py)", ("upstream/http.py",)),
    ("lean HTTP requests (bridge/upstream/lean_http.py)", ("upstream/lean_http.py",)),
    ("  of it, reading event streams (bridge/upstream/sse_events.py)", ("upstream/sse_events.py",)),
    ("pydantic", ("pydantic/", "pydantic_core")),
    ("asyncio event loop", ("asyncio/base_events", "asyncio/selector_events", "asyncio/events")),
)


def _sample(pid: int, seconds: float, rate: int, out: Path) -> None:
    py_spy = str(Path(sys.executable).with_name("py-spy"))  # installed in the venv with the dev extras
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate)]
    command += ["--format", "raw", "--nonblocking", "--output", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=seconds + 60)


def _shares(raw: Path) -> tuple[int, list[tuple[str, float]]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        samples = int(number)
        total += samples
        for label, marks in COMPONENTS:
            if any(mark in stack for mark in marks):
                counts[label] += samples
    return total, [(label, 100 * counts[label] / max(total, 1)) for label, _ in COMPONENTS]


def _sampled_under_sdk_clients(args: argparse.Namespace, port: int, pid: int, upstream: Upstream, raw: Path) -> Any:
    """The SDK client load generator in a thread; py-spy samples once its window has opened."""
    window = threading.Event()
    out: dict[str, Any] = {}

    def load() -> None:
        try:
            out["result"] = run_load(
                f"http://127.0.0.1:{port}/mcp",
                upstream.tool,
                dict(upstream.arguments),
                args.concurrency,
                args.seconds + 2,
                1.0,
                expect=upstream.expect,
                mode=upstream.protocol or "auto",
                processes=args.processes,
                watch=[pid],
                on_start=window.set,
            )
        finally:
            window.set()  # a failed start must not leave the sampler waiting

    loader = threading.Thread(target=load, name="mcp-load")
    loader.start()
    window.wait()
    if loader.is_alive():
        _sample(pid, args.seconds, args.rate, raw)
    loader.join()
    if "result" not in out:
        raise RuntimeError("the SDK client load failed before its window opened")
    return out["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bridge-root", type=Path, default=ROOT, help="checkout whose bridge to profile")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="how the bridge reaches echo")
    parser.add_argument("--jsonrpc", action="store_true", help="load POST /mcp with a plain JSON-RPC tools/call")
    parser.add_argument(
        "--mcp", choices=list(HANDSHAKES), help="load /mcp with the official SDK client at this handshake"
    )
    parser.add_argument("--processes", type=int, default=1, help="with --mcp: client processes sharing the calls")
    parser.add_argument("--keep", type=Path, help="copy py-spy's raw samples here, for a finer look")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mcp-profile-") as tmp, contextlib.ExitStack() as stack:
        config = Path(tmp) / "servers.json"
        # Over HTTP the upstream is a process of its own, started first and stopped by its PID.
        upstream = (
            stack.enter_context(running_http_upstream(Path(tmp))) if args.transport == "http" else Upstream.rich_stdio()
        )
        if args.mcp:  # the bridge's upstream speaks the client's generation, as in bench/mcp_clients.py
            upstream = upstream.with_handshake(args.mcp)
        config.write_text(json.dumps({"mcpServers": {"rich": upstream.claude_desktop_entry()}}))
        command = [sys.executable, "-m", "bridge.cli", "serve", "--port", str(port), "--config", str(config)]
        command += ["--log-level", "warning", "--registry", str(Path(tmp) / "registry.db")]
        bridge = stack.enter_context(started("bridge", command, cwd=args.bridge_root, log=Path(tmp) / "bridge.log"))
        bridge.wait_until(lambda: http_status(port, "GET", "/readyz") == 200, 60, "ready (/readyz 200)")
        raw = Path(tmp) / "samples.txt"
        if args.mcp:
            result = _sampled_under_sdk_clients(args, port, bridge.pid, upstream, raw)
        else:
            path, body = (
                ("/mcp", rpc_body(upstream)) if args.jsonrpc else ("/servers/rich/tools/echo", '{"text": "hello"}')
            )
            load = [sys.executable, "-m", "bench.loadgen", "--port", str(port), "--path", path]
            load += ["--body", body, "--concurrency", str(args.concurrency)]
            load += ["--seconds", str(args.seconds + 2), "--warmup", "0.5", "--watch", str(bridge.pid)]
            loader = subprocess.Popen(load, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)  # the load generator starts and warms up first: sample the steady state only
            _sample(bridge.pid, args.seconds, args.rate, raw)
            result = json.loads(loader.communicate(timeout=args.seconds + 60)[0])
        total, shares = _shares(raw)
        if args.keep is not None:
            args.keep.write_text(raw.read_text())
    cpu = 1000 * result["cpu_s"][str(bridge.pid)] / max(result["n"], 1)
    load = ", plain JSON-RPC" if args.jsonrpc else f", SDK client {result['protocol_version']}" if args.mcp else ""
    where = f"{args.bridge_root} ({args.transport}{load})"
    print(f"bridge at {where}: {result['rps']:.0f} rps at c={args.concurrency}, CPU {cpu:.2f} ms/req")
    print(f"{total} samples; share of samples with a frame of each component on the stack:")
    for label, share in shares:
        print(f"  {share:5.1f}%  {label}")


if __name__ == "__main__":
    main()
