"""Plain JSON-RPC and MCP clients' ``tools/call`` on ``POST /mcp`` beside the REST tool call, on one bridge.

``python -m bench.jsonrpc [--baseline DIR] [--seconds 5] [--repeat 3]`` (or ``bench/run.py
--jsonrpc``). Each round starts the bridge afresh in front of the rich server's ``echo`` (stdio
held to one CPU, and over Streamable HTTP) and loads it with the REST call
(``POST /servers/rich/tools/echo``), the same call as a JSON-RPC request to ``/mcp`` (no MCP
headers: what a REST client sends), and the bytes an MCP client sends for it at 2026-07-28
(its headers and ``_meta``: the lean path), at c=1 and c=8, the kinds in turn. All three come
from the same light load generator (``bench.loadgen``), so the MCP row is the bridge's own cost
of the route, without the official SDK client's load on the same two cores (``bench.mcp_clients``
measures with it). ``--baseline`` names another source tree (a checkout of main, say) whose
bridge runs in the same rounds, alternating with this one, so before and after share the
machine's drift. Tables show medians: requests per second and the bridge process's CPU per
request, and each /mcp kind ÷ REST.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.matrix import FAILURES, progress, running_upstream
from bench.measure import Plan, load_cell
from bench.report import fmt, markdown
from bench.stats import median_of
from bench.targets import ROOT, Upstream, running_bridge
from harness import http_call

__all__ = ["KINDS", "mcp_body", "measure", "rpc_body", "table"]

KINDS = ("rest", "jsonrpc", "mcp")
MODERN = "2026-07-28"
#: What the official SDK client adds to a 2026-07-28 ``tools/call`` of ``echo`` (``mcp.Client``).
MCP_HEADERS = (
    "Accept: application/json, text/event-stream",
    f"MCP-Protocol-Version: {MODERN}",
    "Mcp-Method: tools/call",
)
CONCURRENCY = (1, 8)
TRANSPORTS = ("stdio-pinned", "http")
METRICS = ("rps", "p50_ms", "proxy_cpu_ms", "upstream_cpu_ms", "errors")
#: The tree this bench belongs to: the bridge under test when no other is named.
HERE = "this tree"


def rpc_body(upstream: Upstream) -> str:
    """The upstream's tool call as one plain JSON-RPC request."""
    call = {"name": upstream.tool, "arguments": dict(upstream.arguments)}
    return json.dumps({"jsonrpc": "2.0", "method": "tools/call", "params": call, "id": 1})


def mcp_body(upstream: Upstream) -> str:
    """The upstream's tool call as an MCP client sends it at 2026-07-28 (with ``MCP_HEADERS`` and ``Mcp-Name``)."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    call = {"name": upstream.tool, "arguments": dict(upstream.arguments), "_meta": meta}
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})


def _round(trees: dict[str, Path], upstream: Upstream, plan: Plan, flip: bool) -> dict[str, dict[str, Any]]:
    """Each tree's bridge started afresh, and every (kind, c) cell of it; kinds alternate by round."""
    results: dict[str, dict[str, Any]] = {}
    kinds = KINDS[::-1] if flip else KINDS
    for tree, root in trees.items():
        with running_bridge([upstream], plan.work, root=root) as endpoint:
            status, answer = http_call(endpoint.port, "POST", "/mcp", rpc_body(upstream).encode(), timeout=30.0)
            if status != 200 or b'"result"' not in answer or upstream.expect.encode() not in answer:
                raise RuntimeError(f"{tree}: JSON-RPC tools/call answered {status}: {answer[:300]!r}")
            for c in CONCURRENCY:
                for kind in kinds:
                    cell = plan.cell(c)
                    if kind == "rest":
                        result = load_cell(endpoint, upstream, cell)
                    elif kind == "jsonrpc":
                        result = load_cell(endpoint, upstream, cell, path="/mcp", body=rpc_body(upstream))
                    else:
                        named = (*MCP_HEADERS, f"Mcp-Name: {upstream.tool}")
                        body = mcp_body(upstream)
                        result = load_cell(endpoint, upstream, cell, path="/mcp", body=body, headers=named)
                    results[f"{tree}/{kind}/{c}"] = result
    return results


