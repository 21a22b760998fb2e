"""The rich server alone over a bare pipe: what its CPU per call depends on besides the calls.

``python bench/pipe.py [--calls 5000] [--rounds 3] [--window 8]`` starts the rich test server
over stdio, sends it 2026-07-28 ``tools/call`` requests for ``echo`` (the same bytes the bridge
sends) with ``window`` calls in flight, and reads its CPU time from ``/proc`` around the
measured calls. Three ways, in interleaved rounds, each on a fresh server:

- **free**: the scheduler may put the server's threads on any CPU;
- **busy other core**: the same, while a busy loop (a child of this script, stopped by its PID)
  runs on the other CPUs, as a CPU-bound proxy in front of the server would;
- **pinned**: the server held to one CPU from its start (the bench's exec trampoline, which sets
  the mask the bridge's ``"cpus"`` setting gives).

No proxy and no HTTP: the driver is a few lines of asyncio on raw pipes. Linux, 2 CPUs or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

from bench.procs import cpu_seconds
from bench.targets import Upstream, pin_cpu

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {"sampling": {}, "elicitation": {"form": {}, "url": {}}},
}
WARMUP_CALLS = 200
MODES = ("free", "busy other core", "pinned")
#: A busy loop that ends by itself if this script dies without stopping it.
HOG = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def request(call_id: int) -> bytes:
    params = {"name": "echo", "arguments": {"text": "hello"}, "_meta": META}
    message = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": params}
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


@contextlib.contextmanager
def busy_elsewhere(mode: str, cpu: int) -> Iterator[None]:
    if mode != "busy other core":
        yield
        return
    others = os.sched_getaffinity(0) - {cpu}
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    os.sched_setaffinity(hog.pid, others)
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


async def one_run(mode: str, calls: int, window: int, cpu: int) -> tuple[float, float]:
    """Calls per second and the server's CPU ms per call."""
    command = Upstream.rich_stdio(cpus=(cpu,) if mode == "pinned" else None).spawn_command()
    server = await asyncio.create_subprocess_exec(*command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**24)
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        for n in range(WARMUP_CALLS):
            server.stdin.write(request(-1 - n))
            await server.stdin.drain()
            await server.stdout.readline()
        with busy_elsewhere(mode, cpu):
            before, began = cpu_seconds(server.pid), time.perf_counter()
            server.stdin.write(b"".join(request(n) for n in range(window)))
            sent = window
            for _ in range(calls):
                await server.stdout.readline()
                if sent < calls:
                    server.stdin.write(request(sent))
                    sent += 1
            elapsed, used = time.perf_counter() - began, cpu_seconds(server.pid) - before
        return calls / elapsed, used / calls * 1000
    finally:
        server.stdin.close()
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            server.kill()
            await server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=8, help="calls in flight")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs at least 2 CPUs")
    cpu = pin_cpu()
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES:
            rate, cpu_ms = await one_run(mode, args.calls, args.window, cpu)
            runs[mode].append((rate, cpu_ms))
            print(f"round {round_ + 1}: {mode:16} {rate:6.0f} calls/s  {cpu_ms:.3f} ms CPU/call", file=sys.stderr)
    print(f"| rich server ({args.window} calls in flight) | calls/s | its CPU ms/call |")
    print("| --- | ---: | ---: |")
    for mode, values in runs.items():
        rates, cpus = [r for r, _ in values], [c for _, c in values]
        print(
            f"| {mode} | {statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f})"
            f" | {statistics.median(cpus):.2f} ({min(cpus):.2f}–{max(cpus):.2f}) |"
        )


if __name__ == "__main__":
    asyncio.run(main())
