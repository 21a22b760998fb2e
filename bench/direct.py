"""The "direct" baseline: the official SDK client calling one tool over one held session.

``python -m bench.direct --tool echo --arguments '{"text": "hello"}' --concurrency 1 8 --seconds 5
[--mode legacy] (--url http://127.0.0.1:N/mcp | --command python server.py stdio) [--watch PID...]``
prints a JSON list on stdout, one object per concurrency, each shaped like the load generator's:
one cell after another on the same session, ``concurrency`` tasks sharing it, each calling in a
loop; calls completing inside the cell's window after its warm-up count.
CPU is read for this process (the client), for the stdio upstream it started, and for any watched
PID. ``--calls N --arguments-file F`` instead makes N calls one after another with the (large)
arguments in F, after a first call with ``--arguments``, and reports each call's latency and how
much this process's peak resident memory grew over them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from mcp import Client, StdioServerParameters

from bench.procs import cpu_seconds, peak_rss_kib
from bench.stats import summarize
from harness import descendants

__all__ = ["run_calls", "run_direct"]


async def _checked_first_call(client: Client, tool: str, arguments: dict[str, Any], expect: str) -> None:
    await client.list_tools()
    first = await client.call_tool(tool, arguments)
    if first.is_error or expect not in str(first.content):
        raise RuntimeError(f"{tool} answered {first.content}")


async def run_direct(
    server: str | StdioServerParameters,
    tool: str,
    arguments: dict[str, Any],
    expect: str,
    concurrencies: list[int],
    seconds: float,
    warmup: float,
    watch: list[int],
    mode: str = "auto",
) -> list[dict[str, object]]:
    """One cell per concurrency, one after another on the same session (as a proxy keeps its own)."""
    async with Client(server, cache=None, mode=mode) as client:
        await _checked_first_call(client, tool, arguments, expect)
        upstream = descendants(os.getpid())
        pids = [os.getpid(), *upstream, *watch]
        results = [await _window(client, tool, arguments, c, seconds, warmup, pids) for c in concurrencies]
        for result in results:
            result |= {"protocol_version": client.protocol_version, "upstream_pids": upstream}
    return results


async def _window(
    client: Client,
    tool: str,
    arguments: dict[str, Any],
    concurrency: int,
    seconds: float,
    warmup: float,
    pids: list[int],
) -> dict[str, object]:
    began = time.perf_counter()
    start, end = began + warmup, began + warmup + seconds
    latencies: list[float] = []
    errors = 0

    async def caller() -> None:
        nonlocal errors
        while (sent := time.perf_counter()) < end:
            result = await client.call_tool(tool, arguments)
            done = time.perf_counter()
            errors += bool(result.is_error)
            if start <= done <= end:
                latencies.append(done - sent)

    marks: dict[str, tuple[float, dict[int, float]]] = {}

    async def mark(at: float, name: str) -> None:
        await asyncio.sleep(at - time.perf_counter())
        marks[name] = (time.perf_counter(), {pid: cpu_seconds(pid) for pid in pids})

    await asyncio.gather(mark(start, "start"), mark(end, "end"), *(caller() for _ in range(concurrency)))
    (t0, cpu0), (t1, cpu1) = marks["start"], marks["end"]
    result: dict[str, object] = dict(summarize(latencies, t1 - t0))
    result |= {
        "errors": errors,
        "concurrency": concurrency,
        "client_pid": os.getpid(),
        "cpu_s": {str(pid): cpu1[pid] - cpu0[pid] for pid in pids},
    }
    return result


async def run_calls(
    server: str | StdioServerParameters,
    tool: str,
    first: dict[str, Any],
    expect: str,
    arguments: dict[str, Any],
    calls: int,
    mode: str = "auto",
) -> dict[str, object]:
    async with Client(server, cache=None, mode=mode) as client:
        await _checked_first_call(client, tool, first, expect)
        before = peak_rss_kib(os.getpid())
        latencies = []
        for _ in range(calls):
            sent = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            latencies.append(time.perf_counter() - sent)
            if result.is_error:
                raise RuntimeError(f"{tool} answered an error: {str(result.content)[:300]}")
        after = peak_rss_kib(os.getpid())
    return {"latencies_s": latencies, "hwm_before_kib": before, "hwm_after_kib": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a Streamable HTTP endpoint")
    where.add_argument("--command", nargs=argparse.REMAINDER, help="a stdio server's command line (last)")
    parser.add_argument("--tool", required=True)
    parser.add_argument("--arguments", required=True, help="the tool's arguments as JSON")
    parser.add_argument("--expect", default="", help="text the first answer must contain")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1], help="one cell per value, in turn")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--watch", type=int, nargs="*", default=[], help="more PIDs whose CPU time to report")
    parser.add_argument("--mode", default="auto", help="the SDK client's handshake: auto or legacy")
    parser.add_argument("--calls", type=int, help="instead of a timed load: this many calls, one after another")
    parser.add_argument("--arguments-file", help="with --calls: the arguments of those calls, as JSON")
    args = parser.parse_args()
    server = args.url or StdioServerParameters(command=args.command[0], args=args.command[1:])
    arguments = json.loads(args.arguments)
    result: object
    if args.calls:
        with open(args.arguments_file, "rb") as file:
            large = json.load(file)
        result = asyncio.run(run_calls(server, args.tool, arguments, args.expect, large, args.calls, args.mode))
    else:
        result = asyncio.run(
            run_direct(
                server,
                args.tool,
                arguments,
                args.expect,
                args.concurrency,
                args.seconds,
                args.warmup,
                args.watch,
                args.mode,
            )
        )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
