"""What an in-memory limit check costs per request, timed in this process (on demand, not a test).

``python -m bench.limit_checks`` runs the bridge's own limit code (``bridge.limits``) as the edges
and the gateway run it, with no server and no network, and prints the cost per request in
microseconds (the median batch and the best one: on a machine others share, the best is the
closer to the code's own cost):

- ``caller rate, allowed (1000 callers)``: ``CallerRate.charge`` (what Flask's workers call) at
  ``--rate-limit 6000/minute --rate-burst 100`` (100 in any second), 1,000 callers taking turns,
  each inside its rate: the common case;
- the same through ``acharge``, as the fast route, ``/mcp`` and ``/ws`` await it on the loop;
- ``caller rate, allowed (100 busy callers)``: 100 callers at 60000/minute with a burst of 1,000,
  so that each one's moving window holds hundreds of entries;
- ``caller rate, allowed (10 callers, a window of 100,000)``: a window past ``EXACT_QUOTA``, kept
  as two counters, whatever the traffic;
- ``caller rate, refused``: a caller past its rate, the 429 built (its window looked up for
  ``Retry-After``);
- ``calls in flight``: ``UpstreamLimits.acquire`` and the lease's ``release`` around one call, at
  ``--max-concurrent-calls 8 --server-limit rich=concurrent=16``.

The issue's target is 10 µs for an in-memory rate check.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable

from bridge.config import Limit, LimitSettings, parse_rate
from bridge.errors import RateLimited
from bridge.limits import CallerRate, Limits, UpstreamLimits
from bridge.model import Principal

__all__ = ["measure_limits"]

#: Checks per timed batch, and batches (31 × 2,000: each of 1,000 callers checked 62 times, inside its 100).
BATCH = 2000
BATCHES = 31
CALLERS = 1000
BUSY = 100
FEW = 10

Timing = tuple[float, float]


def _timed(batch: Callable[[], None]) -> Timing:
    times = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        batch()
        times.append((time.perf_counter() - started) / BATCH * 1e6)
    return statistics.median(times), min(times)


async def _atimed(batch: Callable[[], Awaitable[None]]) -> Timing:
    times = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        await batch()
        times.append((time.perf_counter() - started) / BATCH * 1e6)
    return statistics.median(times), min(times)


def _caller(rate: str, burst: int | None) -> CallerRate:
    built = Limits.create(LimitSettings(caller=Limit(parse_rate(rate, burst), None))).caller
    if built is None:
        raise RuntimeError("no caller rate was built")
    return built


def _upstream() -> UpstreamLimits:
    built = Limits.create(LimitSettings(caller=Limit(None, 8), servers={"rich": Limit(None, 16)})).upstream
    if built is None:
        raise RuntimeError("no upstream limits were built")
    return built


def _callers(name: str, count: int) -> list[Principal]:
    return [Principal(f"key:{name}-{i}") for i in range(count)]


def measure_limits() -> dict[str, Timing]:
    """Microseconds per check (the median batch's, the best batch's), by what was checked."""
    caller = _caller("6000/minute", 100)
    threads, loop, busy = _callers("thread", CALLERS), _callers("loop", CALLERS), _callers("busy", BUSY)
    flooding = Principal("key:flooding")
    many_busy = _caller("60000/minute", 1000)
    large = _caller("100000/minute", None)
    few = _callers("large", FEW)
    upstream = _upstream()

    def allowed() -> None:
        for i in range(BATCH):
            caller.charge(threads[i % CALLERS])

    def allowed_busy() -> None:
        for i in range(BATCH):
            many_busy.charge(busy[i % BUSY])

    def allowed_large() -> None:
        for i in range(BATCH):
            large.charge(few[i % FEW])

    def refused() -> None:
        for _ in range(BATCH):
            with contextlib.suppress(RateLimited):
                caller.charge(flooding)

    async def allowed_on_loop() -> None:
        for i in range(BATCH):
            await caller.acharge(loop[i % CALLERS])

    async def in_flight() -> None:
        for _ in range(BATCH):
            lease = await upstream.acquire(loop[0], "rich", "echo", 60.0)
            if lease is not None:
                await lease.release()

    return {
        f"caller rate, allowed ({CALLERS} callers)": _timed(allowed),
        f"caller rate, allowed ({CALLERS} callers), on the loop": asyncio.run(_atimed(allowed_on_loop)),
        f"caller rate, allowed ({BUSY} busy callers)": _timed(allowed_busy),
        f"caller rate, allowed ({FEW} callers, a window of 100,000)": _timed(allowed_large),
        "caller rate, refused (the 429 built)": _timed(refused),
        "calls in flight (acquire and release)": asyncio.run(_atimed(in_flight)),
    }


def main() -> None:
    print(f"{'':58} {'median':>8} {'best':>8}  (µs per request)")
    for what, (median, best) in measure_limits().items():
        print(f"{what:58} {median:8.2f} {best:8.2f}")


if __name__ == "__main__":
    main()
