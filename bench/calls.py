"""What asynchronous calls cost (issue 16 §5): creating one, and a thousand being polled.

- **creation**: the bridge's CPU per call at c=8 for ``POST /servers/rich/tools/echo`` answered
  synchronously, and for the same call made with ``Prefer: wait=10``: kept in the call store,
  run in its own task, its end written to the store, and answered synchronously all the same
  (it ends long before 10 s). The difference is what an asynchronous call costs beyond the call
  itself (target: ≤ 1 ms). ``respond-async`` costs the same work, then the caller reads it once.
- **polled**: sync echo calls at c=8 (``bench/loadgen.py``) against a fresh bridge, and against
  another fresh bridge while ``bench/call_poller.py`` (a process of its own, bounded) holds 1,000
  calls of a slow tool on a second upstream and reads each 10 times a second (10,000 ``GET
  /calls/{id}`` a second asked for; the table says how many it made). The two cells take turns
  to go first, round by round. Target: ≥ 0.9× of the throughput without.
  Twice: each of the poller's 50 connections sending one poll and waiting for its answer, and
  sending its polls ``PIPELINED`` at a time in one write (HTTP/1.1 pipelining: what a client that
  multiplexes its polls over a few connections, as HTTP/2 does, puts on the wire).

    .venv/bin/python -m bench.calls [--seconds 5] [--rounds 3] [--calls 1000] [--rate 10] [--only polled]
        [--baseline DIR]

``--baseline DIR`` (another source tree, e.g. ``git archive`` of main) runs that tree's bridge and
poller in the same rounds as this one's, the four cells of a round turned together: what a change
does to the ratio, measured under the same load.
``measure`` and ``table`` are what ``bench/run.py`` runs; run alone, it also writes
``bench/results/calls.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import Cell, load_cell
from bench.procs import cpu_seconds
from bench.targets import RICH, ROOT, Upstream, running_bridge

#: Polls a connection sends together in the pipelined rounds: all of its share of 1,000 calls.
PIPELINED = 20
#: Room for a thousand calls of this bench (the defaults are 100 per caller, 1,000 in all).
OPTIONS = ["--call-limit-per-caller", "100000", "--call-limit", "100000"]


def _sleeper() -> Upstream:
    """A second rich server for the slow calls (its readiness check calls ``slow`` with 0 s)."""
    command = (sys.executable, str(RICH), "stdio", "--name", "sleeper")
    return Upstream("sleeper", "slow", {"seconds": 0}, command=command, expect="")


def creation(work: Path, cell: Cell, rounds: int) -> list[dict[str, Any]]:
    runs = []
    upstream = Upstream.rich_stdio()
    for round_ in range(rounds):
        with running_bridge([upstream], work, options=OPTIONS) as endpoint:
            sync = load_cell(endpoint, upstream, cell)
            waited = load_cell(dataclasses.replace(endpoint, headers=["Prefer: wait=10"]), upstream, cell)
        runs.append({"sync": sync, "async": waited})
        print(
            f"creation round {round_ + 1}: sync {sync['rps']:.0f}/s {sync['proxy_cpu_ms']:.3f} ms/call,"
            f" async (wait=10) {waited['rps']:.0f}/s {waited['proxy_cpu_ms']:.3f} ms/call,"
            f" errors {sync['errors']}/{waited['errors']}",
            file=sys.stderr,
        )
    return runs


def polled(
    work: Path, cell: Cell, rounds: int, calls: int, rate: float, depth: int = 1, trees: dict[str, Path] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``rounds`` rounds of sync calls alone and beside the poller, for each source tree of ``trees``
    (its bridge and its poller; by default this one, as ``polled``): each cell on a bridge of its
    own, started afresh, and the cells of a round in an order turned by one place every round, so
    that each cell (the throughput without polls as much as that with them) takes each place in
    the order as often as any other."""
    trees = trees or {"polled": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    echo, sleeper = Upstream.rich_stdio(), _sleeper()
    cells = [(name, kind) for name in trees for kind in ("alone", "beside")]
    for round_ in range(rounds):
        turned = cells[round_ % len(cells) :] + cells[: round_ % len(cells)]
        found: dict[tuple[str, str], Any] = {}
        for name, kind in turned:
            if kind == "alone":
                found[name, kind] = _alone(work, cell, echo, sleeper, trees[name])
            else:
                found[name, kind] = _beside(work, cell, echo, sleeper, calls, rate, depth, trees[name])
        order = ", ".join(f"{name} {kind}" for name, kind in turned)
        for name in trees:
            alone, (beside, polls) = found[name, "alone"], found[name, "beside"]
            runs[name].append({"alone": alone, "polled": beside, "poller": polls, "order": order})
            print(
                f"{name} round {round_ + 1}: alone {alone['rps']:.0f}/s, with {calls} calls polled"
                f" {beside['rps']:.0f}/s ({beside['rps'] / alone['rps']:.2f}×), polls {polls['polls_per_s']:.0f}/s"
                f" of {polls['wanted_per_s']:.0f} asked, bridge CPU {alone['proxy_cpu_ms']:.3f} →"
                f" {beside['proxy_cpu_ms']:.3f} ms/call, a poll alone: bridge {polls['bridge_us_per_poll']:.0f} µs,"
                f" poller {polls['poller_us_per_poll']:.0f} µs; statuses {polls['statuses']} (order: {order})",
                file=sys.stderr,
            )
    return runs


def _alone(work: Path, cell: Cell, echo: Upstream, sleeper: Upstream, root: Path) -> dict[str, Any]:
    """Sync calls on a fresh bridge with both upstreams and no async call."""
    with running_bridge([echo, sleeper], work, options=OPTIONS, root=root) as endpoint:
        return load_cell(endpoint, echo, cell)


def _beside(
    work: Path, cell: Cell, echo: Upstream, sleeper: Upstream, calls: int, rate: float, depth: int, root: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sync calls on a fresh bridge while the poller holds ``calls`` calls and polls them; and the poller's figures."""
    slow = {"seconds": cell.warmup + cell.seconds + 120}  # outlasts the measurement
    with running_bridge([echo, sleeper], work, options=OPTIONS, root=root) as endpoint:
        argv = [sys.executable, "-m", "bench.call_poller", "--port", str(endpoint.port)]
        argv += ["--path", endpoint.path(sleeper), "--body", json.dumps(slow)]
        # The poller alone for a while (what a poll costs each process), then the calls beside it.
        lasts = cell.seconds + cell.warmup + cell.seconds + 2
        argv += ["--calls", str(calls), "--rate", str(rate), "--seconds", str(lasts), "--depth", str(depth)]
        with subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, text=True) as poller:
            assert poller.stdout is not None
            if poller.stdout.readline().strip() != "polling":
                raise RuntimeError("the poller did not start its calls")
            quiet = _cpu_over(cell.seconds, endpoint.proc.pid, poller.pid)
            beside = load_cell(endpoint, echo, cell)
            out, _ = poller.communicate(timeout=lasts + 60)
    polls: dict[str, Any] = json.loads(out)
    polls["bridge_us_per_poll"] = quiet["bridge"] / (polls["polls_per_s"] * quiet["seconds"]) * 1e6
    polls["poller_us_per_poll"] = quiet["poller"] / (polls["polls_per_s"] * quiet["seconds"]) * 1e6
    return beside, polls


def _cpu_over(seconds: float, bridge: int, poller: int) -> dict[str, float]:
    """CPU seconds the bridge and the poller use over the next ``seconds`` (the poller alone at work)."""
    before = (time.perf_counter(), cpu_seconds(bridge), cpu_seconds(poller))
    time.sleep(seconds)
    after = (time.perf_counter(), cpu_seconds(bridge), cpu_seconds(poller))
    return {"seconds": after[0] - before[0], "bridge": after[1] - before[1], "poller": after[2] - before[2]}


#: The parts ``measure`` runs, by name.
PARTS = ("creation", "polled", "pipelined")


def measure(
    seconds: float,
    warmup: float,
    rounds: int,
    calls: int = 1000,
    rate: float = 10.0,
    parts: tuple[str, ...] = PARTS,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """The parts asked for; with a ``baseline`` source tree, its bridge and poller are measured in
    the same rounds as this tree's (polled parts only), their cells turned together."""
    result: dict[str, Any] = {
        "settings": {"seconds": seconds, "warmup": warmup, "rounds": rounds, "calls": calls, "rate": rate},
        "baseline": None if baseline is None else str(baseline),
    }
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as folder:
        work = Path(folder)
        cell = Cell(8, seconds, warmup)
        result["creation"] = creation(work, cell, rounds) if "creation" in parts else []
        for key, depth in (("polled", 1), ("pipelined", PIPELINED)):
            trees = {key: ROOT} if baseline is None else {key: ROOT, f"baseline {key}": baseline}
            ran = key in parts
            result |= polled(work, cell, rounds, calls, rate, depth, trees) if ran else {name: [] for name in trees}
    return result


def table(result: dict[str, Any]) -> str:
    made, settings = result["creation"], result["settings"]
    lines = []
    if made:
        sync_cpu = statistics.median(r["sync"]["proxy_cpu_ms"] for r in made)
        async_cpu = statistics.median(r["async"]["proxy_cpu_ms"] for r in made)
        sync_rps = statistics.median(r["sync"]["rps"] for r in made)
        async_rps = statistics.median(r["async"]["rps"] for r in made)
        lines += [
            "| echo at c=8 | calls/s | bridge CPU ms/call |",
            "| --- | ---: | ---: |",
            f"| synchronous | {sync_rps:.0f} | {sync_cpu:.3f} |",
            f"| asynchronous (`Prefer: wait=10`) | {async_rps:.0f} | {async_cpu:.3f} |",
            f"| **an async call beyond the call itself** | | **{async_cpu - sync_cpu:+.3f}** (target ≤ 1 ms) |",
            "",
        ]
    lines += [
        f"Sync echo at c=8, alone and beside {settings['calls']} async calls each polled {settings['rate']:g}×/s:",
        "",
        "| polls sent | alone calls/s | beside calls/s (ratio, target ≥ 0.9×) | polls/s made, p50 |"
        " bridge CPU ms/call alone → beside | CPU per poll: bridge, poller |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    labels = [("polled", "one at a time"), ("pipelined", f"{PIPELINED} at a time")]
    for key, label in [*labels, *((f"baseline {key}", f"{label}, baseline") for key, label in labels)]:
        load = result.get(key)
        if not load:
            continue
        alone = statistics.median(r["alone"]["rps"] for r in load)
        beside = statistics.median(r["polled"]["rps"] for r in load)
        ratios = ", ".join(f"{r['polled']['rps'] / r['alone']['rps']:.2f}" for r in load)
        polls = statistics.median(r["poller"]["polls_per_s"] for r in load)
        p50 = statistics.median(r["poller"]["p50_ms"] for r in load)
        cpu_alone = statistics.median(r["alone"]["proxy_cpu_ms"] for r in load)
        cpu_beside = statistics.median(r["polled"]["proxy_cpu_ms"] for r in load)
        bridge_poll = statistics.median(r["poller"]["bridge_us_per_poll"] for r in load)
        poller_poll = statistics.median(r["poller"]["poller_us_per_poll"] for r in load)
        lines.append(
            f"| {label} | {alone:.0f} | {beside:.0f} ({beside / alone:.2f}×; rounds {ratios}) |"
            f" {polls:.0f}, {p50:.2f} ms | {cpu_alone:.3f} → {cpu_beside:.3f} |"
            f" {bridge_poll:.0f} µs, {poller_poll:.0f} µs |"
        )
    rounds = f"Medians of {settings['rounds']} rounds of {settings['seconds']:g} s cells"
    lines += ["", f"{rounds}; each cell a fresh bridge, the cells of a round in an order turned by one every round."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument(
        "--baseline", type=Path, help="another source tree whose bridge and poller run in the same rounds"
    )
    args = parser.parse_args()
    parts = tuple(args.only) if args.only else PARTS
    result = measure(args.seconds, args.warmup, args.rounds, args.calls, args.rate, parts, args.baseline)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "calls.json").write_text(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
