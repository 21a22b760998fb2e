"""The event edges under load: what SSE subscribers cost tool calls, and one WebSocket vs REST.

    .venv/bin/python -m bench.events [--seconds 5] [--warmup 1] [--repeat 3] [--subscribers 100]

(a) Tool-call throughput at c=8 through REST (``bench/loadgen.py``, as the main bench) with no
    SSE subscriber, then with ``--subscribers`` streams following every event
    (``/mcp/stream?type=*``), each read to the end by this process on a thread of its own.
(b) One WebSocket with 8 calls in flight (``tools/call`` of the same ``echo``) against REST at
    c=8: calls per second, and the bridge process's CPU per call over the same window.

Each cell gets a fresh bridge (``mcp-bridge serve``, the rich server's ``echo`` over stdio): a
feed that had subscribers keeps logging calls for a while after they leave. The rounds
interleave the cells so drift on a shared machine spreads over all of them, and the tables show
medians. Printed as markdown; nothing is written to the repository. ``measure`` and ``table``
are what ``bench/run.py --events`` runs (its result goes into ``bench/results/latest.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.measure import Cell, load_cell
from bench.procs import cpu_seconds
from bench.targets import Endpoint, Upstream, running_bridge

CONCURRENCY = 8


class _Counting(asyncio.Protocol):
    """One SSE subscriber that reads everything and counts the events."""

    def __init__(self, opened: asyncio.Event) -> None:
        self.events = 0
        self._opened = opened

    def data_received(self, data: bytes) -> None:
        if b"stream open" in data:
            self._opened.set()
        self.events += data.count(b"\nid: ") + data.startswith(b"id: ")


@contextlib.contextmanager
def following(port: int, count: int) -> Iterator[list[_Counting]]:
    """``count`` streams following every event, read on a thread of this process, open when yielded."""
    loop = asyncio.new_event_loop()
    protocols: list[_Counting] = []
    ready = threading.Event()
    request = f"GET /mcp/stream?type=* HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def connect() -> None:
        for _ in range(count):
            opened = asyncio.Event()
            transport, protocol = await loop.create_connection(lambda o=opened: _Counting(o), "127.0.0.1", port)
            transport.write(request)
            await asyncio.wait_for(opened.wait(), 10)
            protocols.append(protocol)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(connect(), loop).result(60)
    try:
        yield protocols
    finally:

        async def close() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()  # closes the transports: the bridge sees its streams vanish


async def _websocket_cell(endpoint: Endpoint, seconds: float, warmup: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    pid = endpoint.proc.pid
    async with connect(f"ws://127.0.0.1:{endpoint.port}/ws", max_size=None, compression=None) as ws:
        waiting: dict[int, asyncio.Future[None]] = {}
        ids = itertools.count()
        done: list[float] = []
        errors = 0
        began = time.perf_counter()
        start, end = began + warmup, began + warmup + seconds

        async def reader() -> None:
            nonlocal errors
            async for frame in ws:
                message = json.loads(frame)
                if "error" in message or message.get("result", {}).get("isError"):
                    errors += 1
                future = waiting.pop(message["id"], None)
                if future is not None:
                    future.set_result(None)

        async def caller() -> None:
            loop = asyncio.get_running_loop()
            while time.perf_counter() < end:
                request_id = next(ids)
                future: asyncio.Future[None] = loop.create_future()
                waiting[request_id] = future
                sent = time.perf_counter()
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": request_id,
                            "method": "tools/call",
                            "params": {"name": "echo", "arguments": {"text": "hello"}},
                        }
                    )
                )
                await future
                if start <= sent and time.perf_counter() <= end:
                    done.append(time.perf_counter() - sent)

        reading = asyncio.create_task(reader())
        await asyncio.sleep(0)
        marks: dict[str, tuple[float, float]] = {}
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + warmup, lambda: marks.__setitem__("start", (time.perf_counter(), cpu_seconds(pid))))
        loop.call_at(
            loop.time() + warmup + seconds, lambda: marks.__setitem__("end", (time.perf_counter(), cpu_seconds(pid)))
        )
        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
        reading.cancel()
    (t0, c0), (t1, c1) = marks["start"], marks["end"]
    n = max(len(done), 1)
    return {
        "rps": len(done) / (t1 - t0),
        "proxy_cpu_ms": (c1 - c0) / n * 1000,
        "p50_ms": statistics.median(done) * 1000 if done else 0.0,
        "errors": errors,
    }


def measure(seconds: float, warmup: float, repeat: int, subscribers: int = 100) -> dict[str, Any]:
    """The interleaved rounds: every cell's runs, each subscriber's median delivered events, the settings."""
    cell = Cell(CONCURRENCY, seconds, warmup)
    runs: dict[str, list[dict[str, Any]]] = {"rest": [], "rest+subs": [], "ws": []}
    delivered: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        upstream = Upstream.rich_stdio()
        for _ in range(repeat):
            # A fresh bridge per cell: once a subscriber has left, the feed keeps logging calls for a
            # while (so a stream that comes back finds them), which would tax the cells after it.
            for kind in runs:
                with running_bridge([upstream], Path(tmp)) as endpoint:
                    load_cell(endpoint, upstream, Cell(CONCURRENCY, 1.0, 0.5))  # warm the whole path once
                    if kind == "ws":
                        runs[kind].append(asyncio.run(_websocket_cell(endpoint, seconds, warmup)))
                    elif kind == "rest":
                        runs[kind].append(load_cell(endpoint, upstream, cell))
                    else:
                        with following(endpoint.port, subscribers) as streams:
                            runs[kind].append(load_cell(endpoint, upstream, cell))
                            time.sleep(0.5)
                            delivered.append(sum(s.events for s in streams) / subscribers)
    return {
        "settings": {
            "seconds": seconds,
            "warmup": warmup,
            "repeat": repeat,
            "subscribers": subscribers,
            "concurrency": CONCURRENCY,
        },
        "runs": runs,
        "delivered": delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args()
    print(table(measure(args.seconds, args.warmup, args.repeat, args.subscribers)))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def table(result: dict[str, Any]) -> str:
    """The markdown table and the ratios against the targets, from ``measure``'s result alone."""
    settings, runs = result["settings"], result["runs"]
    count, concurrency = settings["subscribers"], settings["concurrency"]
    rest, subs, ws = (runs[k] for k in ("rest", "rest+subs", "ws"))
    rows = [
        "| cell | rps | p50 ms | bridge CPU ms/call | errors |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, cell in (
        (f"REST c={concurrency}, no subscriber", rest),
        (f"REST c={concurrency}, {count} SSE subscribers (type=*)", subs),
        (f"one WebSocket, {concurrency} calls in flight", ws),
    ):
        rows.append(
            f"| {name} | {_median(cell, 'rps'):.0f} | {_median(cell, 'p50_ms'):.2f} | "
            f"{_median(cell, 'proxy_cpu_ms'):.3f} | {sum(r['errors'] for r in cell)} |"
        )
    ratio = _median(subs, "rps") / _median(rest, "rps")
    ws_ratio = _median(ws, "rps") / _median(rest, "rps")
    cpu_ratio = _median(ws, "proxy_cpu_ms") / _median(rest, "proxy_cpu_ms")
    rows += [
        "",
        f"- with {count} subscribers ÷ none: **{ratio:.3f}** (target ≥ 0.95); each subscriber "
        f"received a median {statistics.median(result['delivered']):.0f} events per cell",
        f"- WebSocket ÷ REST throughput: **{ws_ratio:.3f}** (target ≥ 1); CPU per call: **{cpu_ratio:.3f}** "
        "(target ≤ 1)",
        f"- {settings['repeat']} interleaved rounds of {settings['seconds']:g} s cells after "
        f"{settings['warmup']:g} s warm-up; medians",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
