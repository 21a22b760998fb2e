"""The upstream transports alone: ``python bench/transports.py [--calls N] [--repeat R]``.

One process, no HTTP in front: the official SDK ``Client`` calls the rich test server's ``echo``
tool over one held session, once on the SDK's own transport and once on the bridge's, in
interleaved rounds. Over stdio it compares the SDK's ``stdio_client`` with
``bridge/upstream/stdio.py`` (and then with the bridge's output-schema check installed too);
over Streamable HTTP it compares httpx2's default transport with ``bridge/upstream/http.py``.
Prints, per variant, the median over rounds of: p50 latency of sequential calls, the process's
CPU per call, and throughput with 8 calls in flight. The HTTP upstream is started here and
stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import uvloop  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from bench.targets import RICH, running_http_upstream  # noqa: E402
from bridge.upstream.http import LeanTransport  # noqa: E402
from bridge.upstream.results import OutputChecks  # noqa: E402
from bridge.upstream.stdio import stdio_transport  # noqa: E402
from bridge.upstream.translate import to_json  # noqa: E402

STDIO = StdioServerParameters(command=sys.executable, args=[str(RICH), "stdio"])


async def _measure(target: Any, calls: int, checked: bool, http: httpx2.AsyncClient | None) -> tuple[float, ...]:
    async with Client(target, cache=None) as client:
        listing = to_json(await client.list_tools())
        if checked:
            checks = OutputChecks()
            checks.update({tool["name"]: tool for tool in listing["tools"]})
            checks.install(client.session)
        for _ in range(200):
            to_json(await client.call_tool("echo", {"text": "hello"}))
        latencies = []
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            to_json(await client.call_tool("echo", {"text": "hello"}))
            latencies.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu

        async def worker(n: int) -> None:
            for _ in range(n):
                to_json(await client.call_tool("echo", {"text": "hello"}))

        started = time.perf_counter()
        await asyncio.gather(*(worker(calls // 8) for _ in range(8)))
        rps = (calls // 8 * 8) / (time.perf_counter() - started)
    if http is not None:
        await http.aclose()
    return statistics.median(latencies) * 1000, cpu / calls * 1000, rps


def _variants(url: str) -> dict[str, Callable[[], tuple[Any, bool, httpx2.AsyncClient | None]]]:
    def http_client(lean: bool) -> tuple[Any, bool, httpx2.AsyncClient | None]:
        transport = LeanTransport() if lean else None
        http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300), transport=transport)
        return streamable_http_client(url, http_client=http), False, http

    return {
        "stdio, SDK stdio_client": lambda: (STDIO, False, None),
        "stdio, bridge transport": lambda: (stdio_transport(STDIO), False, None),
        "stdio, bridge transport + output check": lambda: (stdio_transport(STDIO), True, None),
        "http, httpx2 default transport": lambda: http_client(False),
        "http, bridge transport": lambda: http_client(True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-transports-") as work, running_http_upstream(Path(work)) as upstream:
        assert upstream.url is not None
        variants = _variants(upstream.url)
        results: dict[str, list[tuple[float, ...]]] = {name: [] for name in variants}

        async def rounds() -> None:
            for _ in range(args.repeat):
                for name, make in variants.items():
                    target, checked, http = make()
                    results[name].append(await _measure(target, args.calls, checked, http))

        uvloop.run(rounds())
    print(f"| variant ({args.calls} calls, median of {args.repeat}) | p50 ms (c=1) | CPU ms/call | rps (c=8) |")
    print("| --- | ---: | ---: | ---: |")
    for name, rows in results.items():
        p50, cpu, rps = (statistics.median(row[i] for row in rows) for i in range(3))
        print(f"| {name} | {p50:.3f} | {cpu:.3f} | {rps:.0f} |")


if __name__ == "__main__":
    main()
