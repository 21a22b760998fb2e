"""MCP clients through the gateway: the official SDK client against the upstream, the gateway, FastMCP, two gateways.

``python -m bench.mcp_clients [--targets direct gateway-http ...] [--concurrency 1 8 32]
[--handshake newest 2025] [--seconds 5] [--repeat 3] [--baseline DIR]`` (or ``bench/run.py
--mcp-clients``).
Every cell is the same load generator (``bench/mcp_load.py``: ``mcp.Client`` over Streamable
HTTP, ``c`` calls in flight) calling the rich test server's ``echo``; only what serves the URL
differs:

- ``direct``: the upstream itself (``tests/servers/rich_server.py http``), the baseline;
- ``gateway-stdio``: ``mcp-bridge serve`` at ``/mcp`` with the rich server over stdio;
- ``gateway-http``: the same, the rich server over Streamable HTTP (the one ``direct`` calls);
- ``fastmcp``: FastMCP's proxy (latest release, own venv) in front of the rich server over stdio;
- ``federation``: gateway A, whose one upstream is gateway B's ``/mcp``, B in front of the rich
  server over Streamable HTTP (compared with ``gateway-http``);
- ``nginx``: nginx with the shipped config (``deploy/nginx/mcp-bridge.conf``) in front of the
  rich server over Streamable HTTP: a proxy hop that costs next to no CPU, so its gap to
  ``direct`` is what any proxy's hop costs on this machine (the other processes' extra wakeups
  and cache misses), the floor under the gateway's rows;
- ``python-splice``: ``bench/splice.py``, a Python process on uvloop passing bytes between the
  client and the same server without reading them: the floor of a hop that is a Python process,
  beside nginx's (what the gateway's own work costs is its distance from this row);
- ``python-forward``: ``bench/forward.py``, a Python process that parses each request and answer
  (HTTP and JSON-RPC) and renumbers the request, and does nothing else: the floor of a Python
  hop that reads what it forwards, as any gateway must.

The handshake pins the client's ``mode`` and the gateways' upstream ``protocol`` together
(``targets.HANDSHAKES``): ``newest`` is 2026-07-28, stateless; ``2025`` is the ``initialize``
handshake with a session (2025-11-25). FastMCP's proxy mirrors its client's revision upstream.

Every target of a handshake is started once and runs beside the others, idle but for its turn.
For each ``c`` every target gets its client workers (connected, one call checked), then the
targets take turns: each round gives every target one window (``--warmup`` then ``--seconds``),
the order turning by one each round. A drift of the shared machine (its neighbours come and go
within seconds) then falls on every target alike, and the ratio column is the median of the
rounds' own ratios, each of two windows seconds apart. Each target that calls the HTTP upstream
gets one of its own, started with it: a 2025-era upstream keeps every session a client opened
until it ends, and one shared by every target would serve the later ones more sessions.
Client processes per cell: ``--processes`` (by default one below c=32, two at 32: one Python
client process is the limit there), the same for every target of that ``c``.
``--baseline DIR`` names another source tree (a checkout of main, say): each target that runs a
gateway runs once more per round from that tree (``gateway-http@baseline`` …), so before and
after share the machine's drift, and the tables show both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.matrix import FAILURES, progress
from bench.mcp_load import Load
from bench.measure import Plan
from bench.report import fmt, markdown
from bench.stats import median_of
from bench.targets import (
    HANDSHAKES,
    ROOT,
    START_TIMEOUT,
    Endpoint,
    Upstream,
    ensure_fastmcp,
    running_bridge,
    running_fastmcp,
    running_http_upstream,
)
from harness import accepting, descendants, free_port, running_nginx, started

__all__ = ["TARGETS", "fastmcp_table", "federation_table", "gateway_table", "measure", "processes_for"]

#: The floors that are Python processes, by target: the module each runs.
PYTHON_HOPS = {"python-splice": "bench.splice", "python-forward": "bench.forward"}
TARGETS = ("direct", "nginx", *PYTHON_HOPS, "gateway-stdio", "gateway-http", "fastmcp", "federation")
#: The targets that run the bridge: with ``--baseline``, each runs from both trees.
GATEWAYS = ("gateway-stdio", "gateway-http", "federation")
METRICS = ("rps", "p50_ms", "p99_ms", "proxy_cpu_ms", "upstream_cpu_ms", "client_cpu_ms", "errors")
#: The concurrency from which a cell splits its calls over two client processes.
SPLIT_AT = 32


def processes_for(concurrency: int, forced: int | None = None) -> int:
    return forced if forced is not None else (2 if concurrency >= SPLIT_AT else 1)


@contextlib.contextmanager
def _serving(
    target: str, handshake: str, stdio: Upstream, work: Path, baseline: Path | None
) -> Iterator[tuple[str, list[int], list[int]]]:
    """The target started afresh (and the HTTP upstream it calls): its MCP URL, its proxy PIDs, and
    the upstream PIDs behind it. A target ``NAME@baseline`` runs its gateways from the ``baseline`` tree."""
    target, _, tree = target.partition("@")
    root = baseline if tree and baseline is not None else ROOT
    with contextlib.ExitStack() as stack:
        http = None
        if target in ("direct", "nginx", *PYTHON_HOPS, "gateway-http", "federation"):
            http = stack.enter_context(running_http_upstream(work)).with_handshake(handshake)
        yield stack.enter_context(_proxy(target, handshake, stdio, http, work, root))


@contextlib.contextmanager
def _proxy(
    target: str, handshake: str, stdio: Upstream, http: Upstream | None, work: Path, root: Path
) -> Iterator[tuple[str, list[int], list[int]]]:
    if target == "direct":
        assert http is not None
        assert http.url is not None
        assert http.pid is not None
        yield http.url, [], [http.pid]
        return
    if target == "nginx":
        upstream_port, upstream_pid = _listening(http)
        with running_nginx(work / f"nginx-{upstream_port}", [upstream_port]) as (port, proc):
            yield f"http://127.0.0.1:{port}/mcp", [proc.pid, *descendants(proc.pid)], [upstream_pid]
        return
    if target in PYTHON_HOPS:
        upstream_port, upstream_pid = _listening(http)
        port = free_port()
        module = PYTHON_HOPS[target]
        argv = [sys.executable, "-m", module, "--port", str(port), "--upstream", str(upstream_port)]
        with started(target, argv, cwd=ROOT, log=work / f"{target}-{port}.log") as proc:
            proc.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
            yield f"http://127.0.0.1:{port}/mcp", [proc.pid], [upstream_pid]
        return
    if target == "federation":
        assert http is not None
        with running_bridge([http], work, root=root) as b:
            behind = Upstream("rich", "echo", {"text": "hello"}, url=f"http://127.0.0.1:{b.port}/mcp", pid=b.proc.pid)
            with running_bridge([behind.with_handshake(handshake)], work, root=root) as a:
                yield f"http://127.0.0.1:{a.port}/mcp", [a.proc.pid, b.proc.pid], b.upstream_pids
        return
    proxy: contextlib.AbstractContextManager[Endpoint]
    upstream = http if target == "gateway-http" and http is not None else stdio
    proxy = running_fastmcp(upstream, work) if target == "fastmcp" else running_bridge([upstream], work, root=root)
    with proxy as endpoint:
        url = f"http://127.0.0.1:{endpoint.port}/mcp"
        if target == "fastmcp":  # FastMCP starts its stdio server on the first call: make one
            asyncio.run(_one_call(url, stdio))
            endpoint.upstream_pids = descendants(endpoint.proc.pid)
        yield url, [endpoint.proc.pid], endpoint.upstream_pids


def _listening(http: Upstream | None) -> tuple[int, int]:
    """The HTTP upstream a floor target stands in front of: its port and its PID."""
    assert http is not None
    assert http.url is not None
    assert http.pid is not None
    port = urlsplit(http.url).port
    assert port is not None
    return port, http.pid


async def _one_call(url: str, upstream: Upstream) -> None:
    from mcp import Client

    async with Client(url, cache=None, mode=upstream.protocol or "auto") as client:
        result = await client.call_tool(upstream.tool, dict(upstream.arguments))
        if result.is_error or upstream.expect not in str(result.content):
            raise RuntimeError(f"{url}: {upstream.tool} answered {str(result.content)[:300]}")


def _cell(load: Load, proxies: list[int], upstreams: list[int], plan: Plan, each: bool) -> dict[str, Any]:
    """One window of ``load``; ``each``: the proxies' CPU one by one too (federation's A and B)."""
    result = load.window(plan.seconds, plan.warmup, watch=[*proxies, *upstreams])
    n = max(result["n"], 1)
    cpu = result["cpu_s"]
    result["proxy_cpu_ms"] = sum(cpu[str(p)] for p in proxies) / n * 1000
    result["upstream_cpu_ms"] = sum(cpu[str(p)] for p in upstreams) / n * 1000
    if each:
        result["proxy_cpu_ms_each"] = [cpu[str(p)] / n * 1000 for p in proxies]
    return result


Served = tuple[str, list[int], list[int]]


def measure(
    plan: Plan, targets: tuple[str, ...] = TARGETS, processes: int | None = None, baseline: Path | None = None
) -> dict[str, Any]:
    """Every target's cells per handshake and ``c``, in ``plan.repeat`` interleaved rounds; ``processes``
    overrides ``processes_for``; ``baseline``: another tree whose gateways run beside this one's."""
    if baseline is not None:
        targets = tuple(t for name in targets for t in (name, f"{name}@baseline") if t == name or name in GATEWAYS)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: dict[str, str] = {}
    fastmcp = None
    if "fastmcp" in targets:
        try:
            fastmcp = ensure_fastmcp()
        except (RuntimeError, OSError, ValueError) as exc:
            failures["fastmcp"] = f"FastMCP unavailable: {exc}"
            targets = tuple(t for t in targets if t != "fastmcp")
    for handshake in plan.handshakes:
        stdio = Upstream.rich_stdio().with_handshake(handshake)
        with contextlib.ExitStack() as started:
            serving: dict[str, Served] = {}
            for target in targets:
                try:
                    serving[target] = started.enter_context(_serving(target, handshake, stdio, plan.work, baseline))
                except FAILURES as exc:
                    failures[f"{handshake}/{target}"] = str(exc)
                    progress(f"  {handshake}/{target}: FAILED: {exc}")
            for c in plan.concurrency:
                _rounds(plan, handshake, c, serving, stdio, processes_for(c, processes), runs, failures)
    medians = {k: {m: median_of(v, m) for m in METRICS} for k, v in runs.items()}
    protocols = {k: sorted({r["protocol_version"] for r in v}) for k, v in runs.items()}
    return {
        "medians": medians,
        "runs": dict(runs),
        "failures": failures,
        "protocols": protocols,
        "processes": {k: v[0]["processes"] for k, v in runs.items()},
        "fastmcp": fastmcp,
        "trees": {"this": str(ROOT), **({"baseline": str(baseline)} if baseline is not None else {})},
    }


