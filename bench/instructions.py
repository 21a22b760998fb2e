"""Instructions the bridge executes per call, counted by callgrind: ``python -m bench.instructions``.

Timings on a shared two-core virtual machine move by a third between runs; the number of
instructions a process executes for the same work does not (valgrind counts them, whatever else
the machine is doing). So this is the A/B for a change to a hot path: the same calls, the same
bridge, the count per call, before and after.

``mcp-bridge serve`` runs under ``valgrind --tool=callgrind`` with counting off (a minute to
start), in front of the rich test server's ``echo`` (``--upstream stdio`` or ``http``; the server
is not counted, valgrind does not follow it; ``--handshake 2025`` has the bridge speak
2025-11-25 to it). One client connection, kept alive, sends one call at a time for each route:

- ``mcp``: an MCP client's 2026-07-28 ``tools/call`` on ``/mcp`` (the lean path);
- ``mcp-2025``: the same in a 2025-11-25 session (``initialize`` first, not counted);
- ``rest``: ``POST /servers/rich/tools/echo``;
- ``jsonrpc``: a plain JSON-RPC ``tools/call`` on ``/mcp``, as the guide's REST client sends it;
- ``sdk`` and ``sdk-2025``: the official SDK client (``mcp.Client``, 2026-07-28 or 2025-11-25)
  with ``--concurrency`` calls in flight, as ``bench.mcp_clients`` drives the gateway.

The four raw routes send one call at a time on one connection. Per route: ``--warm`` calls,
then counting on (``callgrind_control``), ``--calls`` calls, counting off and the count dumped.
What is counted is every user-space instruction of the bridge's process while those calls ran
(the kernel's work on its system calls not; the loop's idle turns included: about 0.7 million
instructions a second, some 2% of a call under valgrind's pace).
With ``--baseline DIR`` the bridge of another tree is counted too, in the same run; ``--keep DIR``
keeps callgrind's dumps for ``callgrind_annotate``.
Everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.targets import HANDSHAKES, Upstream, running_bridge, running_http_upstream  # noqa: E402

__all__ = ["ROUTES", "START_TIMEOUT", "count_calls", "count_requests"]

ROUTES = ("mcp", "mcp-2025", "rest", "jsonrpc", "sdk", "sdk-2025")
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
#: valgrind starts a Python process about fifty times slower than it runs.
START_TIMEOUT = 600.0
_TOTALS = re.compile(rb"^totals:\s+(\d+)", re.MULTILINE)


def _post(port: int, path: str, body: Any, headers: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{fields}"
    return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data


def _answer(reader: BinaryIO) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 response: status line, headers (lowercase names), body (by length or chunks)."""
    status = reader.readline()
    headers: dict[bytes, bytes] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, headers, reader.read(int(headers[b"content-length"]))
    body = bytearray()
    while size := int(reader.readline().split(b";")[0], 16):
        body += reader.read(size)
        reader.readline()
    reader.readline()
    return status, headers, bytes(body)


def _mcp_headers(version: str, session: str | None = None) -> dict[str, str]:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version}
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return headers