def measure(plan: Plan, baseline: Path | None = None) -> dict[str, Any]:
    trees = {HERE: ROOT} if baseline is None else {"baseline": baseline, HERE: ROOT}
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: dict[str, str] = {}
    for transport in [t for t in plan.transports if t in TRANSPORTS] or list(TRANSPORTS):
        with running_upstream(transport, plan) as upstream:
            for round_ in range(plan.repeat):
                order = dict(reversed(trees.items())) if round_ % 2 else trees
                try:
                    cells = _round(order, upstream, plan, flip=bool(round_ % 2))
                except FAILURES as exc:
                    failures[transport] = str(exc)
                    progress(f"  jsonrpc {transport}: FAILED: {exc}")
                    break
                for name, result in cells.items():
                    runs[f"{transport}/{name}"].append(result)
                    progress(
                        f"  {transport:12} {name:22} round {round_ + 1}/{plan.repeat}: {result['rps']:7.0f} rps"
                        f"  bridge CPU {result['proxy_cpu_ms']:.3f} ms/req  errors {result['errors']}"
                    )
    medians = {k: {m: median_of(v, m) for m in METRICS} for k, v in runs.items()}
    trees_shown = {name: str(root) for name, root in trees.items()}
    return {"medians": medians, "runs": dict(runs), "failures": failures, "trees": trees_shown}


def _ratio(a: float | None, b: float | None) -> str:
    return fmt(a / b) if a is not None and b else "—"


def table(result: dict[str, Any]) -> str:
    medians: dict[str, dict[str, Any]] = result["medians"]
    rows = []
    for key in medians:
        transport, tree, kind, c = key.split("/")
        if kind != "rest":
            continue
        rest = medians[key]
        row = [transport, tree, c, fmt(rest["rps"], 0), fmt(rest["proxy_cpu_ms"], 3)]
        errors = [f"{rest['errors']:.0f}"]
        for kind in KINDS[1:]:
            other = medians.get(f"{transport}/{tree}/{kind}/{c}", {})
            row += [fmt(other.get("rps"), 0), _ratio(other.get("rps"), rest["rps"])]
            row += [fmt(other.get("proxy_cpu_ms"), 3), _ratio(other.get("proxy_cpu_ms"), rest["proxy_cpu_ms"])]
            errors.append(f"{other.get('errors', 0):.0f}")
        rows.append([*row, "/".join(errors)])
    headers = ["upstream", "bridge", "c", "REST rps", "REST CPU ms/req"]
    for label in ("JSON-RPC", "MCP client"):
        headers += [f"{label} rps", "rps ÷ REST", f"{label} CPU ms/req", "CPU ÷ REST"]
    headers.append("errors REST/RPC/MCP")
    notes = [f"- {name}: {root}" for name, root in result["trees"].items()]
    notes += [f"- {t} FAILED: {why}" for t, why in result["failures"].items()]
    notes.append("- ÷ REST: the /mcp kind over REST; CPU is the bridge process's own over the measured window")
    notes.append("- MCP client: a 2026-07-28 tools/call as the SDK client sends it, from the same load generator")
    return "\n".join([markdown(headers, rows), "", *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another source tree whose bridge runs in the same rounds")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--transports", nargs="+", choices=TRANSPORTS, default=list(TRANSPORTS))
    parser.add_argument("--output", type=Path, help="write the raw results here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as work:
        plan = Plan(
            work=Path(work),
            seconds=args.seconds,
            warmup=args.warmup,
            repeat=args.repeat,
            concurrency=CONCURRENCY,  # the cells run at CONCURRENCY whatever the plan says
            transports=tuple(args.transports),
            mcpo_log_level="WARNING",
        )
        result = measure(plan, args.baseline)
    if args.output:
        args.output.write_text(json.dumps(result, indent=1, default=str))
    print(table(result))


if __name__ == "__main__":
    main()