def _rounds(
    plan: Plan,
    handshake: str,
    c: int,
    serving: dict[str, Served],
    upstream: Upstream,
    clients: int,
    runs: dict[str, list[dict[str, Any]]],
    failures: dict[str, str],
) -> None:
    """One ``c``: every served target's workers connected, then ``plan.repeat`` rounds of one window each."""
    mode = upstream.protocol or "auto"
    with contextlib.ExitStack() as connected:
        loads: dict[str, Load] = {}
        for target, (url, _, _) in serving.items():
            load = Load(
                url, upstream.tool, dict(upstream.arguments), c, expect=upstream.expect, mode=mode, processes=clients
            )
            try:
                loads[target] = connected.enter_context(load)
            except FAILURES as exc:
                failures[f"{handshake}/{target}/{c}"] = str(exc)
                progress(f"  {handshake}/{target} c={c}: FAILED: {exc}")
        names = list(loads)
        for round_ in range(plan.repeat):
            turn = round_ % max(len(names), 1)
            for target in names[turn:] + names[:turn]:
                where = f"{handshake}/{target}/{c}"
                if where in failures:
                    continue
                _, proxies, upstreams = serving[target]
                try:
                    result = _cell(loads[target], proxies, upstreams, plan, target.startswith("federation"))
                except FAILURES as exc:
                    failures[where] = str(exc)
                    progress(f"  {where}: FAILED: {exc}")
                    continue
                result["round"] = round_
                runs[where].append(result)
                progress(
                    f"  {handshake:6} {target:22} c={c:<3} round {round_ + 1}/{plan.repeat}:"
                    f" {result['rps']:7.0f} rps  p50 {result['p50_ms']:7.2f} ms"
                    f"  proxy CPU {result['proxy_cpu_ms']:.3f} ms/call"
                    f"  ({result['protocol_version']}, {result['processes']} client proc)"
                    f"  errors {result['errors']}"
                )


