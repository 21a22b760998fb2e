"""What a balancer and a second instance cost: tool calls to one bridge directly, to the same
bridge behind nginx, and to two bridges on one store behind nginx (issue 18 §4).

nginx runs the shipped ``deploy/nginx/mcp-bridge.conf`` (``harness.nginx``) with one worker.
Each round starts two bridges on one store file, each with its own stdio rich server, and nginx
twice (in front of the first bridge alone, and of both); the three targets are then loaded in
turn at each concurrency, the order rotating from round to round, so drift on a busy machine
spreads over all three. The table gives medians. Target: two behind nginx ≥ 0.9× one direct.

On two cores the bridges, their upstreams, nginx and the load generator all share the same
two CPUs: a second instance adds no CPU, so the ratio says what balancing and sharing the
store cost, not what a second machine would add.

    .venv/bin/python -m bench.instances [--seconds 3] [--rounds 2] [--concurrency 8 32]

``measure`` and ``table`` are what ``bench/run.py --instances`` runs; run alone, it also writes
``bench/results/instances.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.measure import Cell, load_cell
from bench.targets import ROOT, Endpoint, Upstream, running_bridge
from harness import descendants, running_nginx

__all__ = ["TARGETS", "measure", "table"]

#: The three targets, in the order the first round loads them.
TARGETS = ("one direct", "one behind nginx", "two behind nginx")


def _behind(nginx: tuple[int, Any], bridges: list[Endpoint]) -> Endpoint:
    """nginx as an endpoint: the bridges' paths, every process behind it watched for CPU."""
    port, proc = nginx
    watched = [*descendants(proc.pid)]
    for bridge in bridges:
        watched += [bridge.proc.pid, *bridge.upstream_pids]
    first = bridges[0]
    return Endpoint("nginx", port, proc, first.paths, 0.0, watched, headers=first.headers)


def _cpu_ms(result: dict[str, Any]) -> float:
    """CPU of every watched process (bridges, upstreams, nginx) per call, in milliseconds."""
    return sum(result["cpu_s"].values()) / max(result["n"], 1) * 1000


def one_round(work: Path, upstream: Upstream, cells: list[Cell], turn: int) -> dict[str, Any]:
    store = work / f"store-{turn}.db"
    options = ["--registry", str(store)]
    with ExitStack() as stack:
        first = stack.enter_context(running_bridge([upstream], work, options=options))
        second = stack.enter_context(running_bridge([upstream], work, options=options))
        alone = _behind(stack.enter_context(running_nginx(work / f"nginx-1-{turn}", [first.port])), [first])
        both = _behind(
            stack.enter_context(running_nginx(work / f"nginx-2-{turn}", [first.port, second.port])), [first, second]
        )
        endpoints = dict(zip(TARGETS, (first, alone, both), strict=True))
        order = TARGETS[turn % 3 :] + TARGETS[: turn % 3]
        cells_out: dict[str, dict[str, Any]] = {}
        for cell in cells:
            results = {}
            for name in order:
                result = load_cell(endpoints[name], upstream, cell)
                result["all_cpu_ms"] = _cpu_ms(result)
                results[name] = result
            cells_out[str(cell.concurrency)] = results
            line = ", ".join(f"{name} {results[name]['rps']:.0f}/s" for name in TARGETS)
            print(f"round {turn + 1} c={cell.concurrency}: {line}", file=sys.stderr)
    return cells_out


def measure(seconds: float, warmup: float, rounds: int, concurrency: tuple[int, ...] = (8, 32)) -> dict[str, Any]:
    upstream = Upstream.rich_stdio()
    cells = [Cell(c, seconds, warmup) for c in concurrency]
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as folder:
        runs = [one_round(Path(folder), upstream, cells, turn) for turn in range(rounds)]
    return {
        "settings": {"seconds": seconds, "warmup": warmup, "rounds": rounds, "concurrency": list(concurrency)},
        "runs": runs,
    }


def table(result: dict[str, Any]) -> str:
    """The markdown table from ``measure``'s result alone."""
    runs, settings = result["runs"], result["settings"]
    rows = [
        "| instances (rich echo, stdio) | c | rps | ÷ one direct, same round | p50 ms"
        " | CPU ms/call, all processes | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in settings["concurrency"]:
        key = str(c)
        for name in TARGETS:
            rps = statistics.median(run[key][name]["rps"] for run in runs)
            # Each round's own ratio: a busy machine moves a round's targets together, not its rounds.
            ratio = statistics.median(run[key][name]["rps"] / run[key][TARGETS[0]]["rps"] for run in runs)
            p50 = statistics.median(run[key][name]["p50_ms"] for run in runs)
            cpu = statistics.median(run[key][name]["all_cpu_ms"] for run in runs)
            errors = sum(run[key][name]["errors"] for run in runs)
            rows.append(f"| {name} | {c} | {rps:.0f} | {ratio:.2f} | {p50:.2f} | {cpu:.3f} | {errors} |")
    rows += [
        "",
        f"Medians of {len(runs)} rounds of {settings['seconds']:g} s cells, targets in rotating order;"
        " nginx with the shipped config and one worker; target: two behind nginx ≥ 0.90× one direct.",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    result = measure(args.seconds, args.warmup, args.rounds, tuple(args.concurrency))
    print(table(result))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "instances.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