def _call(port: int, route: str, session: str | None) -> bytes:
    """The request a route's measured calls send."""
    arguments = {"text": "hello"}
    if route == "rest":
        return _post(port, "/servers/rich/tools/echo", arguments, {})
    params: dict[str, Any] = {"name": "echo", "arguments": arguments}
    message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    if route == "jsonrpc":
        return _post(port, "/mcp", message, {})
    if route == "mcp-2025":
        return _post(port, "/mcp", message, _mcp_headers(LEGACY, session))
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    params["_meta"] = meta
    headers = {**_mcp_headers(MODERN), "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
    return _post(port, "/mcp", message, headers)


def _opened(port: int, sock: socket.socket, reader: BinaryIO) -> str:
    """A 2025-11-25 session opened on this connection, as an SDK client opens it: its id."""
    info = {"name": "bench", "version": "1"}
    params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": info}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    sock.sendall(_post(port, "/mcp", hello, _mcp_headers(LEGACY)))
    status, headers, _ = _answer(reader)
    session = headers.get(b"mcp-session-id")
    if b" 200 " not in status or session is None:
        raise RuntimeError(f"initialize answered {status!r}")
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    sock.sendall(_post(port, "/mcp", done, _mcp_headers(LEGACY, session.decode())))
    _answer(reader)
    return session.decode()


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def _counted_since(before: set[Path], dumps: Path) -> int:
    (dumped,) = set(dumps.parent.glob(dumps.name + "*")) - before
    found = _TOTALS.search(dumped.read_bytes())
    if found is None:
        raise RuntimeError(f"no totals in {dumped}")
    return int(found.group(1))


async def _sdk_calls(pid: int, port: int, legacy: bool, concurrency: int, warm: int, calls: int, dumps: Path) -> float:
    """Instructions per call of the official SDK client's ``tools/call``, ``concurrency`` in flight."""
    from mcp import Client

    async def call(client: Client, n: int) -> None:
        for _ in range(n):
            result = await client.call_tool("echo", {"text": "hello"})
            if result.is_error or "hello" not in str(result.content):
                raise RuntimeError(f"echo answered {str(result.content)[:300]}")

    async def spread(client: Client, n: int) -> None:
        await asyncio.gather(*(call(client, n // concurrency) for _ in range(concurrency)))

    async with Client(f"http://127.0.0.1:{port}/mcp", cache=None, mode="legacy" if legacy else "auto") as client:
        await spread(client, warm)
        before = set(dumps.parent.glob(dumps.name + "*"))
        _control(pid, "--zero")
        _control(pid, "--instr=on")
        await spread(client, calls)
        _control(pid, "--instr=off")
        _control(pid, "--dump=sdk")
        return _counted_since(before, dumps) / (calls // concurrency * concurrency)


def count_calls(pid: int, port: int, route: str, warm: int, calls: int, dumps: Path, concurrency: int = 8) -> float:
    """Instructions per call of ``route`` on the bridge ``pid`` serving ``port``."""
    if route.startswith("sdk"):
        return asyncio.run(_sdk_calls(pid, port, route == "sdk-2025", concurrency, warm, calls, dumps))
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock, sock.makefile("rb") as reader:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = _opened(port, sock, reader) if route == "mcp-2025" else None
        return count_requests(pid, sock, reader, _call(port, route, session), route, warm, calls, dumps)


def count_requests(
    pid: int, sock: socket.socket, reader: BinaryIO, request: bytes, name: str, warm: int, calls: int, dumps: Path
) -> float:
    """Instructions per request of process ``pid`` for ``request`` sent on ``sock`` one at a time,
    each to be answered 200 with the echo's ``hello``: ``warm`` first, then ``calls`` counted
    (callgrind's dump named ``name``)."""

    def call(n: int) -> None:
        for _ in range(n):
            sock.sendall(request)
            status, _, body = _answer(reader)
            if b" 200 " not in status or b"hello" not in body:
                raise RuntimeError(f"{name}: {status!r} {body[:300]!r}")

    call(warm)
    before = set(dumps.parent.glob(dumps.name + "*"))
    _control(pid, "--zero")
    _control(pid, "--instr=on")
    call(calls)
    _control(pid, "--instr=off")
    _control(pid, f"--dump={name}")
    return _counted_since(before, dumps) / calls


@contextlib.contextmanager
def _upstream(kind: str, handshake: str, work: Path) -> Iterator[Upstream]:
    if kind == "stdio":
        yield Upstream.rich_stdio().with_handshake(handshake)
    else:
        with running_http_upstream(work) as http:
            yield http.with_handshake(handshake)


def _counted(
    root: Path, upstream: Upstream, work: Path, routes: list[str], warm: int, calls: int, concurrency: int
) -> dict[str, float]:
    dumps = work / f"callgrind-{len(list(work.iterdir()))}.out"
    wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dumps}"]
    with running_bridge([upstream], work, root=root, wrapper=wrapper, start_timeout=START_TIMEOUT) as bridge:
        pid = bridge.proc.pid
        assert pid is not None
        return {route: count_calls(pid, bridge.port, route, warm, calls, dumps, concurrency) for route in routes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--upstream", choices=("stdio", "http"), default="stdio")
    parser.add_argument(
        "--handshake", choices=list(HANDSHAKES), default="newest", help="what the bridge speaks to its upstream"
    )
    parser.add_argument("--warm", type=int, default=100, help="calls before counting, per route")
    parser.add_argument("--calls", type=int, default=200, help="calls counted per route")
    parser.add_argument("--concurrency", type=int, default=8, help="the SDK routes' calls in flight")
    parser.add_argument("--baseline", type=Path, help="another source tree, counted in the same run")
    parser.add_argument(
        "--keep", type=Path, help="copy callgrind's dumps here (one per route and tree) for callgrind_annotate"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    trees: dict[str, Path] = {"this tree": ROOT}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    counted: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        work = Path(tmp)
        with _upstream(args.upstream, args.handshake, work) as upstream:
            for name, root in trees.items():
                counted[name] = _counted(root, upstream, work, args.routes, args.warm, args.calls, args.concurrency)
                print(f"  {name}: " + ", ".join(f"{r} {n:,.0f}" for r, n in counted[name].items()), flush=True)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for dumped in work.glob("callgrind-*.out*"):
                shutil.copy2(dumped, args.keep / dumped.name)
    print(f"\nInstructions per call, {args.upstream} upstream ({args.handshake}), {args.calls} calls per route:\n")
    names = list(trees)
    ratio: Callable[[str], list[str]] = lambda route: (  # noqa: E731
        [f"{counted['this tree'][route] / counted['baseline'][route]:.3f}"] if len(names) == 2 else []
    )
    print("| route | " + " | ".join(names) + (" | this ÷ baseline |" if len(names) == 2 else " |"))
    print("| --- " * (len(names) + 1 + (len(names) == 2)) + "|")
    for route in args.routes:
        cells = [f"{counted[name][route]:,.0f}" for name in names] + ratio(route)
        print(f"| {route} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
