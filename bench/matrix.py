"""The main comparison: direct, bridge and mcpo over stdio and Streamable HTTP, at each concurrency.

Upstream is the rich test server's ``echo``. For HTTP it is started once, as its own process, and
every client points at it. ``stdio-pinned`` is stdio with the upstream child held to one CPU:
the bridge by its own ``"cpus"`` setting, the direct client and mcpo through ``targets.PIN``,
which sets the same mask and then becomes the same command. The direct client and the bridge run
once per handshake asked for (the newest revision, or the 2025 ``initialize`` generation that
mcpo's SDK speaks); mcpo runs once, since it always speaks the 2025 one, and both tables show
it. Repeats are interleaved (every target once per round, each started afresh) so that drift on
a shared machine spreads over all targets instead of landing on one.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from bench.measure import Plan, direct_cells, load_cell
from bench.stats import median_of
from bench.targets import (
    Endpoint,
    Upstream,
    pin_cpu,
    running_bridge,
    running_http_upstream,
    running_mcpo,
    running_thin_proxy,
)

__all__ = [
    "FAILURES",
    "MCPO_HANDSHAKE",
    "METRICS",
    "TARGETS",
    "key",
    "measure_target",
    "progress",
    "run_matrix",
    "running_upstream",
    "targets",
]

TARGETS = ("direct", "bridge", "mcpo")
METRICS = ("rps", "p50_ms", "p99_ms", "proxy_cpu_ms", "upstream_cpu_ms", "client_cpu_ms", "loadgen_cpu_ms", "errors")
#: Failures a target may have without stopping the bench: it is left out of later rounds.
FAILURES = (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired)
#: mcpo 0.0.20 pins mcp 1.17, whose client knows only the ``initialize`` handshake.
MCPO_HANDSHAKE = "2025"


def key(transport: str, handshake: str, target: str, concurrency: int | None = None) -> str:
    """Where a cell's runs are kept; mcpo's are always under ``MCPO_HANDSHAKE``."""
    handshake = MCPO_HANDSHAKE if target == "mcpo" else handshake
    tail = "" if concurrency is None else f"/{concurrency}"
    return f"{transport}/{handshake}/{target}{tail}"


@contextlib.contextmanager
def running_upstream(transport: str, plan: Plan) -> Iterator[Upstream]:
    if transport == "stdio":
        yield Upstream.rich_stdio()
        return
    if transport == "stdio-pinned":
        yield Upstream.rich_stdio(cpus=(pin_cpu(),))
        return
    with running_http_upstream(plan.work) as upstream:
        yield upstream


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_target(target: str, upstream: Upstream, plan: Plan, concurrencies: tuple[int, ...]) -> list[dict[str, Any]]:
    """One round of one target: started afresh (a proxy), then one cell per concurrency."""
    if target == "direct":
        return direct_cells(upstream, [plan.cell(c) for c in concurrencies])
    proxy: contextlib.AbstractContextManager[Endpoint]
    if target == "bridge":
        proxy = running_bridge([upstream], plan.work)
    elif target == "thin":  # bench/floor.py's reference forwarder
        proxy = running_thin_proxy(upstream, plan.work)
    else:
        proxy = running_mcpo(upstream, plan.work, log_level=plan.mcpo_log_level)
    with proxy as endpoint:
        results = [load_cell(endpoint, upstream, plan.cell(c)) for c in concurrencies]
        for result in results:
            result["ready_s"] = endpoint.ready_s
            result["protocol_version"] = endpoint.protocol_version
        return results


def targets(plan: Plan) -> tuple[str, ...]:
    return tuple(t for t in TARGETS if t != "mcpo" or plan.mcpo_error is None)


def _round(plan: Plan) -> list[tuple[str, str]]:
    """(handshake, target) pairs of one round: direct and bridge per handshake, mcpo once."""
    pairs = [(h, t) for h in plan.handshakes for t in targets(plan) if t != "mcpo"]
    if "mcpo" in targets(plan):
        pairs.insert(2, (MCPO_HANDSHAKE, "mcpo"))
    return pairs


def run_matrix(plan: Plan) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: dict[str, str] = {}
    protocols: dict[str, set[str]] = defaultdict(set)
    for transport in plan.transports:
        with running_upstream(transport, plan) as upstream:
            for round_ in range(plan.repeat):
                for handshake, target in _round(plan):
                    where = key(transport, handshake, target)
                    if where in failures:
                        continue
                    try:
                        results = measure_target(target, upstream.with_handshake(handshake), plan, plan.concurrency)
                    except FAILURES as exc:
                        failures[where] = str(exc)
                        progress(f"  {where}: FAILED: {exc}")
                        continue
                    for c, result in zip(plan.concurrency, results, strict=True):
                        runs[key(transport, handshake, target, c)].append(result)
                        if result.get("protocol_version"):
                            protocols[where].add(result["protocol_version"])
                        progress(
                            f"  {transport:5} {handshake:6} {target:6} c={c:<3} round {round_ + 1}/{plan.repeat}:"
                            f" {result['rps']:7.0f} rps  p50 {result['p50_ms']:7.2f} ms"
                            f"  p99 {result['p99_ms']:7.2f} ms  errors {result['errors']}"
                        )
    medians = {k: {m: median_of(v, m) for m in METRICS} for k, v in runs.items()}
    return {
        "medians": medians,
        "runs": dict(runs),
        "failures": failures,
        "protocols": {k: sorted(v) for k, v in protocols.items()},
    }
