"""The machine the bench ran on, and its results as markdown tables (one main, one per extra)."""

from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.matrix import key
from bench.measure import Plan
from bench.targets import ROOT

__all__ = ["connections_table", "large_table", "machine", "main_table", "own_cost_table", "preamble", "scale_table"]

DASH = "—"


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    dirty = _run(["git", "status", "--porcelain", "--", "bridge"])
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": os.getloadavg(),
        "bridge_commit": _run(["git", "rev-parse", "--short", "HEAD"])
        + (" + uncommitted bridge/ changes" if dirty else ""),
        "mcp_sdk": metadata.version("mcp"),
        "node": _run(["node", "--version"]) or "not found",
        "loadgen_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }


def preamble(meta: dict[str, Any], plan: Plan, mcpo: str) -> str:
    load = " ".join(f"{x:.2f}" for x in meta["load_average"])
    return "\n".join(
        [
            f"# mcp-rest-bridge bench, {meta['date']}",
            "",
            f"- machine: {meta['cpu']}, {meta['cores']} cores, Python {meta['python']}, Linux {meta['kernel']},"
            f" load average at start {load}",
            f"- bridge {meta['bridge_commit']} (mcp SDK {meta['mcp_sdk']}); {mcpo}; node {meta['node']}",
            f"- each cell {plan.seconds:g} s after {plan.warmup:g} s warm-up; median of {plan.repeat} run(s);"
            f" load generator: one process ({meta['loadgen_loop']}), keep-alive, one request in flight per connection",
            f"- bridge `--log-level warning`, mcpo `--log-level {plan.mcpo_log_level}`, otherwise both at defaults",
        ]
    )


