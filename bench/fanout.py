"""What sharing events through Redis costs tool calls: fan-out on (``--redis-url``) against off.

    .venv/bin/python -m bench.fanout [--seconds 4] [--warmup 1] [--repeat 2]

Tool-call throughput at c=8 through REST (``bench/loadgen.py``, the rich server's ``echo`` over
stdio) on one bridge with one SSE stream following every event, without Redis and with a
``redis-server`` of this script's own (Debian's package, nothing kept on disk): then each event
also goes to the Redis stream, is read back by nobody else, and waits ``SETTLE`` before the
stream gets it. A fresh bridge per cell, the cells interleaved; medians printed as markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.events import following
from bench.measure import Cell, load_cell
from bench.targets import Upstream, running_bridge
from harness import accepting, free_port, started

CONCURRENCY = 8


@contextlib.contextmanager
def redis_server(work: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server is not None, "install Debian's redis-server"
    port = free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(work)]
    with started("redis", argv, log=work / "redis.log") as process:
        process.wait_until(lambda: accepting(port), 10, f"accepting on {port}")
        yield f"redis://127.0.0.1:{port}/0"


def measure(seconds: float, warmup: float, repeat: int) -> dict[str, list[dict[str, Any]]]:
    cell = Cell(CONCURRENCY, seconds, warmup)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "redis": []}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp, redis_server(Path(tmp)) as url:
        upstream = Upstream.rich_stdio()
        for _ in range(repeat):
            for kind in runs:
                options = ["--redis-url", url] if kind == "redis" else []
                with running_bridge([upstream], Path(tmp), options=options) as endpoint:
                    load_cell(endpoint, upstream, Cell(CONCURRENCY, 1.0, 0.5))  # warm the whole path once
                    with following(endpoint.port, 1):
                        runs[kind].append(load_cell(endpoint, upstream, cell))
    return runs


def table(runs: dict[str, list[dict[str, Any]]]) -> str:
    off = statistics.median(r["rps"] for r in runs["off"])
    lines = ["| fan-out | calls/s (median) | bridge CPU ms/call | runs (calls/s) | ratio |", "|---|---|---|---|---|"]
    for kind, cells in runs.items():
        rps = statistics.median(r["rps"] for r in cells)
        cpu = statistics.median(r["proxy_cpu_ms"] for r in cells)
        each = ", ".join(f"{r['rps']:.0f}" for r in cells)
        lines.append(f"| {kind} | {rps:.0f} | {cpu:.2f} | {each} | {rps / off:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(table(measure(args.seconds, args.warmup, args.repeat)))


if __name__ == "__main__":
    main()
