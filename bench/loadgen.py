"""The HTTP load generator: one process, keep-alive connections, one request in flight on each.

``python -m bench.loadgen --port P --path /echo --body '{"text": "hello"}' --concurrency 8
--seconds 5 --warmup 0.5 --watch PID...`` prints one JSON object on stdout.

It is built to cost little CPU, because it shares two cores with what it measures: the request
bytes are built once, each connection is a bare ``asyncio.Protocol`` (no streams, no HTTP
library) on uvloop when installed, and a response is delimited by ``Content-Length`` (or chunked
framing) without parsing more of it than the status. Only calls that complete inside the measured window count;
the warm-up before it opens the connections and warms the target. At the window's edges it
reads the CPU time of the watched PIDs and its own, so CPU per request covers the same window.
It stops by itself: no new request after the window, and a bound on waiting for the last ones.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from bench.procs import cpu_seconds
from bench.stats import summarize

__all__ = ["request_bytes", "response_end", "run_load"]

#: Waiting longer than this for the last responses after the window counts them as errors.
DRAIN_TIMEOUT = 30.0
#: After a refused connection, wait this long before the next try (the window bounds the tries).
RECONNECT_PAUSE = 0.05


def request_bytes(port: int, path: str, body: bytes, headers: Sequence[str] = ()) -> bytes:
    """The one request every connection sends, ``headers`` (``Name: value`` lines) added."""
    extra = "".join(f"{line}\r\n" for line in headers)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def response_end(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """``(status, length)`` of the first complete response in ``buffer``, or None if more must arrive."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        total = head_end + 4 + int(head[at + 17 : line_end if line_end >= 0 else None])
        return (status, total) if len(buffer) >= total else None
    if b"\r\ntransfer-encoding: chunked" not in head:
        raise ValueError("response has neither Content-Length nor chunked framing")
    position = head_end + 4
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2 + size + 2
        if len(buffer) < position:
            return None
        if size == 0:  # trailers are never sent by the servers measured here
            return status, position


@dataclass
class _Window:
    """The measured interval and what happened in it (and errors at any time)."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    in_flight: set[asyncio.Transport] = field(default_factory=set)


class _Connection(asyncio.Protocol):
    def __init__(self, request: bytes, window: _Window, done: asyncio.Future[None]) -> None:
        self.request = request
        self.window = window
        self.done = done
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.finished = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection's transport can write and close (uvloop's does not subclass asyncio's class).
        self.transport = cast(asyncio.Transport, transport)
        self.window.in_flight.add(self.transport)
        self._send()

    def _send(self) -> None:
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            found = response_end(self.buffer)
        except ValueError:
            self.window.errors += 1
            self._finish()
            return
        if found is None:
            return
        status, length = found
        now = time.perf_counter()
        del self.buffer[:length]
        window = self.window
        if status != 200:
            window.errors += 1
        if window.start <= now <= window.end:
            window.latencies.append(now - self.sent_at)
            window.statuses[status] = window.statuses.get(status, 0) + 1
        if now < window.end:
            self._send()
        else:
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        assert self.transport is not None
        self.window.in_flight.discard(self.transport)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished:
            self.window.errors += 1  # closed by the target in the middle of a call
            if self.transport is not None:
                self.window.in_flight.discard(self.transport)
        if not self.done.done():
            self.done.set_result(None)


async def _keep_connected(port: int, request: bytes, window: _Window) -> None:
    """One client: a connection reused for every call, reopened if the target drops it."""
    loop = asyncio.get_running_loop()
    while time.perf_counter() < window.end:
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(functools.partial(_Connection, request, window, done), "127.0.0.1", port)
        except OSError:
            window.errors += 1
            await asyncio.sleep(RECONNECT_PAUSE)
            continue
        await done


async def run_load(
    port: int, request: bytes, concurrency: int, seconds: float, warmup: float, watch: list[int]
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    window = _Window(start=began + warmup, end=began + warmup + seconds)
    marks: dict[str, tuple[float, float, dict[int, float]]] = {}

    def mark(name: str) -> None:
        marks[name] = (time.perf_counter(), time.process_time(), {pid: cpu_seconds(pid) for pid in watch})

    loop.call_later(warmup, mark, "start")
    loop.call_later(warmup + seconds, mark, "end")
    clients = [asyncio.ensure_future(_keep_connected(port, request, window)) for _ in range(concurrency)]
    _, pending = await asyncio.wait(clients, timeout=warmup + seconds + DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
    window.errors += len(window.in_flight)  # never answered within the drain bound
    for transport in list(window.in_flight):
        transport.abort()
    if "end" not in marks:
        raise RuntimeError("the measured window never ended")
    (t0, own0, cpu0), (t1, own1, cpu1) = marks["start"], marks["end"]
    result: dict[str, object] = dict(summarize(window.latencies, t1 - t0))
    n = max(len(window.latencies), 1)
    result |= {
        "errors": window.errors,
        "statuses": {str(k): v for k, v in window.statuses.items()},
        "concurrency": concurrency,
        "loadgen_cpu_ms_per_req": (own1 - own0) / n * 1000,
        "cpu_s": {str(pid): cpu1[pid] - cpu0[pid] for pid in watch},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", required=True, help="the JSON body, sent as is")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--watch", type=int, nargs="*", default=[], help="PIDs whose CPU time to report")
    parser.add_argument("--header", action="append", default=[], help="a header line 'Name: value' (repeatable)")
    args = parser.parse_args()
    gc.disable()  # the generator makes no cycles; collections would only add pauses to the latencies
    request = request_bytes(args.port, args.path, args.body.encode(), args.header)
    loop_factory, loop_name = _cheapest_loop()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(run_load(args.port, request, args.concurrency, args.seconds, args.warmup, args.watch))
    if not result["n"]:
        sys.exit(f"no call completed in the window ({result['errors']} errors)")
    json.dump(result | {"loop": loop_name}, sys.stdout)


def _cheapest_loop() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop where it is installed (the bridge depends on it): it halves the generator's CPU per call."""
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


if __name__ == "__main__":
    main()
