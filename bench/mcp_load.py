"""The MCP-client load generator: the official SDK client calling one tool over Streamable HTTP.

``python -m bench.mcp_load --url http://127.0.0.1:P/mcp --tool echo --arguments '{"text": "hello"}'
--concurrency 8 --seconds 5 [--mode auto|legacy] [--processes 2] [--watch PID...]`` prints one
JSON object on stdout, shaped like ``bench.loadgen``'s (``n``, ``rps``, ``p50_ms``, ``errors``,
``cpu_s`` per PID), plus the revision the clients negotiated.

What it drives is what an MCP client is: ``mcp.Client`` (a ``ClientSession`` over
``streamable_http_client``), ``mode="legacy"`` for the 2025-11-25 ``initialize`` handshake and
its ``Mcp-Session-Id``, ``"auto"`` for ``server/discover`` and the stateless 2026-07-28
revision. The same client goes straight to an upstream (the baseline) or to a gateway's ``/mcp``,
so the two differ only in what is behind the URL.

One Python client process spends about as much CPU per call as the server it calls, so at
c=32 on two cores it, not the target, can be the limit. ``--processes N`` splits the
``concurrency`` tasks over N worker processes (each with its own client and session, the tasks
as even as they go); the baseline is meant to run with the same N, so a ratio compares targets,
not client set-ups. The workers start, connect and check one call, then this process gives them
a window: they load from then on (the warm-up first), count the calls completing inside it,
and stop sending at its end. This process reads the CPU time of the watched PIDs and of the
workers at the window's edges (``client_cpu_ms``: every worker's CPU per call). ``Load`` keeps
the workers connected for as many windows as it is given, one after another, so the windows of
several targets can take turns (``bench.mcp_clients``); ``run_load`` is one window with workers
of its own. A worker whose stdin closes (its parent is done, or gone) ends its session and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.procs import cpu_seconds
from bench.stats import summarize

__all__ = ["Load", "run_load", "split"]

#: Connecting, the handshake and the first call of every worker, on a busy machine.
READY_TIMEOUT = 60.0
#: Waiting longer than this for the last calls after the window ends counts them as errors.
DRAIN_TIMEOUT = 30.0


def split(concurrency: int, processes: int) -> list[int]:
    """Tasks per worker: ``concurrency`` spread as evenly as it goes over at most ``processes``."""
    workers = max(1, min(processes, concurrency))
    return [concurrency // workers + (i < concurrency % workers) for i in range(workers)]


async def _worker(url: str, tool: str, arguments: dict[str, Any], expect: str, tasks: int, mode: str) -> None:
    """Connect, check one call, say ready, then load in each window the parent sends on stdin."""
    from mcp import Client  # imported here: the parent process never needs the SDK

    loop = asyncio.get_running_loop()
    async with Client(url, cache=None, mode=mode) as client:
        first = await client.call_tool(tool, arguments)
        if first.is_error or expect not in str(first.content):
            raise RuntimeError(f"{tool} answered {str(first.content)[:300]}")
        print(json.dumps({"protocol_version": client.protocol_version}), flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):  # "" once the parent is done
            start, end = map(float, line.split())
            print(json.dumps(await _window(client, tool, arguments, tasks, start, end)), flush=True)


async def _window(
    client: Any, tool: str, arguments: dict[str, Any], tasks: int, start: float, end: float
) -> dict[str, Any]:
    """``tasks`` callers from now (the warm-up) to ``end``; latencies of the calls completing from ``start``."""
    latencies: list[float] = []
    errors = 0

    async def caller() -> None:
        nonlocal errors
        while (sent := time.monotonic()) < end:
            try:
                result = await client.call_tool(tool, arguments)
                failed = bool(result.is_error)
            except Exception:  # any failure of a call is an error of the cell
                failed = True
            done = time.monotonic()
            errors += failed
            if start <= done <= end and not failed:
                latencies.append(done - sent)

    callers = [asyncio.create_task(caller()) for _ in range(tasks)]
    _, late = await asyncio.wait(callers, timeout=end - time.monotonic() + DRAIN_TIMEOUT)
    for task in late:
        task.cancel()
    return {"latencies": latencies, "errors": errors + len(late)}


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """One line of a worker's stdout by ``deadline``, or RuntimeError quoting its stderr."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        stderr = proc.stderr.read() if proc.stderr is not None else ""
        raise RuntimeError(f"MCP client worker {proc.pid} gave no answer: {stderr.strip()[-1500:]}")
    return line


