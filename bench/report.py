"""The machine the bench ran on, the markdown helpers, and the main tables (one per handshake)."""

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
from bench.targets import ROOT, pin_cpu

__all__ = ["DASH", "HANDSHAKE_TITLES", "fmt", "gate_note", "machine", "main_table", "markdown", "preamble", "ratio"]

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


def fmt(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
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


#: How each main table is named, by the handshake its direct client and bridge used.
HANDSHAKE_TITLES = {
    "newest": "newest handshake (direct and bridge negotiate the newest revision; mcpo's SDK 1.17 cannot)",
    "2025": "2025 handshake (`initialize`) for all three, so the upstream does the same work behind each",
}


def _protocols(matrix: dict[str, Any], handshake: str) -> str:
    seen = matrix.get("protocols", {})
    found = {
        f"{transport} {target}": ", ".join(versions)
        for k, versions in seen.items()
        for transport, shake, target in [k.split("/")]
        if shake == handshake and target != "mcpo"
    }
    return "; ".join(f"{who} {versions}" for who, versions in found.items()) or DASH


def main_table(matrix: dict[str, Any], plan: Plan, handshake: str, gate: dict[str, Any] | None = None) -> str:
    """The direct/bridge/mcpo table of one handshake; the validation share below it when measured."""
    medians: dict[str, dict[str, Any]] = matrix["medians"]

    def m(transport: str, target: str, c: int, metric: str) -> float | None:
        value = medians.get(key(transport, handshake, target, c), {}).get(metric)
        return None if value is None else float(value)

    rows = []
    for transport in plan.transports:
        for c in plan.concurrency:
            rps = {t: m(transport, t, c, "rps") for t in ("direct", "bridge", "mcpo")}
            cpu = {t: m(transport, t, c, "proxy_cpu_ms") for t in ("bridge", "mcpo")}
            latency = {
                t: DASH
                if rps[t] is None
                else f"{fmt(m(transport, t, c, 'p50_ms'))} / {fmt(m(transport, t, c, 'p99_ms'))}"
                for t in rps
            }
            upstream = " · ".join(fmt(m(transport, t, c, "upstream_cpu_ms")) for t in ("direct", "bridge", "mcpo"))
            rows.append(
                [
                    transport,
                    str(c),
                    *(fmt(rps[t], 0) for t in rps),
                    ratio(rps["bridge"], rps["direct"]),
                    ratio(rps["bridge"], rps["mcpo"]),
                    *(latency[t] for t in latency),
                    fmt(cpu["bridge"]),
                    fmt(cpu["mcpo"]),
                    ratio(cpu["bridge"], cpu["mcpo"]),
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
    title = f"## Main, {HANDSHAKE_TITLES[handshake]}: echo tool, rich SDK server"
    shared = "; the mcpo columns are the same runs in every main table" if len(plan.handshakes) > 1 else ""
    notes = [
        f"- negotiated: {_protocols(matrix, handshake)}; mcpo: `initialize` at its SDK's latest revision"
        f" (preamble){shared}",
        *_matrix_notes(matrix, handshake),
    ]
    if "stdio-pinned" in plan.transports:
        cpu = pin_cpu()
        notes.append(
            f"- stdio-pinned: the same stdio upstream held to CPU {cpu} for all three: the bridge with"
            f' `"cpus": [{cpu}]` in its config, the direct client and mcpo by starting it through a'
            " trampoline that sets that CPU mask and execs the same command (`bench/targets.py`, `PIN`)"
        )
    if gate is not None:
        stdio_c1 = m("stdio", "bridge", 1, "proxy_cpu_ms")
        notes.append(gate_note(gate, stdio_c1))
    return "\n".join([title, "", markdown(headers, rows), "", *notes])


def gate_note(gate: dict[str, Any], bridge_cpu_ms: float | None) -> str:
    """One line: what the bridge's per-call gate and validation cost, and their share of its CPU."""
    if "failed" in gate:
        return f"- validation share: not measured ({gate['failed']})"
    us = gate["us"]
    parts = ", ".join(f"{name} {value:.2f}" for name, value in us.items() if name != "total")
    share = (
        f"{us['total'] / (bridge_cpu_ms * 1000) * 100:.1f} % of the bridge's {bridge_cpu_ms:.2f} ms CPU per request"
        " (stdio, c=1, above)"
        if bridge_cpu_ms
        else "the bridge's CPU per request was not measured"
    )
    return (
        f"- validation share: the bridge's request gate and argument validation for this call take"
        f" {us['total']:.1f} µs, timed in process ({parts} µs; median of {gate['batches']} batches of"
        f" {gate['batch']:,}): {share}"
    )


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if values else DASH


def _matrix_notes(matrix: dict[str, Any], handshake: str) -> list[str]:
    def ours(k: str) -> bool:
        _, shake, target, *_ = k.split("/")
        return shake == handshake or target == "mcpo"

    medians = {k: v for k, v in matrix["medians"].items() if ours(k)}
    client = [v["client_cpu_ms"] for v in medians.values() if v.get("client_cpu_ms") is not None]
    loadgen = [v["loadgen_cpu_ms"] for v in medians.values() if v.get("loadgen_cpu_ms") is not None]
    errors = {k: r["errors"] for k, runs in matrix["runs"].items() if ours(k) for r in runs if r["errors"]}
    notes = [
        f"- direct SDK client process CPU ms/req: {_span(client)}; load generator CPU ms/req: {_span(loadgen)}"
        " (neither is in any column)",
        "- errors: " + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "0 in every cell"),
    ]
    notes += [f"- {where} FAILED: {why}" for where, why in matrix["failures"].items() if ours(where)]
    return notes
