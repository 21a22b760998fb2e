"""How close the bridge comes to the thinnest proxy its stack allows: ``python bench/floor.py``.

Three targets on the same stdio upstream (the rich test server's ``echo``), in interleaved
rounds, each afresh: the direct SDK client, ``bench/thin_proxy.py`` (uvicorn and one SDK
session over the bridge's stdio transport, and nothing else), and the bridge. The thin
proxy's gap to direct is what any REST proxy built this way pays (an HTTP hop in front of an
SDK session); the bridge's gap to the thin proxy is what its own features cost (validation,
API keys, routing, timeouts, error mapping, the access log). Newest handshake; by default the
upstream held to one CPU (``stdio-pinned``, where the direct client is fastest) and left free
(``stdio``), at concurrency 1 and 8. Everything stops by itself; processes are stopped by PID.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.matrix import METRICS, measure_target, progress, running_upstream  # noqa: E402
from bench.measure import Plan  # noqa: E402
from bench.report import fmt, markdown, ratio  # noqa: E402
from bench.stats import median_of  # noqa: E402

TARGETS = ("direct", "thin", "bridge")


def _table(medians: dict[str, dict[str, Any]], plan: Plan) -> str:
    headers = ["transport", "c", "direct rps", "thin rps", "bridge rps", "thin÷direct", "bridge÷direct"]
    headers += ["bridge÷thin", "p50 ms (d · t · b)", "proxy CPU ms/req (t · b)", "upstream CPU ms/req (d · t · b)"]
    rows = []
    for transport in plan.transports:
        for c in plan.concurrency:
            d, t, b = (medians.get(f"{transport}/{target}/{c}", {}) for target in TARGETS)
            rows.append(
                [
                    transport,
                    str(c),
                    fmt(d.get("rps"), 0),
                    fmt(t.get("rps"), 0),
                    fmt(b.get("rps"), 0),
                    ratio(t.get("rps"), d.get("rps")),
                    ratio(b.get("rps"), d.get("rps")),
                    ratio(b.get("rps"), t.get("rps")),
                    " · ".join(fmt(m.get("p50_ms")) for m in (d, t, b)),
                    " · ".join(fmt(m.get("proxy_cpu_ms")) for m in (t, b)),
                    " · ".join(fmt(m.get("upstream_cpu_ms")) for m in (d, t, b)),
                ]
            )
    return markdown(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time of each cell (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds; medians (default 5)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--transports", nargs="+", choices=("stdio-pinned", "stdio"), default=["stdio-pinned", "stdio"])
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="mcp-floor-") as work:
        plan = Plan(
            work=Path(work),
            seconds=args.seconds,
            warmup=args.warmup,
            repeat=args.repeat,
            concurrency=tuple(args.concurrency),
            transports=tuple(args.transports),
            mcpo_log_level="WARNING",
        )
        for transport in plan.transports:
            with running_upstream(transport, plan) as upstream:
                for round_ in range(plan.repeat):
                    for target in TARGETS:
                        for c, result in zip(
                            plan.concurrency, measure_target(target, upstream, plan, plan.concurrency), strict=True
                        ):
                            runs[f"{transport}/{target}/{c}"].append(result)
                            progress(
                                f"  {transport:12} {target:6} c={c:<3} round {round_ + 1}/{plan.repeat}:"
                                f" {result['rps']:7.0f} rps  p50 {result['p50_ms']:6.2f} ms  errors {result['errors']}"
                            )
    medians = {k: {m: median_of(v, m) for m in METRICS} for k, v in runs.items()}
    errors = sum(r["errors"] for v in runs.values() for r in v)
    print(_table(medians, plan))
    print(f"\nmedians of {plan.repeat} interleaved rounds of {plan.seconds:g} s cells; errors: {errors}")


if __name__ == "__main__":
    main()
