"""What webhooks cost: tool-call throughput with one subscription matching every call, and how soon
a call's event reaches the receiver.

- **throughput**: ``POST /servers/rich/tools/echo`` at c=8 (``bench/loadgen.py``) against a fresh
  bridge with no subscription, then against a fresh bridge started with ``WEBHOOK_URL``: one
  subscription to ``tool.call.finished``, every call (the outbox keeps each delivery before the
  call is answered). Rounds interleave the two; the table gives medians. Target: ≥ 0.9× of none.
- **latency**: calls one at a time (paced, so deliveries do not queue), each event's arrival
  at the receiver's 2xx against its call's answer, on the wall clock both processes share.
  Calls one at a time make the matching exact: event ids sort in the order the calls ended.
  Target: p50 < 50 ms.

The receiver is ``bench/webhook_receiver.py`` (asyncio and h11, its own process), cheap so it
leaves the CPU to the bridge; its CPU per delivery is printed.

    .venv/bin/python -m bench.webhooks [--seconds 5] [--rounds 3] [--latency-calls 300]

``measure`` and ``table`` are what ``bench/run.py --webhooks`` runs; run alone, it also writes
``bench/results/webhooks.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import Cell, load_cell
from bench.procs import cpu_seconds
from bench.stats import percentile
from bench.targets import ROOT, Upstream, running_bridge
from harness import accepting, free_port, poll, started


def _hook_env(receiver_port: int) -> dict[str, str]:
    """The guide's way in: ``WEBHOOK_URL`` makes one subscription to every finished call."""
    return {"WEBHOOK_URL": f"http://127.0.0.1:{receiver_port}/hook", "WEBHOOK_SECRET": "whsec_" + "A" * 32}


def _receiver(port: int, method: str) -> list[tuple[str, float]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, "/stats")
        data = connection.getresponse().read()
    finally:
        connection.close()
    return [(event_id, at) for event_id, at in json.loads(data)] if data else []


def _all_heard(receiver: int, count: int) -> list[tuple[str, float]]:
    """The receiver's notes once it has heard ``count`` deliveries."""

    def enough() -> list[tuple[str, float]] | None:
        heard = _receiver(receiver, "GET")
        return heard if len(heard) >= count else None

    return poll(enough, 60, what=f"{count} deliveries")


def throughput(work: Path, upstream: Upstream, receiver: int, cell: Cell, rounds: int) -> dict[str, Any]:
    """Rounds of: a fresh bridge with no subscription, then a fresh one with ``WEBHOOK_URL``."""
    options = ["--allow-private-webhooks"]
    runs: list[dict[str, Any]] = []
    for round_ in range(rounds):
        with running_bridge([upstream], work, options=options) as endpoint:
            none = load_cell(endpoint, upstream, cell)
        _receiver(receiver, "DELETE")
        with running_bridge([upstream], work, options=options, env=_hook_env(receiver)) as endpoint:
            hooked = load_cell(endpoint, upstream, cell)
            heard = _all_heard(receiver, hooked["n"])
        runs.append({"none": none, "webhook": hooked, "delivered": len(heard)})
        print(
            f"round {round_ + 1}: none {none['rps']:.0f}/s, webhook {hooked['rps']:.0f}/s"
            f" ({hooked['rps'] / none['rps']:.2f}×), bridge CPU {none['proxy_cpu_ms']:.3f}"
            f" → {hooked['proxy_cpu_ms']:.3f} ms/call, errors {none['errors']}/{hooked['errors']},"
            f" {len(heard)} delivered",
            file=sys.stderr,
        )
    return {"runs": runs}


