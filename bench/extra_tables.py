"""The extra scenarios' tables: own cost, scale, large bodies, 256 connections."""

from __future__ import annotations

from typing import Any

from bench.report import DASH, fmt, markdown

__all__ = ["connections_table", "large_table", "own_cost_table", "scale_table"]


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
            [
                target,
                fmt(m["p50_ms"]),
                fmt(m["p99_ms"]),
                fmt(m["rps"], 0),
                fmt(added),
                fmt(cpu),
                fmt(m["upstream_cpu_ms"]),
            ]
        )
    headers = ["target", "p50 ms", "p99 ms", "rps", "p50 added over direct ms", "own CPU ms/req", "upstream CPU ms/req"]
    notes = [f"- {t} FAILED: {why}" for t, why in result["failures"].items()]
    notes.append("- own CPU is the bridge or mcpo process (for direct: the SDK client process)")
    return "\n".join([title, "", markdown(headers, rows), "", *notes])


def scale_table(result: dict[str, Any]) -> str:
    rows = []
    for r in result["rows"].values():
        if "failed" in r:
            rows.append([DASH, DASH, f"FAILED: {r['failed'][:200]}", *[DASH] * 8])
            continue
        rows.append(
            [
                _upstreams(r),
                f"{r['servers']} × {r['tools']}",
                str(r["tools_listed"]),
                fmt(r["ready_s"], 1),
                f"{fmt(r['openapi_ms'], 1)} ({fmt(r['openapi_first_ms'], 1)})",
                fmt(r["openapi_kib"], 0),
                fmt(r["call_p50_ms"]),
                fmt(r["call_p99_ms"]),
                fmt(r["proxy_cpu_ms"]),
                fmt(r["upstream_cpu_ms"]),
                fmt(r["peak_rss_mib"], 0),
            ]
        )
    headers = [
        "upstreams",
        "servers × tools",
        "tools listed",
        "start→ready s",
        "openapi.json p50 (first) ms",
        "openapi KiB",
        "call p50 ms (c=1)",
        "call p99 ms",
        "bridge CPU ms/req",
        "upstream CPU ms/req",
        "bridge peak RSS MiB",
    ]
    title = "## Scale: bridge with many upstream servers (generated-tools SDK server)"
    notes = [
        "- http: one host process serves every server at /sNN/mcp and answers before the bridge starts, so"
        " start→ready is the bridge's own: process start, spec load, the connections, every tool listed",
        "- stdio: the bridge starts one Python server per upstream, so start→ready includes those interpreters"
        " starting at once on the machine's cores",
        *_call_comparison(result["rows"]),
    ]
    return "\n".join([title, "", markdown(headers, rows, left=3), "", *notes])


def _upstreams(row: dict[str, Any]) -> str:
    if row["transport"] == "http":
        return "http, one host process"
    return "stdio, 1 Python child" if row["servers"] == 1 else f"stdio, {row['servers']} Python children"


def _call_comparison(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The c=1 call latency with many HTTP upstreams against one: what the catalog's size costs a call."""
    http = sorted((r for r in rows.values() if r.get("transport") == "http"), key=lambda r: r["servers"])
    if len(http) < 2 or http[0]["servers"] == http[-1]["servers"]:
        return []
    one, many = http[0], http[-1]
    return [
        f"- tool-call p50 at c=1 over http: {fmt(many['call_p50_ms'])} ms with {many['servers']} servers against"
        f" {fmt(one['call_p50_ms'])} ms with {one['servers']}"
        f" ({many['call_p50_ms'] - one['call_p50_ms']:+.2f} ms)"
    ]


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
                fmt(r["response_mib"], 1),
                fmt(r["p50_ms"], 1),
                fmt(r["max_ms"], 1),
                fmt(r["hwm_before_mib"], 0),
                fmt(r["hwm_growth_mib"], 1),
            ]
        )
    headers = ["target", "case", "response MiB", "p50 ms", "max ms", "peak RSS before MiB", "peak RSS growth MiB"]
    notes = [
        "- direct: the official SDK client calling the same tool over stdio, no proxy; its peak RSS is the client"
        " process's own (a proxy's row is the proxy process's), and it has no HTTP response to size",
        *_proxy_shares(result["rows"]),
    ]
    title = "## Large bodies (stdio upstream; 5 calls each on a fresh proxy or client)"
    return "\n".join([title, "", markdown(headers, rows, left=2), "", *notes])


def _proxy_shares(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Each proxy's p50 over the direct client's, per case."""
    direct = {r["case"]: r["p50_ms"] for r in rows.values() if r.get("target") == "direct"}
    added = [
        f"{r['target']} {r['case']} {r['p50_ms'] - direct[r['case']]:+.1f} ms"
        for r in rows.values()
        if r.get("target") not in (None, "direct") and r.get("case") in direct
    ]
    return ["- p50 over direct: " + "; ".join(added)] if added else []


def connections_table(result: dict[str, Any]) -> str:
    rows = []
    for target, r in result["rows"].items():
        if "failed" in r:
            rows.append([target, f"FAILED: {r['failed'][:200]}", *[DASH] * 4])
            continue
        rows.append(
            [target, str(r["errors"]), fmt(r["rps"], 0), fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["proxy_cpu_ms"])]
        )
    headers = ["target", "errors", "rps", "p50 ms", "p99 ms", "own CPU ms/req"]
    title = f"## {result['connections']} concurrent keep-alive connections (rich `echo`, stdio)"
    return "\n".join([title, "", markdown(headers, rows)])