def _ratio(a: float | None, b: float | None) -> str:
    return fmt(a / b) if a is not None and b else "—"


def _paired(result: dict[str, Any], mine: str, theirs: str) -> str:
    """The median of the rounds' own throughput ratios (each of two windows of one round), or the
    ratio of the medians for results without rounds."""
    runs = result.get("runs", {})
    by_round = {r["round"]: r["rps"] for r in runs.get(theirs, []) if "round" in r}
    ratios = [r["rps"] / by_round[r["round"]] for r in runs.get(mine, []) if by_round.get(r.get("round"))]
    if ratios:
        return fmt(statistics.median(ratios))
    medians = result["medians"]
    return _ratio(medians[mine]["rps"], medians[theirs]["rps"])


def _compare(result: dict[str, Any], target: str, against: str, label: str) -> list[list[str]]:
    """Rows of ``target`` beside ``against``, per handshake and concurrency, where both ran; with a
    baseline tree, its gateways' rows too (beside its own gateway where ``against`` is one)."""
    medians: dict[str, dict[str, Any]] = result["medians"]
    rows = []
    for tree in ("", "@baseline"):
        theirs_name = against + tree if against in GATEWAYS else against
        for key, mine in medians.items():
            handshake, name, c = key.split("/")
            theirs = medians.get(f"{handshake}/{theirs_name}/{c}")
            if name != target + tree or theirs is None:
                continue
            proxied = against != "direct"
            rows.append(
                [
                    handshake,
                    label + (" (baseline tree)" if tree else ""),
                    c,
                    fmt(theirs["rps"], 0),
                    fmt(mine["rps"], 0),
                    _paired(result, key, f"{handshake}/{theirs_name}/{c}"),
                    f"{fmt(mine['p50_ms'], 2)} / {fmt(mine['p99_ms'], 1)}",
                    fmt(mine["proxy_cpu_ms"], 3),
                    fmt(theirs["proxy_cpu_ms"], 3) if proxied else "—",
                    _ratio(mine["proxy_cpu_ms"], theirs["proxy_cpu_ms"]) if proxied else "—",
                    fmt(mine["upstream_cpu_ms"], 3),
                    fmt(mine["client_cpu_ms"], 3),
                    f"{fmt(_cores_busy(theirs), 2)} / {fmt(_cores_busy(mine), 2)}",
                    _ratio(_chain_cpu_ms(theirs), _chain_cpu_ms(mine)),
                    f"{theirs['errors']:.0f}/{mine['errors']:.0f}",
                ]
            )
    return rows


