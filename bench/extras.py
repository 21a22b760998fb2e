"""The extra scenarios, each a small table of its own.

- own cost: an upstream that is not ours (npm ``server-everything`` over stdio) at concurrency 1:
  what the proxy costs in CPU per call and adds to the median latency over the direct session.
- scale: 50 upstream servers with 1,000 tools in all, against one server with 20: time to ready,
  ``GET /openapi.json`` latency, and tool-call latency at concurrency 1.
- large bodies: a 1 MiB argument and a 5 MiB result through a freshly started proxy: latency and
  how much the proxy's peak resident memory (``VmHWM``) grows.
- connections: 256 concurrent keep-alive connections for a few seconds; errors must be 0.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

from bench.matrix import FAILURES, METRICS, measure_target, progress, targets
from bench.measure import Cell, Plan, load_cell
from bench.procs import peak_rss_kib
from bench.stats import median_of
from bench.targets import EVERYTHING, Endpoint, Upstream, running_bridge, running_mcpo

__all__ = ["run_connections", "run_large_bodies", "run_own_cost", "run_scale"]

MIB = 1024 * 1024
#: Upstreams in the scale scenario, and tools on each (1,000 in all).
SCALE_SERVERS = 50
SCALE_TOOLS = 20
#: Fifty Python servers importing the SDK at once on two cores take a while.
SCALE_START_TIMEOUT = 300.0
OPENAPI_FETCHES = 10
LARGE_CALLS = 5
CONNECTIONS = 256


def _proxy(
    target: str, upstreams: list[Upstream], plan: Plan, **kwargs: Any
) -> contextlib.AbstractContextManager[Endpoint]:
    if target == "bridge":
        return running_bridge(upstreams, plan.work, **kwargs)
    return running_mcpo(upstreams[0], plan.work, log_level=plan.mcpo_log_level)


def _timed(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> tuple[float, int]:
    """Seconds for one request until its whole body is read, and the body's size."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    began = time.perf_counter()
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    data = response.read()
    took = time.perf_counter() - began
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return took, len(data)


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


def run_scale(plan: Plan) -> dict[str, Any]:
    cases = {
        f"1 server × {SCALE_TOOLS} tools": [Upstream.tools_stdio("s00", SCALE_TOOLS)],
        f"{SCALE_SERVERS} servers × {SCALE_TOOLS} tools": [
            Upstream.tools_stdio(f"s{i:02d}", SCALE_TOOLS) for i in range(SCALE_SERVERS)
        ],
    }
    rows: dict[str, dict[str, Any]] = {}
    for label, upstreams in cases.items():
        try:
            with running_bridge(upstreams, plan.work, start_timeout=SCALE_START_TIMEOUT) as endpoint:
                progress(f"  scale {label}: ready in {endpoint.ready_s:.1f} s")
                with _connection(endpoint.port) as connection:
                    listed = _tool_count(connection)
                    fetches = [_timed(connection, "GET", "/openapi.json", None) for _ in range(OPENAPI_FETCHES)]
                call = load_cell(endpoint, upstreams[len(upstreams) // 2], plan.cell(1))
                rows[label] = {
                    "ready_s": endpoint.ready_s,
                    "tools_listed": listed,
                    "openapi_ms": statistics.median(t for t, _ in fetches) * 1000,
                    "openapi_first_ms": fetches[0][0] * 1000,
                    "openapi_kib": fetches[0][1] / 1024,
                    "call_p50_ms": call["p50_ms"],
                    "call_p99_ms": call["p99_ms"],
                    "call_rps": call["rps"],
                    "proxy_cpu_ms": call["proxy_cpu_ms"],
                    "peak_rss_mib": peak_rss_kib(endpoint.proc.pid) / 1024,
                    "errors": call["errors"],
                }
                progress(
                    f"  scale {label}: openapi {rows[label]['openapi_ms']:.1f} ms, call p50 {call['p50_ms']:.2f} ms"
                )
        except FAILURES as exc:
            rows[label] = {"failed": str(exc)}
            progress(f"  scale {label}: FAILED: {exc}")
    return {"rows": rows}


def _tool_count(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/tools")
    response = connection.getresponse()
    document = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET /tools answered {response.status}")
    return len(json.loads(document)["tools"])


def run_large_bodies(plan: Plan) -> dict[str, Any]:
    rich, bulk = Upstream.rich_stdio(), Upstream.fill_stdio("bulk")
    cases = {
        "1 MiB argument (echo)": (rich, {"text": "a" * MIB}),
        "5 MiB result (fill)": (bulk, {"size": 5 * MIB}),
    }
    rows: dict[str, dict[str, Any]] = {}
    for target in (t for t in targets(plan) if t != "direct"):
        for label, (upstream, arguments) in cases.items():
            name = f"{target}: {label}"
            body = json.dumps(arguments).encode()
            try:
                with _proxy(target, [upstream], plan) as endpoint, _connection(endpoint.port) as connection:
                    path = endpoint.path(upstream)
                    _timed(connection, "POST", path, json.dumps(dict(upstream.arguments)).encode())
                    before = peak_rss_kib(endpoint.proc.pid)
                    calls = [_timed(connection, "POST", path, body) for _ in range(LARGE_CALLS)]
                    after = peak_rss_kib(endpoint.proc.pid)
            except FAILURES as exc:
                rows[name] = {"failed": str(exc)}
                progress(f"  large {name}: FAILED: {exc}")
                continue
            latencies = [t * 1000 for t, _ in calls]
            rows[name] = {
                "target": target,
                "case": label,
                "request_mib": len(body) / MIB,
                "response_mib": calls[0][1] / MIB,
                "p50_ms": statistics.median(latencies),
                "max_ms": max(latencies),
                "hwm_before_mib": before / 1024,
                "hwm_after_mib": after / 1024,
                "hwm_growth_mib": (after - before) / 1024,
            }
            progress(f"  large {name}: p50 {rows[name]['p50_ms']:.1f} ms, HWM +{rows[name]['hwm_growth_mib']:.1f} MiB")
    return {"rows": rows}


def run_connections(plan: Plan) -> dict[str, Any]:
    upstream = Upstream.rich_stdio()
    rows: dict[str, dict[str, Any]] = {}
    cell = Cell(CONNECTIONS, plan.seconds, max(plan.warmup, 1.0))
    for target in (t for t in targets(plan) if t != "direct"):
        try:
            with _proxy(target, [upstream], plan) as endpoint:
                rows[target] = load_cell(endpoint, upstream, cell)
        except FAILURES as exc:
            rows[target] = {"failed": str(exc)}
            progress(f"  {CONNECTIONS} connections {target}: FAILED: {exc}")
            continue
        result = rows[target]
        progress(f"  {CONNECTIONS} connections {target}: {result['rps']:.0f} rps, errors {result['errors']}")
    return {"rows": rows, "connections": CONNECTIONS}
