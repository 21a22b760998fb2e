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
Besides calls/s and CPU, it reads the scheduler's counters for the server's threads
(``/proc/PID/task/*/sched``, where the kernel has them): how often per call a thread of the
server was moved to another CPU, and how often one gave up its CPU to wait.
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
from pathlib import Path

from bench.procs import cpu_seconds
from bench.targets import Upstream, pin_cpu
from bridge.upstream.connecting import CLIENT_INFO

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO.model_dump(exclude_none=True),
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


def sched_counts(pid: int) -> tuple[int, int]:
    """CPU migrations and voluntary context switches of all of ``pid``'s threads so far (0, 0 if unknown)."""
    migrations = switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "sched").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "se.nr_migrations":
                migrations += int(value)
            elif name.strip() == "nr_voluntary_switches":
                switches += int(value)
    return migrations, switches


async def one_run(mode: str, calls: int, window: int, cpu: int) -> tuple[float, ...]:
    """Calls per second, the server's CPU ms per call, its threads' CPU migrations and waits per call."""
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
            sched_before = sched_counts(server.pid)
            before, began = cpu_seconds(server.pid), time.perf_counter()
            server.stdin.write(b"".join(request(n) for n in range(window)))
            sent = window
            for _ in range(calls):
                await server.stdout.readline()
                if sent < calls:
                    server.stdin.write(request(sent))
                    sent += 1
            elapsed, used = time.perf_counter() - began, cpu_seconds(server.pid) - before
            moved, waited = (b - a for a, b in zip(sched_before, sched_counts(server.pid), strict=True))
        return calls / elapsed, used / calls * 1000, moved / calls, waited / calls
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
    runs: dict[str, list[tuple[float, ...]]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES:
            run = await one_run(mode, args.calls, args.window, cpu)
            runs[mode].append(run)
            print(f"round {round_ + 1}: {mode:16} {run[0]:6.0f} calls/s  {run[1]:.3f} ms CPU/call", file=sys.stderr)
    print(
        f"| rich server ({args.window} calls in flight) | calls/s | its CPU ms/call"
        " | its threads' CPU migrations per call | their waits per call |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for mode, values in runs.items():
        rates, cpus, moved, waited = zip(*values, strict=True)
        print(
            f"| {mode} | {statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f})"
            f" | {statistics.median(cpus):.2f} ({min(cpus):.2f}–{max(cpus):.2f})"
            f" | {statistics.median(moved):.2f} | {statistics.median(waited):.2f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