def _chain_cpu_ms(cell: dict[str, Any]) -> float | None:
    """CPU per call of every process the call passes through: client, proxies, upstream."""
    total = 0.0
    for metric in ("proxy_cpu_ms", "upstream_cpu_ms", "client_cpu_ms"):
        value = cell.get(metric)
        if value is None:
            return None
        total += value
    return total


def _cores_busy(cell: dict[str, Any]) -> float | None:
    """How many cores the cell's processes kept busy on average: calls per second times their CPU per call."""
    cpu = _chain_cpu_ms(cell)
    return cell["rps"] * cpu / 1000 if cpu is not None and cell.get("rps") is not None else None


def _notes(result: dict[str, Any]) -> list[str]:
    notes = [PAIRED_NOTE, CEILING_NOTE, f"- revisions negotiated by the client: {_revisions(result)}"]
    by_c = sorted({(int(k.rsplit("/", 1)[1]), p) for k, p in result["processes"].items()})
    notes.append("- client processes per cell (the same for every target at one c): " + _join(by_c))
    notes += [f"- {where} FAILED: {why}" for where, why in result["failures"].items()]
    return notes


def _revisions(result: dict[str, Any]) -> str:
    seen: dict[str, set[str]] = defaultdict(set)
    for key, versions in result["protocols"].items():
        seen[key.split("/")[0]].update(versions)
    return "; ".join(f"{h}: {', '.join(sorted(v))}" for h, v in seen.items())


def _join(pairs: list[tuple[int, int]]) -> str:
    return ", ".join(f"c={c}: {p}" for c, p in pairs)