class Load:
    """Client worker processes connected to one URL, each window of load given to them in turn.

    Entering starts the workers and waits until each has connected and made one call; leaving
    closes their stdin (they end their sessions and exit) and reaps them. Between windows they
    stay connected and idle, so windows of several targets can take turns on one machine."""

    def __init__(
        self,
        url: str,
        tool: str,
        arguments: dict[str, Any],
        concurrency: int,
        *,
        expect: str = "",
        mode: str = "auto",
        processes: int = 1,
    ) -> None:
        self.concurrency = concurrency
        self.mode = mode
        self.protocol_version = ""
        argv = [sys.executable, "-m", "bench.mcp_load", "--worker", "--url", url, "--tool", tool]
        argv += ["--arguments", json.dumps(arguments), "--expect", expect, "--mode", mode]
        self._argv = argv
        self._tasks = split(concurrency, processes)
        self._workers: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Load:
        root = Path(__file__).resolve().parent.parent
        try:
            for tasks in self._tasks:
                worker = subprocess.Popen(
                    [*self._argv, "--concurrency", str(tasks)],
                    cwd=root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                self._workers.append(worker)
            deadline = time.monotonic() + READY_TIMEOUT
            versions = sorted({json.loads(_read_line(w, deadline))["protocol_version"] for w in self._workers})
        except BaseException:
            self._stop()
            raise
        self.protocol_version = versions[0] if len(versions) == 1 else ",".join(versions)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        for worker in self._workers:
            if worker.stdin is not None:
                with contextlib.suppress(OSError):  # a worker that died leaves a broken pipe
                    worker.stdin.close()
        for worker in self._workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            for pipe in (worker.stdout, worker.stderr):
                if pipe is not None:
                    pipe.close()
        self._workers = []

    def window(
        self,
        seconds: float,
        warmup: float,
        *,
        watch: list[int] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """One cell: a warm-up, the measured window, the workers' results and the watched PIDs' CPU.

        ``on_start`` is called as the window opens (after the warm-up): a profiler samples from then."""
        workers = self._workers
        pids = [*(watch or []), *(w.pid for w in workers)]
        start = time.monotonic() + warmup
        end = start + seconds
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start} {end}\n")
            worker.stdin.flush()
        time.sleep(max(0.0, start - time.monotonic()))
        t0, cpu0 = time.monotonic(), {pid: cpu_seconds(pid) for pid in pids}
        if on_start is not None:
            on_start()
        time.sleep(max(0.0, end - time.monotonic()))
        t1, cpu1 = time.monotonic(), {pid: cpu_seconds(pid) for pid in pids}
        done = [json.loads(_read_line(w, end + DRAIN_TIMEOUT + 10)) for w in workers]
        latencies = [latency for result in done for latency in result["latencies"]]
        result: dict[str, Any] = dict(summarize(latencies, t1 - t0))
        n = result["n"]
        client_cpu = sum(cpu1[w.pid] - cpu0[w.pid] for w in workers)
        result |= {
            "errors": sum(r["errors"] for r in done),
            "concurrency": self.concurrency,
            "processes": len(workers),
            "mode": self.mode,
            "protocol_version": self.protocol_version,
            "cpu_s": {str(pid): cpu1[pid] - cpu0[pid] for pid in watch or []},
            "client_cpu_ms": client_cpu / max(n, 1) * 1000,
        }
        return result


def run_load(
    url: str,
    tool: str,
    arguments: dict[str, Any],
    concurrency: int,
    seconds: float,
    warmup: float,
    *,
    expect: str = "",
    mode: str = "auto",
    processes: int = 1,
    watch: list[int] | None = None,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One cell with workers of its own: started and ready, a warm-up, the measured window, their results.

    ``on_start`` is called as the window opens (after the warm-up): a profiler samples from then."""
    with Load(url, tool, arguments, concurrency, expect=expect, mode=mode, processes=processes) as load:
        return load.window(seconds, warmup, watch=watch, on_start=on_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="a Streamable HTTP MCP endpoint")
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--arguments", default='{"text": "hello"}', help="the tool's arguments as JSON")
    parser.add_argument("--expect", default="hello", help="text the first answer must contain")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight, over all workers")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--mode", default="auto", help="the SDK client's mode: auto (2026-07-28) or legacy (2025)")
    parser.add_argument("--processes", type=int, default=1, help="client worker processes sharing the tasks")
    parser.add_argument("--watch", type=int, nargs="*", default=[], help="PIDs whose CPU time to report")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    arguments = json.loads(args.arguments)
    if args.worker:
        asyncio.run(_worker(args.url, args.tool, arguments, args.expect, args.concurrency, args.mode))
        return
    result = run_load(
        args.url,
        args.tool,
        arguments,
        args.concurrency,
        args.seconds,
        args.warmup,
        expect=args.expect,
        mode=args.mode,
        processes=args.processes,
        watch=args.watch,
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
