"""The scale scenario: one bridge in front of 50 upstream servers with 1,000 tools, against one server.

Headline: the 50 servers are Streamable HTTP endpoints of one ``bench/tools_host.py`` process,
started and answering before the bridge starts, so start-to-ready is the bridge's own (process
start, spec load, 50 connections, 1,000 tools listed). The stdio cases are kept for comparison;
there the bridge starts 50 Python interpreters itself, and their start-up on two cores is most
of the time to ready. Each case: time from starting the bridge to ``/readyz`` 200, the tools
listed, ``GET /openapi.json`` (median of several, and the first), and a tool call at c=1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
from collections.abc import Callable, Iterator
from typing import Any

from bench.matrix import FAILURES, progress
from bench.measure import Plan, load_cell
from bench.procs import peak_rss_kib, timed_request
from bench.targets import Upstream, running_bridge, running_tools_host

__all__ = ["SCALE_SERVERS", "SCALE_TOOLS", "run_scale"]

#: Upstreams in the scale scenario, and tools on each (1,000 in all).
SCALE_SERVERS = 50
SCALE_TOOLS = 20
#: Fifty Python servers importing the SDK at once on two cores take a while.
SCALE_START_TIMEOUT = 300.0
OPENAPI_FETCHES = 10


@contextlib.contextmanager
def _stdio(servers: int, _plan: Plan) -> Iterator[list[Upstream]]:
    yield [Upstream.tools_stdio(f"s{i:02d}", SCALE_TOOLS) for i in range(servers)]


@contextlib.contextmanager
def _http(servers: int, plan: Plan) -> Iterator[list[Upstream]]:
    with running_tools_host(plan.work, servers, SCALE_TOOLS) as upstreams:
        yield upstreams


#: (transport, servers, how the upstreams come to be); the HTTP cases first, they are the headline.
CASES: list[tuple[str, int, Callable[[int, Plan], contextlib.AbstractContextManager[list[Upstream]]]]] = [
    ("http", 1, _http),
    ("http", SCALE_SERVERS, _http),
    ("stdio", 1, _stdio),
    ("stdio", SCALE_SERVERS, _stdio),
]


def run_scale(plan: Plan) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for transport, servers, upstreams_for in CASES:
        label = f"{transport}/{servers}"
        try:
            with upstreams_for(servers, plan) as upstreams:
                rows[label] = _measure(upstreams, plan)
        except FAILURES as exc:
            rows[label] = {"failed": str(exc)}
            progress(f"  scale {label}: FAILED: {exc}")
            continue
        rows[label] |= {"transport": transport, "servers": servers, "tools": SCALE_TOOLS}
        row = rows[label]
        progress(
            f"  scale {transport} {servers} server(s): ready in {row['ready_s']:.1f} s, openapi"
            f" {row['openapi_ms']:.1f} ms, call p50 {row['call_p50_ms']:.2f} ms"
        )
    return {"rows": rows}


def _measure(upstreams: list[Upstream], plan: Plan) -> dict[str, Any]:
    with running_bridge(upstreams, plan.work, start_timeout=SCALE_START_TIMEOUT) as endpoint:
        connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=120)
        try:
            listed = _tool_count(connection)
            fetches = [timed_request(connection, "GET", "/openapi.json", None) for _ in range(OPENAPI_FETCHES)]
        finally:
            connection.close()
        call = load_cell(endpoint, upstreams[len(upstreams) // 2], plan.cell(1))
        return {
            "ready_s": endpoint.ready_s,
            "tools_listed": listed,
            "openapi_ms": statistics.median(t for t, _ in fetches) * 1000,
            "openapi_first_ms": fetches[0][0] * 1000,
            "openapi_kib": fetches[0][1] / 1024,
            "call_p50_ms": call["p50_ms"],
            "call_p99_ms": call["p99_ms"],
            "call_rps": call["rps"],
            "proxy_cpu_ms": call["proxy_cpu_ms"],
            "upstream_cpu_ms": call["upstream_cpu_ms"],
            "peak_rss_mib": peak_rss_kib(endpoint.proc.pid) / 1024,
            "errors": call["errors"],
        }


def _tool_count(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/tools")
    response = connection.getresponse()
    document = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET /tools answered {response.status}")
    return len(json.loads(document)["tools"])