HEADERS = ["handshake", "target", "c", "baseline rps", "rps", "÷ baseline", "p50 / p99 ms", "proxy CPU ms/call"]
HEADERS += ["baseline proxy CPU ms/call", "CPU ÷ baseline", "upstream CPU ms/call", "client CPU ms/call"]
HEADERS += ["cores busy base/target", "CPU-bound ceiling", "errors base/target"]
#: What the floor row is, under the gateway table when it ran.
NGINX_NOTE = (
    "- nginx: the shipped nginx config in front of the same server, a hop of next to no CPU:"
    " what any proxy's hop costs the other processes here"
)
#: What the Python floor row is, when it ran.
SPLICE_NOTE = (
    "- python splice: bench/splice.py, a Python process on uvloop passing the bytes on unread:"
    " what a hop costs here because it is a Python process, before any work of the gateway's"
)
#: What the Python floor that parses is, when it ran.
FORWARD_NOTE = (
    "- python forward: bench/forward.py, a Python process that parses each request and answer"
    " (HTTP, JSON-RPC), renumbers the request and does nothing else: the least a Python gateway can cost"
)
#: How the ratio column is taken, under every table.
PAIRED_NOTE = "- ÷ baseline: the median of the rounds' own ratios (the targets take turns, one window each per round)"
#: What the two columns before the errors mean, under every table.
CEILING_NOTE = (
    "- cores busy: calls per second × the CPU per call of client, proxies and upstream together;"
    " CPU-bound ceiling: the baseline's chain CPU per call ÷ the target's, the ratio both would reach"
    " with every core busy (what a cell CPU-bound on this machine's cores can reach at most)"
)


def gateway_table(result: dict[str, Any]) -> str:
    rows = _compare(result, "nginx", "direct", "nginx → http (a hop's floor)")
    rows += _compare(result, "python-splice", "direct", "python splice → http (a Python hop's floor)")
    rows += _compare(result, "python-forward", "direct", "python forward → http (a parsing Python hop's floor)")
    rows += _compare(result, "gateway-stdio", "direct", "gateway → stdio")
    rows += _compare(result, "gateway-http", "direct", "gateway → http")
    notes = [
        "- baseline: the same client calling the rich server directly over Streamable HTTP (`direct`);"
        " target ≥ 0.8× at every c, gateway CPU ≤ 0.4 ms per call",
        *_notes(result),
    ]
    if any(row[1].startswith("python forward") for row in rows):
        notes.insert(1, FORWARD_NOTE)
    if any(row[1].startswith("python splice") for row in rows):
        notes.insert(1, SPLICE_NOTE)
    if any(row[1].startswith("nginx") for row in rows):
        notes.insert(1, NGINX_NOTE)
    return "\n".join(["## MCP clients: the official SDK client through the gateway's /mcp", "", *_table(rows), *notes])


def fastmcp_table(result: dict[str, Any]) -> str:
    rows = _compare(result, "gateway-stdio", "fastmcp", "gateway → stdio")
    notes = [
        f"- baseline: {result.get('fastmcp') or 'FastMCP'}'s proxy (`create_proxy`, Streamable HTTP) in front of"
        " the same stdio server; target ≥ 1.8× its throughput at c=8 and 32, ≤ 1/3 of its CPU per call",
        *_notes(result),
    ]
    return "\n".join(["## MCP clients: the gateway against FastMCP's proxy", "", *_table(rows), *notes])


def federation_table(result: dict[str, Any]) -> str:
    rows = _compare(result, "federation", "gateway-http", "A → B → http")
    notes = [
        "- baseline: one gateway in front of the rich server over Streamable HTTP (`gateway-http`);"
        " proxy CPU of the federation row is A's and B's together; target ≥ 0.8×",
        *_notes(result),
    ]
    return "\n".join(["## MCP clients: two gateways in federation", "", *_table(rows), *notes])


def _table(rows: list[list[str]]) -> list[str]:
    return [markdown(HEADERS, rows), ""] if rows else ["(no cells ran)", ""]


def tables(result: dict[str, Any]) -> str:
    return "\n\n".join([gateway_table(result), fastmcp_table(result), federation_table(result)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--handshake", nargs="+", choices=list(HANDSHAKES), default=list(HANDSHAKES))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, help="client processes for every cell (default: 2 from c=32)")
    parser.add_argument("--baseline", type=Path, help="another source tree whose gateways run in the same rounds")
    parser.add_argument("--output", type=Path, help="write the raw results here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as work:
        plan = Plan(
            work=Path(work),
            seconds=args.seconds,
            warmup=args.warmup,
            repeat=args.repeat,
            concurrency=tuple(args.concurrency),
            transports=(),
            handshakes=tuple(args.handshake),
            mcpo_log_level="WARNING",
        )
        targets = tuple(t for t in TARGETS if t in args.targets)
        if "direct" not in targets and {"gateway-stdio", "gateway-http"} & set(targets):
            progress("note: without --targets direct the gateway table has no baseline")
        result = measure(plan, targets, args.processes, args.baseline)
    if args.output:
        args.output.write_text(json.dumps(result, indent=1, default=str))
    print(tables(result))


if __name__ == "__main__":
    main()
