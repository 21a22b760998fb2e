"""Bridge versus the direct SDK session versus mcpo: ``make bench`` (``python bench/run.py``).

Installs mcpo into its own venv if needed, starts every process itself, measures, stops each
by its PID, prints markdown tables (the main comparison once per handshake, then the extra
scenarios), and writes everything to ``bench/results/latest.json`` (and the tables to
``latest.md``). Every cell runs a fixed time and stops by itself; the defaults finish in about
thirty minutes on two cores (eleven of them the MCP-client cells). ``--quick`` (1 run of 2 s
cells, the newest-handshake main table only) is the fast check. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    auth,
    calls,
    events,
    extra_tables,
    extras,
    instances,
    jsonrpc,
    mcp_clients,
    report,
    telemetry,
    webhooks,
)
from bench.gate import measure_gate
from bench.matrix import progress, run_matrix
from bench.measure import Plan
from bench.scale import run_scale
from bench.targets import BENCH, HANDSHAKES, ensure_mcpo

RESULTS = BENCH / "results"
EXTRAS: dict[str, tuple[Callable[[Plan], dict[str, Any]], Callable[[dict[str, Any]], str]]] = {
    "own_cost": (extras.run_own_cost, extra_tables.own_cost_table),
    "scale": (run_scale, extra_tables.scale_table),
    "large": (extras.run_large_bodies, extra_tables.large_table),
    "connections": (extras.run_connections, extra_tables.connections_table),
    "events": (
        lambda plan: events.measure(plan.seconds, plan.warmup, plan.repeat),
        lambda result: "## Events: SSE subscribers, and one WebSocket, vs REST at c=8\n\n" + events.table(result),
    ),
    "webhooks": (
        lambda plan: webhooks.measure(plan.seconds, plan.warmup, plan.repeat),
        lambda result: "## Webhooks: one subscription on every call, c=8\n\n" + webhooks.table(result),
    ),
    "calls": (
        lambda plan: calls.measure(plan.seconds, plan.warmup, plan.repeat),
        lambda result: (
            "## Asynchronous calls: creating one; 1,000 polled 10×/s beside sync calls at c=8\n\n" + calls.table(result)
        ),
    ),
    "jsonrpc": (
        jsonrpc.measure,
        lambda result: (
            "## Plain JSON-RPC and MCP clients' `tools/call` on `POST /mcp` beside the REST tool call\n\n"
            + jsonrpc.table(result)
        ),
    ),
    "instances": (
        lambda plan: instances.measure(plan.seconds, plan.warmup, plan.repeat, (8, 32)),
        lambda result: (
            "## Instances: one bridge direct, one behind nginx, two on one store behind nginx\n\n"
            + instances.table(result)
        ),
    ),
    "mcp_clients": (mcp_clients.measure, mcp_clients.tables),
    "auth": (
        lambda plan: auth.measure(plan.seconds, plan.repeat),
        lambda result: (
            "## Identity and access: credential and limit checks; OAuth + limits vs a key, c=8\n\n" + auth.table(result)
        ),
    ),
    "telemetry": (
        lambda plan: {"edge": telemetry.observer_cost(), "runs": telemetry.measure(plan.seconds, max(plan.repeat, 2))},
        lambda result: (
            "## Operations: request ids and metrics on vs --no-telemetry, c=8\n\n"
            + telemetry.table(result["runs"], result["edge"])
        ),
    ),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time of each cell (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured load before each cell (default 0.5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; tables show medians (default 3)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--transports",
        nargs="+",
        choices=["stdio", "stdio-pinned", "http"],
        default=["stdio", "stdio-pinned", "http"],
        help="stdio-pinned: the stdio upstream held to one CPU, however each target starts it",
    )
    parser.add_argument(
        "--handshake",
        nargs="+",
        choices=list(HANDSHAKES),
        help="main tables to run: the newest revision and/or the 2025 `initialize` handshake mcpo speaks"
        " (default both; newest with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="1 run of 2 s cells, newest-handshake main table only")
    parser.add_argument("--no-mcpo", action="store_true", help="leave mcpo out (no install)")
    parser.add_argument(
        "--mcpo-log-level",
        default="WARNING",
        help="mcpo's --log-level; WARNING matches the bridge's --log-level warning (mcpo's default INFO"
        " logs every call)",
    )
    chosen = parser.add_argument_group("scenarios (all by default; naming any runs only those)")
    chosen.add_argument("--main", action="store_true", help="the main table")
    chosen.add_argument("--own-cost", action="store_true", help="npm server-everything upstream, c=1")
    chosen.add_argument("--scale", action="store_true", help="50 upstreams, 1,000 tools (HTTP and stdio)")
    chosen.add_argument("--large", action="store_true", help="1 MiB argument, 5 MiB result")
    chosen.add_argument("--connections", action="store_true", help="256 keep-alive connections")
    chosen.add_argument("--events", action="store_true", help="100 SSE subscribers, and one WebSocket, vs REST at c=8")
    chosen.add_argument(
        "--webhooks",
        action="store_true",
        help="one webhook subscription on every call, c=8; answer-to-delivery latency",
    )
    chosen.add_argument(
        "--auth", action="store_true", help="credential and limit checks; OAuth 2.0 + limits vs an API key, c=8"
    )
    chosen.add_argument(
        "--jsonrpc", action="store_true", help="JSON-RPC and MCP-client tools/call on /mcp beside REST, c=1 and 8"
    )
    chosen.add_argument(
        "--mcp-clients",
        action="store_true",
        help="the official SDK client: direct, through the gateway (stdio, http), FastMCP's proxy, federation",
    )
    chosen.add_argument(
        "--calls", action="store_true", help="async call creation CPU; 1,000 async calls polled 10×/s beside c=8"
    )
    chosen.add_argument(
        "--instances",
        action="store_true",
        help="one bridge direct, behind nginx, and two on one store behind nginx (deploy/'s config), c=8 and 32",
    )
    chosen.add_argument(
        "--telemetry", action="store_true", help="tool calls with request ids and metrics on vs off, c=8"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.seconds = 1, 2.0
    if args.handshake is None:
        args.handshake = ["newest"] if args.quick else list(HANDSHAKES)
    return args


def _scenarios(args: argparse.Namespace) -> list[str]:
    named = [name for name in ("main", *EXTRAS) if getattr(args, name)]
    if named:
        return named
    return ["main"] if args.quick else ["main", *EXTRAS]


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every started process is still stopped by its PID."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main() -> None:
    args = _arguments()
    _stop_on_sigterm()
    began = time.perf_counter()
    meta = report.machine()
    mcpo, mcpo_error = "mcpo left out", "left out (--no-mcpo)" if args.no_mcpo else None
    if not args.no_mcpo:
        progress("installing/checking mcpo in bench/.venv-mcpo ...")
        try:
            mcpo = ensure_mcpo()
        except (RuntimeError, OSError) as exc:
            mcpo, mcpo_error = "mcpo unavailable", str(exc)
            progress(f"mcpo unavailable: {exc}")
    results: dict[str, Any] = {"machine": meta, "mcpo": mcpo, "mcpo_error": mcpo_error}
    tables: list[str] = []
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as work:
        plan = Plan(
            work=Path(work),
            seconds=args.seconds,
            warmup=args.warmup,
            repeat=args.repeat,
            concurrency=tuple(args.concurrency),
            transports=tuple(args.transports),
            handshakes=tuple(args.handshake),
            mcpo_log_level=args.mcpo_log_level,
            mcpo_error=mcpo_error,
        )
        results["settings"] = {k: v for k, v in vars(plan).items() if k not in ("work", "notes")}
        for scenario in _scenarios(args):
            progress(f"== {scenario}")
            if scenario == "main":
                results["main"] = run_matrix(plan)
                progress("  timing the request gate and validation in process ...")
                results["gate"] = measure_gate()
                for handshake in plan.handshakes:
                    gate = results["gate"] if handshake == plan.handshakes[0] else None
                    tables.append(report.main_table(results["main"], plan, handshake, gate))
            else:
                run, table = EXTRAS[scenario]
                results[scenario] = run(plan)
                tables.append(table(results[scenario]))
            results["runtime_s"] = time.perf_counter() - began
            args.output.write_text(json.dumps(results, indent=1, default=str))
        text = "\n\n".join([report.preamble(meta, plan, mcpo), *tables])
    text += f"\n\ntotal runtime {results['runtime_s']:.0f} s; raw results in {args.output}\n"
    args.output.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
