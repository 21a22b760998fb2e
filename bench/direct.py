"""The "direct" baseline: the official SDK client calling one tool over one held session.

``python -m bench.direct --tool echo --arguments '{"text": "hello"}' --concurrency 8 --seconds 5
(--url http://127.0.0.1:N/mcp | --command python server.py stdio) [--watch PID...]`` prints one
JSON object on stdout, shaped like the load generator's: ``concurrency`` tasks share the session,
each calling in a loop; calls completing inside the window after the warm-up count. CPU is read
for this process (the client), for the stdio upstream it started, and for any watched PID.
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

from bench.procs import cpu_seconds, descendants
from bench.stats import summarize

__all__ = ["run_direct"]


async def run_direct(
    server: str | StdioServerParameters,
    tool: str,
    arguments: dict[str, Any],
    expect: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    watch: list[int],
) -> dict[str, object]:
    async with Client(server, cache=None) as client:
        await client.list_tools()
        first = await client.call_tool(tool, arguments)
        if first.is_error or expect not in str(first.content):
            raise RuntimeError(f"{tool} answered {first.content}")
        upstream = descendants(os.getpid())
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

        pids = [os.getpid(), *upstream, *watch]
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
        "upstream_pids": upstream,
        "cpu_s": {str(pid): cpu1[pid] - cpu0[pid] for pid in pids},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a Streamable HTTP endpoint")
    where.add_argument("--command", nargs=argparse.REMAINDER, help="a stdio server's command line (last)")
    parser.add_argument("--tool", required=True)
    parser.add_argument("--arguments", required=True, help="the tool's arguments as JSON")
    parser.add_argument("--expect", default="", help="text the first answer must contain")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--watch", type=int, nargs="*", default=[], help="more PIDs whose CPU time to report")
    args = parser.parse_args()
    server = args.url or StdioServerParameters(command=args.command[0], args=args.command[1:])
    arguments = json.loads(args.arguments)
    result = asyncio.run(
        run_direct(server, args.tool, arguments, args.expect, args.concurrency, args.seconds, args.warmup, args.watch)
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
