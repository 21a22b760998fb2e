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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import DRAIN_TIMEOUT
from bench.targets import ROOT, Endpoint, Upstream

__all__ = ["Cell", "Plan", "direct_calls", "direct_cells", "load_cell"]

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
    #: Which handshakes the main comparison runs (keys of ``targets.HANDSHAKES``).
    handshakes: tuple[str, ...] = ("newest",)
    #: Why mcpo cannot be measured (its install failed), or None.
    mcpo_error: str | None = None
    notes: list[str] = field(default_factory=list)

    def cell(self, concurrency: int) -> Cell:
        return Cell(concurrency, self.seconds, self.warmup)


def _run(argv: list[str], timeout: float) -> Any:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[2]} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout)


def _per_request(cpu_s: dict[str, float], pids: list[int], n: int) -> float:
    return sum(cpu_s.get(str(pid), 0.0) for pid in pids) / max(n, 1) * 1000


def load_cell(
    endpoint: Endpoint,
    upstream: Upstream,
    cell: Cell,
    *,
    path: str | None = None,
    body: str | None = None,
    headers: Sequence[str] = (),
) -> dict[str, Any]:
    """The upstream's REST tool call on ``endpoint``; or ``body`` (JSON text) posted to ``path``, with
    ``headers`` (``Name: value``) beside the endpoint's own."""
    watch = [endpoint.proc.pid, *endpoint.upstream_pids]
    path = path or endpoint.path(upstream)
    body = body if body is not None else json.dumps(dict(upstream.arguments))
    argv = [sys.executable, "-m", "bench.loadgen", "--port", str(endpoint.port), "--path", path]
    argv += ["--body", body, "--concurrency", str(cell.concurrency)]
    argv += ["--seconds", str(cell.seconds), "--warmup", str(cell.warmup)]
    for line in [*endpoint.headers, *headers]:
        argv += ["--header", line]
    argv += ["--watch", *map(str, watch)]
    result: dict[str, Any] = _run(argv, cell.warmup + cell.seconds + DRAIN_TIMEOUT + CELL_SLACK)
    n = result["n"]
    result["proxy_cpu_ms"] = _per_request(result["cpu_s"], [endpoint.proc.pid], n)
    result["upstream_cpu_ms"] = _per_request(result["cpu_s"], endpoint.upstream_pids, n)
    result["loadgen_cpu_ms"] = result.pop("loadgen_cpu_ms_per_req")
    return result


def _direct_target(upstream: Upstream) -> list[str]:
    """The direct client's handshake and server options (the stdio command last: it takes the rest)."""
    argv = ["--mode", upstream.protocol or "auto"]
    return argv + (["--url", upstream.url] if upstream.url else ["--command", *upstream.spawn_command()])


def direct_calls(upstream: Upstream, arguments: dict[str, Any], calls: int, work: Path) -> dict[str, Any]:
    """``calls`` calls one after another with ``arguments`` (a file: they may exceed argv's limits)."""
    file = work / "direct-arguments.json"
    file.write_text(json.dumps(arguments))
    argv = [sys.executable, "-m", "bench.direct", "--tool", upstream.tool, "--arguments"]
    argv += [json.dumps(dict(upstream.arguments)), "--expect", upstream.expect]
    argv += ["--calls", str(calls), "--arguments-file", str(file), *_direct_target(upstream)]
    result: dict[str, Any] = _run(argv, CELL_SLACK * 2)
    return result


def direct_cells(upstream: Upstream, cells: list[Cell]) -> list[dict[str, Any]]:
    """The direct client's cells, one after another in one process on one session."""
    if len({(c.seconds, c.warmup) for c in cells}) != 1:
        raise RuntimeError("direct cells of one run share their time and warm-up")
    seconds, warmup = cells[0].seconds, cells[0].warmup
    argv = [sys.executable, "-m", "bench.direct", "--tool", upstream.tool, "--arguments"]
    argv += [json.dumps(dict(upstream.arguments)), "--expect", upstream.expect]
    argv += ["--concurrency", *(str(c.concurrency) for c in cells), "--seconds", str(seconds)]
    argv += ["--warmup", str(warmup)]
    if upstream.pid is not None:
        argv += ["--watch", str(upstream.pid)]
    results: list[dict[str, Any]] = _run(argv + _direct_target(upstream), (warmup + seconds) * len(cells) + CELL_SLACK)
    for result in results:
        n = result["n"]
        upstream_pids = [upstream.pid] if upstream.pid is not None else result["upstream_pids"]
        result["client_cpu_ms"] = _per_request(result["cpu_s"], [result["client_pid"]], n)
        result["upstream_cpu_ms"] = _per_request(result["cpu_s"], upstream_pids, n)
    return results
