"""What a poll of an asynchronous call costs the bridge's own code, timed in this process.

No socket and no kernel: a bridge is built in process (``Bridge.create``, its store in memory)
in front of the rich server's ``slow`` tool over stdio, ``--calls`` calls of it are started,
and the bytes of ``GET /calls/{id}`` requests, as ``bench.call_poller`` sends them, are fed to
the bridge's own HTTP protocol (``Bridge.http_protocol``: httptools' parser, the protocol's
quick answer, ``CallResources.quick_answer`` with the real gate and call store) on the bridge's
loop, ``--depth`` requests per read over ``--connections`` connections. The answers written are
counted and checked (all 200, one per poll). CPU per poll is ``time.process_time`` over
``--polls`` polls, the median of ``--batches`` batches. ``--key`` gives the bridge an API key
and the polls its ``Authorization`` header; ``--profile`` prints where one batch's time goes.

    .venv/bin/python -m bench.quick_path [--depth 1] [--polls 100000] [--key] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from bench.targets import RICH
from bridge.config import BridgeSettings, ServerConfig
from bridge.gate.credentials import presented_credential
from bridge.model import Principal
from bridge.runtime import Bridge

__all__ = ["measure"]

KEY = "quick-path-bench-key-0123456789"
#: Far longer than any measurement: the calls stay working throughout.
SLOW = {"seconds": 600}


class _Transport(asyncio.Transport):
    """Takes what the protocol writes: the bytes are kept only to be checked once, then counted."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.writes = 0
        self.keep = False
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes += 1
        if self.keep:
            self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Principals:
    """The headers a poll sends, as the gate reads them (to start the calls as the same caller)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def get(self, key: str, default: str) -> str:
        return self._headers.get(key, default)


def _bridge(key: bool) -> Bridge:
    server = ServerConfig(
        name="sleeper", transport="stdio", command=sys.executable, args=(str(RICH), "stdio", "--name", "sleeper")
    )
    settings = BridgeSettings(
        api_keys=(KEY,) if key else (), call_limit_per_caller=100_000, call_limit_total=100_000
    )  # room for the calls polled
    return Bridge.create(settings, [server])


def measure(
    polls: int, depth: int, connections: int, calls: int, batches: int, key: bool, profile: bool
) -> dict[str, Any]:
    bridge = _bridge(key)
    try:
        return bridge.pool.run(_measure(bridge, polls, depth, connections, calls, batches, key, profile), 600)
    finally:
        bridge.close()


async def _measure(
    bridge: Bridge, polls: int, depth: int, connections: int, calls: int, batches: int, key: bool, profile: bool
) -> dict[str, Any]:
    sent = {"host": "127.0.0.1:8000", **({"authorization": f"Bearer {KEY}"} if key else {})}
    principal = bridge.gate.principal(_Principals(sent)) if presented_credential(_Principals(sent)) else None
    caller = principal or Principal.anonymous()
    ids = [(await bridge.calls.start("sleeper", "slow", SLOW, principal=caller)).id for _ in range(calls)]
    app = bridge.asgi_app()
    protocol_class = bridge.http_protocol()
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Sun, 06 Dec 2026 12:00:00 GMT"), *config.encoded_headers]
    extra = "".join(f"{k}: {v}\r\n" for k, v in sent.items() if k != "host")
    lanes = []
    for lane in range(connections):
        owned = ids[lane::connections]
        requests = [f"GET /calls/{i} HTTP/1.1\r\nHost: {sent['host']}\r\n{extra}\r\n".encode() for i in owned]
        reads = [b"".join(requests[(s + i) % len(requests)] for i in range(depth)) for s in range(len(requests))]
        transport = _Transport()
        protocol = protocol_class(config, state, {}, _loop=asyncio.get_running_loop())
        protocol.connection_made(transport)
        lanes.append((protocol, transport, reads))
    await _first_through_the_route(*lanes[0][:2], requests[0])
    _check(lanes, depth)
    rounds = max(1, polls // (depth * connections))

    def batch() -> None:
        for r in range(rounds):
            for protocol, _, reads in lanes:
                protocol.data_received(reads[r % len(reads)])

    batch()  # warm: every call's answer made once
    cpu: list[float] = []
    for _ in range(batches):
        began = time.process_time()
        batch()
        cpu.append(time.process_time() - began)
    per_batch = rounds * depth * connections
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(batch)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    for protocol, _, _ in lanes:
        protocol.connection_lost(None)
    return {
        "depth": depth,
        "connections": connections,
        "key": key,
        "polls_per_batch": per_batch,
        "writes_per_batch": per_batch // depth,
        "us_per_poll": statistics.median(cpu) / per_batch * 1e6,
        "us_per_poll_batches": [round(c / per_batch * 1e6, 2) for c in cpu],
    }


async def _first_through_the_route(protocol: Any, transport: _Transport, request: bytes) -> None:
    """One poll answered by the ASGI route, as a connection's first is: it finds ``Host`` good."""
    protocol.data_received(request)
    for _ in range(1000):
        if transport.writes:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("the first poll was not answered")
    transport.writes = 0


def _check(lanes: list[tuple[Any, _Transport, list[bytes]]], depth: int) -> None:
    """Each lane's first read answered in one write, with ``depth`` 200s: the quick path, not the app."""
    for protocol, transport, reads in lanes:
        transport.keep = True
        protocol.data_received(reads[0])
        transport.keep = False
        written, transport.written = b"".join(transport.written), []
        statuses = written.count(b"HTTP/1.1 200 OK\r\n")
        if transport.writes != 1 or statuses != depth:
            raise RuntimeError(f"not answered in the protocol: {transport.writes} writes, {statuses} 200s")
        transport.writes = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=100_000, help="polls per timed batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--depth", type=int, default=20, help="polls per read (pipelined)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--key", action="store_true", help="an API key on the bridge and in every poll")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    result = measure(args.polls, args.depth, args.connections, args.calls, args.batches, args.key, args.profile)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
