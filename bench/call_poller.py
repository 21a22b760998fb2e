"""A bounded poller of asynchronous calls: starts N calls, then reads each R times a second.

``python -m bench.call_poller --port P --path /servers/sleeper/tools/slow --body '{"seconds": 120}'
--calls 1000 --rate 10 --seconds 20 [--header 'Authorization: Bearer K']``

Starts ``--calls`` calls with ``Prefer: respond-async`` (over a few connections), prints
``polling`` on a line of its own once all are started, then polls ``GET /calls/{id}`` for each,
``--rate`` times a second, for ``--seconds``, and prints one JSON object (polls made, their
rate, statuses, its own CPU) and exits. It stops by itself. Polls go over ``--connections``
keep-alive connections, each owning a share of the calls and pacing its requests on a fixed
schedule (a late one is sent at once, never skipped), built as ``bench.loadgen`` is: bare
``asyncio.Protocol`` connections on uvloop, a response delimited by its ``Content-Length``.

With ``--depth D`` a connection sends its polls D at a time, in one write (HTTP/1.1 pipelining,
what an HTTP/2 client's multiplexing amounts to on the wire), and sends the next D when all D
answers are in and they fall due: each call is still read ``--rate`` times a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import cast

from bench.loadgen import _cheapest_loop, request_bytes, response_end

_clock = time.perf_counter


class _Poller(asyncio.Protocol):
    """One connection: GETs of its calls in turn, each request at its slot on the schedule."""

    def __init__(self, port: int, paths: list[str], interval: float, end: float, headers: str, depth: int) -> None:
        self.requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode() for p in paths]
        self.depth = min(depth, len(paths))
        self.interval = interval * self.depth
        self.waiting = 0
        self.end = end
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.next_at = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.latencies: list[float] = []
        self.sent_at = 0.0
        self.loop = asyncio.get_running_loop()
        self.send = self._send  # one bound method, not one made per timer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.next_at = time.perf_counter()
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = _clock()
        count = len(self.requests)
        if self.depth == 1:
            self.transport.write(self.requests[self.sent % count])
        else:
            self.transport.write(b"".join(self.requests[(self.sent + i) % count] for i in range(self.depth)))
        self.sent += self.depth
        self.waiting = self.depth
        self.next_at += self.interval

    def data_received(self, data: bytes) -> None:
        if not self.buffer and self.waiting == 1:
            # A lone answer nearly always comes whole in one read: delimited where it lies, not copied.
            found = response_end(data)
            if found is not None and found[1] == len(data):
                self.waiting = 0
                self.statuses[found[0]] = self.statuses.get(found[0], 0) + 1
                self._answered()
                return
        self.buffer += data
        while self.waiting and (found := response_end(self.buffer)) is not None:
            status, length = found
            del self.buffer[:length]
            self.waiting -= 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if not self.waiting:
            self._answered()

    def _answered(self) -> None:
        """All the answers sent for are in: the next polls at their time (at once if it has passed)."""
        now = _clock()
        self.latencies.append(now - self.sent_at)
        if now >= self.end:
            assert self.transport is not None
            self.transport.close()
            return
        delay = self.next_at - now
        if delay > 0:
            self.loop.call_later(delay, self.send)
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _start_calls(port: int, path: str, body: bytes, headers: list[str], calls: int, lanes: int) -> list[str]:
    """Start ``calls`` calls (``lanes`` connections at once); their ids."""
    request = request_bytes(port, path, body, [*headers, "Prefer: respond-async"])
    ids: list[str] = []

    async def lane(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        buffer = bytearray()
        for _ in range(count):
            writer.write(request)
            while (found := response_end(buffer)) is None:
                buffer += await reader.read(65536)
            status, length = found
            head_end = buffer.find(b"\r\n\r\n")
            answer = json.loads(bytes(buffer[head_end + 4 : length]))
            del buffer[:length]
            if status != 202:
                raise RuntimeError(f"starting a call answered {status}: {answer}")
            ids.append(answer["id"])
        writer.close()

    share = [calls // lanes + (1 if i < calls % lanes else 0) for i in range(lanes)]
    await asyncio.gather(*(lane(n) for n in share if n))
    return ids


async def run(args: argparse.Namespace) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    body = args.body.encode()
    ids = await _start_calls(args.port, args.path, body, args.header, args.calls, 8)
    print("polling", flush=True)
    per_connection = [ids[i :: args.connections] for i in range(args.connections)]
    headers = "".join(f"{line}\r\n" for line in args.header)
    began = time.perf_counter()
    cpu0 = time.process_time()
    end = began + args.seconds
    pollers = []
    for paths in per_connection:
        interval = 1.0 / (args.rate * len(paths))
        poller = _Poller(args.port, [f"/calls/{i}" for i in paths], interval, end, headers, args.depth)
        await loop.create_connection(lambda p=poller: p, "127.0.0.1", args.port)  # type: ignore[misc]
        pollers.append(poller)
    await asyncio.wait([p.done for p in pollers], timeout=args.seconds + 30)
    elapsed = time.perf_counter() - began
    polls = sum(sum(p.statuses.values()) for p in pollers)
    statuses: dict[str, int] = {}
    for p in pollers:
        for status, count in p.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    latencies = sorted(x for p in pollers for x in p.latencies)
    return {
        "calls": len(ids),
        "polls": polls,
        "polls_per_s": polls / elapsed,
        "wanted_per_s": args.calls * args.rate,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
        "poller_cpu_s": time.process_time() - cpu0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="polls per call per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--depth", type=int, default=1, help="polls a connection sends in one write")
    args = parser.parse_args()
    factory, _ = _cheapest_loop()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(run(args))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