def _f(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return DASH if a is None or not b else f"{a / b:.2f}"


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A padded markdown table; the first ``left`` columns are text, the rest right-aligned numbers."""
    widths = [max(3, len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "| " + " | ".join("-" * w if i < left else "-" * (w - 1) + ":" for i, w in enumerate(widths)) + " |"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def main_table(matrix: dict[str, Any], plan: Plan) -> str:
    medians: dict[str, dict[str, Any]] = matrix["medians"]

    def m(transport: str, target: str, c: int, metric: str) -> float | None:
        value = medians.get(key(transport, target, c), {}).get(metric)
        return None if value is None else float(value)

    rows = []
    for transport in plan.transports:
        for c in plan.concurrency:
            rps = {t: m(transport, t, c, "rps") for t in ("direct", "bridge", "mcpo")}
            cpu = {t: m(transport, t, c, "proxy_cpu_ms") for t in ("bridge", "mcpo")}
            latency = {
                t: DASH
                if rps[t] is None
                else f"{_f(m(transport, t, c, 'p50_ms'))} / {_f(m(transport, t, c, 'p99_ms'))}"
                for t in rps
            }
            upstream = " · ".join(_f(m(transport, t, c, "upstream_cpu_ms")) for t in ("direct", "bridge", "mcpo"))
            rows.append(
                [
                    transport,
                    str(c),
                    *(_f(rps[t], 0) for t in rps),
                    _ratio(rps["bridge"], rps["direct"]),
                    _ratio(rps["bridge"], rps["mcpo"]),
                    *(latency[t] for t in latency),
                    _f(cpu["bridge"]),
                    _f(cpu["mcpo"]),
                    _ratio(cpu["bridge"], cpu["mcpo"]),
                    upstream,
                ]
            )
    headers = [
        "transport",
        "c",
        "direct rps",
        "bridge rps",
        "mcpo rps",
        "bridge÷direct",
        "bridge÷mcpo",
        "direct p50 / p99 ms",
        "bridge p50 / p99 ms",
        "mcpo p50 / p99 ms",
        "bridge CPU ms/req",
        "mcpo CPU ms/req",
        "bridge÷mcpo CPU",
        "upstream CPU ms/req (d · b · m)",
    ]
    return "\n".join(["## Main: echo tool, rich SDK server", "", markdown(headers, rows), "", *_matrix_notes(matrix)])


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if values else DASH


def _matrix_notes(matrix: dict[str, Any]) -> list[str]:
    medians: dict[str, dict[str, Any]] = matrix["medians"]
    client = [v["client_cpu_ms"] for k, v in medians.items() if v.get("client_cpu_ms") is not None]
    loadgen = [v["loadgen_cpu_ms"] for k, v in medians.items() if v.get("loadgen_cpu_ms") is not None]
    errors = {k: r["errors"] for k, runs in matrix["runs"].items() for r in runs if r["errors"]}
    notes = [
        f"- direct SDK client process CPU ms/req: {_span(client)}; load generator CPU ms/req: {_span(loadgen)}"
        " (neither is in any column)",
        "- errors: " + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "0 in every cell"),
    ]
    notes += [f"- {target} FAILED: {why}" for target, why in matrix["failures"].items()]
    return notes


def own_cost_table(result: dict[str, Any]) -> str:
    title = "## Own cost: npm server-everything `echo` over stdio, c=1"
    if "skipped" in result:
        return f"{title}\n\nskipped: {result['skipped']}"
    medians: dict[str, dict[str, Any]] = result["medians"]
    direct_p50 = medians.get("direct", {}).get("p50_ms")
    rows = []
    for target, m in medians.items():
        added = None if direct_p50 is None or target == "direct" else m["p50_ms"] - direct_p50
        cpu = m["client_cpu_ms"] if target == "direct" else m["proxy_cpu_ms"]
        rows.append(
            [target, _f(m["p50_ms"]), _f(m["p99_ms"]), _f(m["rps"], 0), _f(added), _f(cpu), _f(m["upstream_cpu_ms"])]
        )
    headers = ["target", "p50 ms", "p99 ms", "rps", "p50 added over direct ms", "own CPU ms/req", "upstream CPU ms/req"]
    notes = [f"- {t} FAILED: {why}" for t, why in result["failures"].items()]
    notes.append("- own CPU is the bridge or mcpo process (for direct: the SDK client process)")
    return "\n".join([title, "", markdown(headers, rows), "", *notes])


def scale_table(result: dict[str, Any]) -> str:
    rows = []
    for label, r in result["rows"].items():
        if "failed" in r:
            rows.append([label, f"FAILED: {r['failed'][:200]}", *[DASH] * 8])
            continue
        rows.append(
            [
                label,
                str(r["tools_listed"]),
                _f(r["ready_s"], 1),
                f"{_f(r['openapi_ms'], 1)} ({_f(r['openapi_first_ms'], 1)})",
                _f(r["openapi_kib"], 0),
                _f(r["call_p50_ms"]),
                _f(r["call_p99_ms"]),
                _f(r["proxy_cpu_ms"]),
                _f(r["peak_rss_mib"], 0),
            ]
        )
    headers = [
        "case",
        "tools listed",
        "start→ready s",
        "openapi.json p50 (first) ms",
        "openapi KiB",
        "call p50 ms (c=1)",
        "call p99 ms",
        "bridge CPU ms/req",
        "bridge peak RSS MiB",
    ]
    return "\n".join(
        [
            "## Scale: bridge with many upstream servers (generated-tools SDK server, stdio)",
            "",
            markdown(headers, rows, left=2),
        ]
    )


def large_table(result: dict[str, Any]) -> str:
    rows = []
    for name, r in result["rows"].items():
        if "failed" in r:
            rows.append([name, f"FAILED: {r['failed'][:200]}", *[DASH] * 5])
            continue
        rows.append(
            [
                r["target"],
                r["case"],
                _f(r["response_mib"], 1),
                _f(r["p50_ms"], 1),
                _f(r["max_ms"], 1),
                _f(r["hwm_before_mib"], 0),
                _f(r["hwm_growth_mib"], 1),
            ]
        )
    headers = ["target", "case", "response MiB", "p50 ms", "max ms", "peak RSS before MiB", "peak RSS growth MiB"]
    return "\n".join(
        ["## Large bodies (stdio upstream; 5 calls each on a fresh proxy)", "", markdown(headers, rows, left=2)]
    )


def connections_table(result: dict[str, Any]) -> str:
    rows = []
    for target, r in result["rows"].items():
        if "failed" in r:
            rows.append([target, f"FAILED: {r['failed'][:200]}", *[DASH] * 4])
            continue
        rows.append(
            [target, str(r["errors"]), _f(r["rps"], 0), _f(r["p50_ms"]), _f(r["p99_ms"]), _f(r["proxy_cpu_ms"])]
        )
    headers = ["target", "errors", "rps", "p50 ms", "p99 ms", "own CPU ms/req"]
    title = f"## {result['connections']} concurrent keep-alive connections (rich `echo`, stdio)"
    return "\n".join([title, "", markdown(headers, rows)])
