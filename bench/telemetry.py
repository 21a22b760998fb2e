"""What request ids and metrics cost a tool call: ``python -m bench.telemetry`` (``bench/run.py --telemetry``).

Two real bridges in front of the rich stdio server, loaded alike (``POST /servers/rich/tools/echo``,
c=8): one with ``--no-telemetry`` and one as it ships (request ids made and returned, sent upstream
in ``_meta`` with a ``traceparent``; calls, upstream and own times counted for ``/metrics``). Rounds
interleave the two, swapping which goes first each round, so a busy machine's drift falls on both;
the target is ≥ 0.97× of the throughput without. Beside it, the edge's own share measured in
process (``observer_cost``): µs per request through ``bridge.endpoint.observe.Observer`` with
metrics, against the same trivial ASGI app bare, in alternating batches; this figure does not
depend on the upstream or on how busy the machine's other processes keep the upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench.measure import Cell, load_cell
from bench.targets import Upstream, running_bridge
from bridge.endpoint.observe import Observer
from bridge.telemetry import Metrics

__all__ = ["TARGET", "measure", "observer_cost", "table"]

TARGET: Final = 0.97
CONCURRENCY: Final = 8
#: Requests per batch, and batches of each (bare, observed) for ``observer_cost``.
BATCH: Final = 5000
BATCHES: Final = 9
_HEADERS: Final = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), (b"x-api-key", b"key")]


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _sent(message: Any) -> None:
    return None


async def _received() -> Any:
    return {"type": "http.request", "body": b"{}"}


async def _batch(app: Any) -> float:
    began = time.perf_counter()
    for _ in range(BATCH):
        scope = {"type": "http", "method": "POST", "path": "/servers/rich/tools/echo", "headers": list(_HEADERS)}
        await app(scope, _received, _sent)
    return (time.perf_counter() - began) / BATCH * 1e6


def observer_cost() -> dict[str, float]:
    """Median µs per request: a trivial ASGI app bare, and behind the ``Observer`` with metrics."""
    observed = Observer(_answer, Metrics())

    async def alternate() -> dict[str, float]:
        bare, through = [], []
        for _ in range(BATCHES):
            bare.append(await _batch(_answer))
            through.append(await _batch(observed))
        return {"bare": statistics.median(bare), "observed": statistics.median(through)}

    return asyncio.run(alternate())


def measure(seconds: float, rounds: int) -> list[dict[str, Any]]:
    """Rounds of a bridge without telemetry and one with it (see the module's notes)."""
    upstream = Upstream.rich_stdio()
    cell = Cell(CONCURRENCY, seconds, 1.0)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for round_ in range(rounds):
            order = (("off", ["--no-telemetry"]), ("on", []))
            run: dict[str, Any] = {}
            for name, options in order if round_ % 2 == 0 else tuple(reversed(order)):
                with running_bridge([upstream], work, options=options) as endpoint:
                    run[name] = load_cell(endpoint, upstream, cell)
            runs.append(run)
            off, on = run["off"], run["on"]
            print(
                f"round {round_ + 1}: telemetry off {off['rps']:.0f}/s, on {on['rps']:.0f}/s"
                f" ({on['rps'] / off['rps']:.2f}×), bridge CPU {off['proxy_cpu_ms']:.3f}"
                f" → {on['proxy_cpu_ms']:.3f} ms/call, errors {off['errors']}/{on['errors']}",
                file=sys.stderr,
            )
    return runs


def table(runs: list[dict[str, Any]], edge: dict[str, float] | None = None) -> str:
    off = statistics.median(r["off"]["rps"] for r in runs)
    on = statistics.median(r["on"]["rps"] for r in runs)
    cpu_off = statistics.median(r["off"]["proxy_cpu_ms"] for r in runs)
    cpu_on = statistics.median(r["on"]["proxy_cpu_ms"] for r in runs)
    ratios = [r["on"]["rps"] / r["off"]["rps"] for r in runs]
    verdict = "meets" if statistics.median(ratios) >= TARGET else "misses"
    return "\n".join(
        [
            f"| rich echo, stdio, c={CONCURRENCY} | rps | ÷ off | bridge CPU ms/call |",
            "| --- | ---: | ---: | ---: |",
            f"| --no-telemetry | {off:.0f} | 1.00 | {cpu_off:.3f} |",
            f"| request ids + metrics (default) | {on:.0f} | {on / off:.2f} | {cpu_on:.3f} |",
            "",
            f"Medians of {len(runs)} interleaved rounds; each round's ratio: "
            + ", ".join(f"{r:.2f}×" for r in ratios)
            + f". The median ratio {verdict} the {TARGET:.2f}× target.",
            *(
                []
                if edge is None
                else [
                    "",
                    f"In process, the edge's share: {edge['observed'] - edge['bare']:.1f} µs per request"
                    f" ({edge['bare']:.1f} µs bare, {edge['observed']:.1f} µs observed, medians of {BATCHES}"
                    f" alternating batches of {BATCH}).",
                ]
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--edge-only", action="store_true", help="only the in-process edge cost, no bridges")
    args = parser.parse_args()
    edge = observer_cost()
    runs = [] if args.edge_only else measure(args.seconds, args.rounds)
    print(table(runs, edge) if runs else f"edge: {edge}")


if __name__ == "__main__":
    main()
