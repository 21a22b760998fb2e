"""What an ``Idempotency-Key`` costs a tool call: none, a new key (held, kept, committed before the
answer is sent), and a replay of a kept answer (read back, the tool not run).

One real bridge in front of the rich test server's ``echo`` (stdio); one keep-alive connection
sends ``POST /servers/rich/tools/echo`` one call at a time, in blocks of each kind that rounds
interleave so drift spreads over all three. Per kind: the median and p90 of the wall time per
call, and the bridge process's CPU per call. Sequential calls show the added latency whole (the
wait for the store's commit is on the answer's path by design); the bridge's CPU is the cost a
busy bridge pays per keyed call.

    .venv/bin/python -m bench.idempotency [--calls 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.procs import cpu_seconds
from bench.stats import percentile
from bench.targets import Endpoint, Upstream, running_bridge

KINDS = ("none", "new key", "replay")


def _block(endpoint: Endpoint, path: str, body: bytes, kind: str, calls: int) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    replayed = f"bench-{uuid.uuid4()}"
    times: list[float] = []
    try:
        cpu = cpu_seconds(endpoint.proc.pid)
        for _ in range(calls):
            headers = {"Content-Type": "application/json"}
            if kind == "new key":
                headers["Idempotency-Key"] = str(uuid.uuid4())
            elif kind == "replay":
                headers["Idempotency-Key"] = replayed
            started = time.perf_counter()
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read()
            times.append(time.perf_counter() - started)
            if answer.status != 200:
                raise RuntimeError(f"{kind}: HTTP {answer.status}")
        cpu = cpu_seconds(endpoint.proc.pid) - cpu
    finally:
        connection.close()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p90_ms": percentile(sorted(times), 0.9) * 1000,
        "cpu_ms": cpu / calls * 1000,
    }


def measure(calls: int, rounds: int) -> dict[str, Any]:
    upstream = Upstream.rich_stdio()
    body = json.dumps(dict(upstream.arguments)).encode()
    runs: list[dict[str, dict[str, float]]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-idempotency-") as folder,
        running_bridge([upstream], Path(folder)) as endpoint,
    ):
        path = endpoint.path(upstream)
        for kind in KINDS:  # warm-up: the paths' first calls, and the first kept answer
            _block(endpoint, path, body, kind, 50)
        for round_ in range(rounds):
            run = {kind: _block(endpoint, path, body, kind, calls) for kind in KINDS}
            runs.append(run)
            shown = ", ".join(f"{k} {v['p50_ms']:.2f} ms ({v['cpu_ms']:.3f} CPU)" for k, v in run.items())
            print(f"round {round_ + 1}: {shown}", file=sys.stderr)
    return {"settings": {"calls": calls, "rounds": rounds}, "runs": runs}


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        "| call | p50 ms | p90 ms | bridge CPU ms/call | vs none (p50) |",
        "| --- | --- | --- | --- | --- |",
    ]
    base = statistics.median(run["none"]["p50_ms"] for run in runs)
    for kind in KINDS:
        p50 = statistics.median(run[kind]["p50_ms"] for run in runs)
        p90 = statistics.median(run[kind]["p90_ms"] for run in runs)
        cpu = statistics.median(run[kind]["cpu_ms"] for run in runs)
        lines.append(f"| {kind} | {p50:.2f} | {p90:.2f} | {cpu:.3f} | {p50 - base:+.2f} ms |")
    settings = result["settings"]
    lines.append(f"\n{settings['calls']} sequential calls per kind and round, {settings['rounds']} rounds (medians).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.calls, args.rounds)))


if __name__ == "__main__":
    main()