def latency(work: Path, upstream: Upstream, receiver: int, receiver_pid: int, calls: int) -> dict[str, Any]:
    options = ["--allow-private-webhooks"]
    with running_bridge([upstream], work, options=options, env=_hook_env(receiver)) as endpoint:
        path = endpoint.path(upstream)
        body = json.dumps(dict(upstream.arguments)).encode()
        connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
        for _ in range(20):  # warm: connections to the upstream and the receiver, code paths
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            connection.getresponse().read()
        poll(lambda: len(_receiver(receiver, "GET")) >= 20, 30, what="warm-up deliveries")
        _receiver(receiver, "DELETE")
        cpu0 = cpu_seconds(receiver_pid)
        answered: list[float] = []
        for _ in range(calls):
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            answered.append(time.time())
            if response.status != 200:
                raise RuntimeError(f"a call answered {response.status}")
            time.sleep(0.02)
        heard = _all_heard(receiver, calls)
        receiver_ms = (cpu_seconds(receiver_pid) - cpu0) / calls * 1000
        connection.close()
    arrivals = [at for _id, at in sorted(heard)]
    gaps = sorted((arrived - answer) * 1000 for answer, arrived in zip(answered, arrivals, strict=True))
    return {
        "calls": calls,
        "p50_ms": percentile(gaps, 0.5),
        "p90_ms": percentile(gaps, 0.9),
        "p99_ms": percentile(gaps, 0.99),
        "max_ms": gaps[-1],
        "receiver_cpu_ms_per_delivery": receiver_ms,
    }


def measure(seconds: float, warmup: float, rounds: int, latency_calls: int = 300) -> dict[str, Any]:
    """Both parts against one receiver: every round's runs, the latency, the settings."""
    upstream = Upstream.rich_stdio()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder:
        work = Path(folder)
        port = free_port()
        argv = [sys.executable, "-m", "bench.webhook_receiver", "--port", str(port)]
        with started("webhook receiver", argv, cwd=ROOT, log=work / "receiver.log") as receiver:
            receiver.wait_until(lambda: accepting(port), 30, "accepting")
            cell = Cell(8, seconds, warmup)
            load = throughput(work, upstream, port, cell, rounds)
            late = latency(work, upstream, port, receiver.pid, latency_calls)
    return {
        "settings": {"seconds": seconds, "warmup": warmup, "rounds": rounds, "latency_calls": latency_calls},
        "throughput": load["runs"],
        "latency": late,
    }


def table(result: dict[str, Any]) -> str:
    """The markdown table and the latency sentence, from ``measure``'s result alone."""
    runs, late, settings = result["throughput"], result["latency"], result["settings"]
    none = statistics.median(r["none"]["rps"] for r in runs)
    hooked = statistics.median(r["webhook"]["rps"] for r in runs)
    cpu_none = statistics.median(r["none"]["proxy_cpu_ms"] for r in runs)
    cpu_hooked = statistics.median(r["webhook"]["proxy_cpu_ms"] for r in runs)
    p50_none = statistics.median(r["none"]["p50_ms"] for r in runs)
    p50_hooked = statistics.median(r["webhook"]["p50_ms"] for r in runs)
    errors = sum(r["none"]["errors"] + r["webhook"]["errors"] for r in runs)
    return "\n".join(
        [
            "| webhooks (rich echo, stdio, c=8) | rps | ÷ none | call p50 ms | bridge CPU ms/call |",
            "| --- | --- | --- | --- | --- |",
            f"| no subscription | {none:.0f} | 1.00 | {p50_none:.2f} | {cpu_none:.3f} |",
            f"| one subscription, every call | {hooked:.0f} | {hooked / none:.2f} | {p50_hooked:.2f} |"
            f" {cpu_hooked:.3f} |",
            "",
            f"Answer → receiver's 2xx over {late['calls']} calls one at a time: p50 {late['p50_ms']:.1f} ms,"
            f" p90 {late['p90_ms']:.1f}, p99 {late['p99_ms']:.1f}, max {late['max_ms']:.1f};"
            f" receiver CPU {late['receiver_cpu_ms_per_delivery']:.3f} ms per delivery."
            f" Median of {len(runs)} rounds of {settings['seconds']:g} s; errors {errors}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-calls", type=int, default=300)
    args = parser.parse_args()
    result = measure(args.seconds, args.warmup, args.rounds, args.latency_calls)
    print(table(result))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "webhooks.json").write_text(
        json.dumps({"throughput": result["throughput"], "latency": result["latency"]}, indent=2)
    )


if __name__ == "__main__":
    main()
