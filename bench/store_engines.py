"""What the store's engine costs a tool call that writes: SQLite against PostgreSQL, webhooks on.

``POST /servers/rich/tools/echo`` at c=8 (``bench/loadgen.py``) against a fresh bridge with
``WEBHOOK_URL`` (one subscription to every finished call: the outbox keeps each delivery, and
the event log each event, through the store's writer, before the call is answered), its store a
SQLite file, then a database in a private PostgreSQL cluster (``tests/harness/postgres.py``, on
this machine, ``fsync`` on as an operator's would be), then the same with the bridge's sessions
at ``synchronous_commit=off`` (set in the URL: ``?options=-c%20synchronous_commit%3Doff``),
which is what SQLite's WAL with ``synchronous=NORMAL`` promises: a commit is not waited onto the
disk. Rounds alternate the three; the CPU the PostgreSQL server spent is counted apart
(``db_cpu_ms``), for it is the store's cost too.

    .venv/bin/python -m bench.store_engines [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.measure import Cell, load_cell
from bench.procs import cpu_seconds
from bench.targets import ROOT, Upstream, running_bridge
from harness import accepting, free_port, started
from tests.harness.postgres import PostgresCluster

#: Each engine measured, and what its URL adds after the database's name.
ENGINES = {
    "sqlite": "",
    "postgresql": "",
    "postgresql, synchronous_commit=off": "?options=-c%20synchronous_commit%3Doff",
}


def _cluster_cpu(cluster: PostgresCluster) -> float:
    """CPU seconds of the postmaster and every process it started (the backends, the WAL writer)."""
    pids = [cluster.pid]
    children = Path(f"/proc/{cluster.pid}/task/{cluster.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # a backend that ended meanwhile
            continue
    return total


def measure(seconds: float, warmup: float, rounds: int) -> dict[str, Any]:
    upstream = Upstream.rich_stdio()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        work = Path(folder)
        cluster_folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        cluster = PostgresCluster.start(cluster_folder, durable=True)
        try:
            port = free_port()
            argv = [sys.executable, "-m", "bench.webhook_receiver", "--port", str(port)]
            with started("webhook receiver", argv, cwd=ROOT, log=work / "receiver.log") as receiver:
                receiver.wait_until(lambda: accepting(port), 30, "accepting")
                env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_SECRET": "whsec_" + "A" * 32}
                cell = Cell(8, seconds, warmup)
                for round_ in range(rounds):
                    run: dict[str, Any] = {}
                    for engine in ENGINES:
                        options = ["--allow-private-webhooks"]
                        name = ""
                        if engine != "sqlite":
                            name = cluster.create_database()
                            options += ["--registry", cluster.url(name) + ENGINES[engine]]
                        with running_bridge([upstream], work, options=options, env=env) as endpoint:
                            db0 = _cluster_cpu(cluster)
                            result = load_cell(endpoint, upstream, cell)
                            result["db_cpu_ms"] = (_cluster_cpu(cluster) - db0) / max(result["n"], 1) * 1000
                            run[engine] = result
                        if name:
                            cluster.drop_database(name)
                    runs.append(run)
                    print(
                        f"round {round_ + 1}: "
                        + "; ".join(
                            f"{engine} {r['rps']:.0f}/s, bridge CPU {r['proxy_cpu_ms']:.3f} ms/call,"
                            f" database CPU {r['db_cpu_ms']:.3f}, errors {r['errors']}"
                            for engine, r in run.items()
                        ),
                        file=sys.stderr,
                    )
        finally:
            cluster.stop()
            shutil.rmtree(cluster_folder, ignore_errors=True)
    return {"settings": {"seconds": seconds, "warmup": warmup, "rounds": rounds}, "runs": runs}


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]

    def median(engine: str, key: str) -> float:
        return float(statistics.median(r[engine][key] for r in runs))

    base = median("sqlite", "rps")
    lines = [
        "| store (rich echo, stdio, c=8, webhooks on) | rps | ÷ SQLite | call p50 ms | bridge CPU ms/call |"
        " database server CPU ms/call |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for engine in ENGINES:
        db = f"{median(engine, 'db_cpu_ms'):.3f}" if engine != "sqlite" else "-"
        lines.append(
            f"| {engine} | {median(engine, 'rps'):.0f} | {median(engine, 'rps') / base:.2f} |"
            f" {median(engine, 'p50_ms'):.2f} | {median(engine, 'proxy_cpu_ms'):.3f} | {db} |"
        )
    lines.append(f"\nMedian of {len(runs)} alternating rounds of {result['settings']['seconds']:g} s.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(table(measure(args.seconds, args.warmup, args.rounds)))


if __name__ == "__main__":
    main()
