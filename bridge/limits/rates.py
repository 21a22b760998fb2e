"""Rates kept by the ``limits`` library: a rate with a burst as moving windows, counted per key.

A rate of ``count`` per ``seconds`` with a ``burst`` is kept as a moving window of ``burst``
requests in any ``burst × seconds / count`` seconds: a caller may send its burst at once, and
on average no more than the rate, never more than a token bucket of that rate and size would
let through. ``limits`` counts whole seconds, so when that window is not a whole number of
seconds it is cut to one that is, and the rate itself is kept as a second window beside it.

A window of up to ``EXACT_QUOTA`` requests keeps each request's time (``limits``' moving window:
exact, but its cost grows with the quota, a list of that many entries per key); a larger one
keeps two counters (its sliding-window counter: the previous window weighted by how much of it
is still in view, so near exact, at a cost that does not grow).

A ``Meter`` hits windows in one storage: in this process, or in Redis so that several bridges
count together. Threads (Flask's workers) hit it with ``hit``; the event loop with ``ahit``,
which against Redis goes through the asyncio client and never blocks the loop. In memory both
count in the same place. If Redis cannot be reached the request is let through and the failure
logged: a limit protects the upstreams, and is not worth refusing every caller for.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.aio.strategies import RateLimiter as AsyncRateLimiter
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindow
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter

from bridge.config import Rate
from bridge.errors import RateLimited

__all__ = ["EXACT_QUOTA", "Meter", "Window", "windows"]

log = logging.getLogger(__name__)

#: Windows of up to this many requests are kept exactly (measured by bench/limit_checks.py: a moving
#: window's check grows from about 3 µs at 100 entries to about 20 µs at 10,000).
EXACT_QUOTA = 1000


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``item.amount`` hits in any ``item.get_expiry()`` seconds, named ``policy`` in headers."""

    policy: str
    item: RateLimitItem

    @property
    def quota(self) -> int:
        return self.item.amount

    @property
    def seconds(self) -> int:
        return self.item.get_expiry()

    @property
    def exact(self) -> bool:
        """Kept as each request's time (moving window), not as two counters (sliding-window counter)."""
        return self.item.amount <= EXACT_QUOTA


def windows(policy: str, rate: Rate) -> tuple[Window, ...]:
    """The moving windows that keep ``rate`` (see the module's notes)."""
    burst = rate.count if rate.burst is None else rate.burst
    span = burst * rate.seconds // rate.count  # config.parse_rate holds this at a second or more
    short = RateLimitItemPerSecond(burst, span)
    if burst * rate.seconds == span * rate.count:
        return (Window(policy, short),)  # exact: the burst's window keeps the rate on its own
    # Cut to whole seconds the burst's window lets a little more through; the rate, over a window
    # at least as long, takes that back without cutting into the burst.
    periods = -(-burst // rate.count)
    return (
        Window(f"{policy}-burst", short),
        Window(policy, RateLimitItemPerSecond(rate.count * periods, rate.seconds * periods)),
    )


class Meter:
    """Windows over one storage; ``hit`` from threads, ``ahit`` from the event loop."""

    def __init__(self, storage: Storage, shared: AsyncStorage | None = None) -> None:
        self._exact = MovingWindowRateLimiter(storage)
        self._counted = SlidingWindowCounterRateLimiter(storage)
        #: Redis through asyncio, for the loop; None in memory, where the loop uses the same as threads.
        self._shared: tuple[AsyncRateLimiter, AsyncRateLimiter] | None = None
        if shared is not None:
            self._shared = (AsyncMovingWindow(shared), AsyncSlidingWindow(shared))

    @property
    def local(self) -> bool:
        """Whether the counts are kept in this process (no Redis): a hit is then quick enough for the loop."""
        return self._shared is None

    def allows(self, windows: Sequence[Window], key: str) -> bool:
        """Whether a hit for ``key`` would be let through now, counting nothing (as ``hit`` counts: in
        this process's storage, or Redis's from a thread; unreachable, it lets through)."""
        for window in windows:
            strategy: RateLimiter = self._exact if window.exact else self._counted
            try:
                if not strategy.test(window.item, window.policy, key):
                    return False
            except StorageError as exc:
                _unreachable(exc)
                return True
        return True

    def hit(self, windows: Sequence[Window], key: str, what: str) -> None:
        """Count one hit for ``key`` in each window, or raise ``RateLimited`` for the first that is full."""
        for window in windows:
            strategy: RateLimiter = self._exact if window.exact else self._counted
            try:
                if strategy.hit(window.item, window.policy, key):
                    continue
                reset = strategy.get_window_stats(window.item, window.policy, key).reset_time
            except StorageError as exc:
                _unreachable(exc)
                return
            raise _refusal(window, reset, what)

    async def ahit(self, windows: Sequence[Window], key: str, what: str) -> None:
        shared = self._shared
        if shared is None:
            self.hit(windows, key, what)
            return
        exact, counted = shared
        for window in windows:
            strategy = exact if window.exact else counted
            try:
                if await strategy.hit(window.item, window.policy, key):
                    continue
                reset = (await strategy.get_window_stats(window.item, window.policy, key)).reset_time
            except StorageError as exc:
                _unreachable(exc)
                return
            raise _refusal(window, reset, what)


def _refusal(window: Window, reset: float, what: str) -> RateLimited:
    wait = max(1, math.ceil(reset - time.time()))
    span = "1 second" if window.seconds == 1 else f"{window.seconds} seconds"
    return RateLimited(
        f"{what} is past its limit of {window.quota} in {span}; retry in {wait} s",
        policy=window.policy,
        quota=window.quota,
        window=window.seconds,
        retry_after=wait,
    )


def _unreachable(exc: StorageError) -> None:
    # Only the error's class: its message may name the Redis URL, which may carry a password.
    log.warning("rate-limit storage unavailable, request let through: %s", type(exc.storage_error).__name__)
