"""The extra scenarios, each a small table of its own (scale has a module of its own, ``scale``).

- own cost: an upstream that is not ours (npm ``server-everything`` over stdio) at concurrency 1:
  what the proxy costs in CPU per call and adds to the median latency over the direct session.
- large bodies: a 1 MiB argument and a 5 MiB result through a freshly started proxy: latency and
  how much the proxy's peak resident memory (``VmHWM``) grows; and the same calls made by the
  direct SDK client, so the proxies' share of the time can be read.
- connections: 256 concurrent keep-alive connections for a few seconds; errors must be 0.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
from collections.abc import Iterator
from typing import Any

from bench.matrix import FAILURES, METRICS, measure_target, progress, targets
from bench.measure import Cell, Plan, direct_calls, load_cell
from bench.procs import peak_rss_kib, timed_request
from bench.stats import median_of
from bench.targets import EVERYTHING, Endpoint, Upstream, running_bridge, running_mcpo

__all__ = ["run_connections", "run_large_bodies", "run_own_cost"]

MIB = 1024 * 1024
LARGE_CALLS = 5
CONNECTIONS = 256


def _proxy(target: str, upstream: Upstream, plan: Plan) -> contextlib.AbstractContextManager[Endpoint]:
    if target == "bridge":
        return running_bridge([upstream], plan.work)
    return running_mcpo(upstream, plan.work, log_level=plan.mcpo_log_level)


@contextlib.contextmanager
def _connection(port: int) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        yield connection
    finally:
        connection.close()


def run_own_cost(plan: Plan) -> dict[str, Any]:
    if not EVERYTHING.exists():
        return {"skipped": f"{EVERYTHING} is missing: run `make` (it installs tests/npm)"}
    upstream = Upstream.everything_stdio()
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets(plan)}
    failures: dict[str, str] = {}
    for round_ in range(plan.repeat):
        for target in runs:
            if target in failures:
                continue
            try:
                (result,) = measure_target(target, upstream, plan, (1,))
            except FAILURES as exc:
                failures[target] = str(exc)
                progress(f"  own cost {target}: FAILED: {exc}")
                continue
            runs[target].append(result)
            progress(f"  own cost {target:6} round {round_ + 1}/{plan.repeat}: p50 {result['p50_ms']:.2f} ms")
    medians = {t: {m: median_of(v, m) for m in METRICS} for t, v in runs.items() if v}
    return {"medians": medians, "runs": runs, "failures": failures}


def run_large_bodies(plan: Plan) -> dict[str, Any]:
    rich, bulk = Upstream.rich_stdio(), Upstream.fill_stdio("bulk")
    cases: dict[str, tuple[Upstream, dict[str, Any]]] = {
        "1 MiB argument (echo)": (rich, {"text": "a" * MIB}),
        "5 MiB result (fill)": (bulk, {"size": 5 * MIB}),
    }
    rows: dict[str, dict[str, Any]] = {}
    for target in targets(plan):
        for label, (upstream, arguments) in cases.items():
            name = f"{target}: {label}"
            try:
                if target == "direct":
                    row = _large_direct(upstream, arguments, plan)
                else:
                    row = _large_proxy(target, upstream, arguments, plan)
            except FAILURES as exc:
                rows[name] = {"failed": str(exc)}
                progress(f"  large {name}: FAILED: {exc}")
                continue
            rows[name] = {"target": target, "case": label, **row}
            progress(f"  large {name}: p50 {row['p50_ms']:.1f} ms, HWM +{row['hwm_growth_mib']:.1f} MiB")
    return {"rows": rows}


def _large_proxy(target: str, upstream: Upstream, arguments: dict[str, Any], plan: Plan) -> dict[str, Any]:
    body = json.dumps(arguments).encode()
    with _proxy(target, upstream, plan) as endpoint, _connection(endpoint.port) as connection:
        path = endpoint.path(upstream)
        timed_request(connection, "POST", path, json.dumps(dict(upstream.arguments)).encode())
        before = peak_rss_kib(endpoint.proc.pid)
        calls = [timed_request(connection, "POST", path, body) for _ in range(LARGE_CALLS)]
        after = peak_rss_kib(endpoint.proc.pid)
    return _large_row([t for t, _ in calls], before, after) | {"response_mib": calls[0][1] / MIB}


def _large_direct(upstream: Upstream, arguments: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """The SDK client's own calls over stdio: its memory is the client process's, not a proxy's."""
    result = direct_calls(upstream, arguments, LARGE_CALLS, plan.work)
    return _large_row(result["latencies_s"], result["hwm_before_kib"], result["hwm_after_kib"]) | {"response_mib": None}


def _large_row(latencies_s: list[float], before_kib: int, after_kib: int) -> dict[str, Any]:
    latencies = [t * 1000 for t in latencies_s]
    return {
        "p50_ms": statistics.median(latencies),
        "max_ms": max(latencies),
        "hwm_before_mib": before_kib / 1024,
        "hwm_after_mib": after_kib / 1024,
        "hwm_growth_mib": (after_kib - before_kib) / 1024,
    }


def run_connections(plan: Plan) -> dict[str, Any]:
    upstream = Upstream.rich_stdio()
    rows: dict[str, dict[str, Any]] = {}
    cell = Cell(CONNECTIONS, plan.seconds, max(plan.warmup, 1.0))
    for target in (t for t in targets(plan) if t != "direct"):
        try:
            with _proxy(target, upstream, plan) as endpoint:
                rows[target] = load_cell(endpoint, upstream, cell)
        except FAILURES as exc:
            rows[target] = {"failed": str(exc)}
            progress(f"  {CONNECTIONS} connections {target}: FAILED: {exc}")
            continue
        result = rows[target]
        progress(f"  {CONNECTIONS} connections {target}: {result['rps']:.0f} rps, errors {result['errors']}")
    return {"rows": rows, "connections": CONNECTIONS}
