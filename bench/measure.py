"""One measured cell: a fixed-time load against a running proxy, or the direct SDK baseline.

Each cell runs the load generator (or the direct client) as a fresh process with a time bound,
and turns the CPU seconds it read over the measured window into milliseconds per request:
``proxy_cpu_ms`` for the bridge or mcpo process itself, ``upstream_cpu_ms`` for the upstream
server(s), ``client_cpu_ms`` for the direct SDK client, ``loadgen_cpu_ms`` for the generator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import DRAIN_TIMEOUT
from bench.targets import ROOT, Endpoint, Upstream

__all__ = ["Cell", "Plan", "direct_cell", "load_cell"]

#: Beyond the cell's own time: process start-up, imports and (direct) the stdio upstream's start.
CELL_SLACK = 90.0


@dataclass(frozen=True)
class Cell:
    """How long and how hard one cell loads its target."""

    concurrency: int
    seconds: float
    warmup: float


@dataclass
class Plan:
    """What a bench run measures, and where its processes keep their configs and logs."""

    work: Path
    seconds: float
    warmup: float
    repeat: int
    concurrency: tuple[int, ...]
    transports: tuple[str, ...]
    mcpo_log_level: str
    #: Why mcpo cannot be measured (its install failed), or None.
    mcpo_error: str | None = None
    notes: list[str] = field(default_factory=list)

    def cell(self, concurrency: int) -> Cell:
        return Cell(concurrency, self.seconds, self.warmup)


def _run(argv: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[2]} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _per_request(cpu_s: dict[str, float], pids: list[int], n: int) -> float:
    return sum(cpu_s.get(str(pid), 0.0) for pid in pids) / max(n, 1) * 1000


def load_cell(endpoint: Endpoint, upstream: Upstream, cell: Cell) -> dict[str, Any]:
    watch = [endpoint.proc.pid, *endpoint.upstream_pids]
    argv = [sys.executable, "-m", "bench.loadgen", "--port", str(endpoint.port), "--path", endpoint.path(upstream)]
    argv += ["--body", json.dumps(dict(upstream.arguments)), "--concurrency", str(cell.concurrency)]
    argv += ["--seconds", str(cell.seconds), "--warmup", str(cell.warmup), "--watch", *map(str, watch)]
    result = _run(argv, cell.warmup + cell.seconds + DRAIN_TIMEOUT + CELL_SLACK)
    n = result["n"]
    result["proxy_cpu_ms"] = _per_request(result["cpu_s"], [endpoint.proc.pid], n)
    result["upstream_cpu_ms"] = _per_request(result["cpu_s"], endpoint.upstream_pids, n)
    result["loadgen_cpu_ms"] = result.pop("loadgen_cpu_ms_per_req")
    return result


def direct_cell(upstream: Upstream, cell: Cell) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.direct", "--tool", upstream.tool, "--arguments"]
    argv += [json.dumps(dict(upstream.arguments)), "--expect", upstream.expect]
    argv += ["--concurrency", str(cell.concurrency), "--seconds", str(cell.seconds), "--warmup", str(cell.warmup)]
    if upstream.url:
        argv += ["--watch", str(upstream.pid), "--url", upstream.url]
    else:
        argv += ["--command", *upstream.command]
    result = _run(argv, cell.warmup + cell.seconds + CELL_SLACK)
    n = result["n"]
    upstream_pids = [upstream.pid] if upstream.pid is not None else result["upstream_pids"]
    result["client_cpu_ms"] = _per_request(result["cpu_s"], [result["client_pid"]], n)
    result["upstream_cpu_ms"] = _per_request(result["cpu_s"], upstream_pids, n)
    return result
