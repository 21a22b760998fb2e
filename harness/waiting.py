"""Bounded waits: ask a question again and again until it holds, and fail once the bound is spent.

Nothing that waits for something to happen sleeps a fixed time: it polls an observable condition
with ``poll`` (plain code) or ``apoll`` (inside an event loop, where a blocking sleep would stall
the very thing being waited for), and returns the moment the condition holds.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

__all__ = ["INTERVAL", "WAIT", "TimedOut", "apoll", "poll"]

T = TypeVar("T")

#: Upper bound for anything a test waits on: generous, since a poll stops as soon as it may, and
#: a 2-core machine running several suites can take seconds to start a Python process.
WAIT = 30.0
#: Pause between two looks: short against a human's patience, long against the loop's own work.
INTERVAL = 0.05


class TimedOut(RuntimeError):
    """A bounded wait ran out before its condition held."""


def poll(condition: Callable[[], T], timeout: float = WAIT, interval: float = INTERVAL, what: str = "") -> T:
    """Call ``condition`` until it returns something truthy, and return that.

    Raises ``TimedOut`` (naming ``what``) once ``timeout`` seconds have passed; the condition is
    always asked once more after the deadline, so a slow last look still counts.
    """
    deadline = time.monotonic() + timeout
    while True:
        late = time.monotonic() > deadline
        value = condition()
        if value:
            return value
        if late:
            raise TimedOut(f"{what or 'condition'} not met within {timeout} s")
        time.sleep(interval)


async def apoll(
    condition: Callable[[], T | Awaitable[T]], timeout: float = WAIT, interval: float = INTERVAL, what: str = ""
) -> T:
    """``poll`` for code on an event loop: ``condition`` may be a coroutine function, and the pause
    between looks yields to the loop instead of blocking it."""
    deadline = time.monotonic() + timeout
    while True:
        late = time.monotonic() > deadline
        outcome = condition()
        value = cast(T, await outcome if inspect.isawaitable(outcome) else outcome)
        if value:
            return value
        if late:
            raise TimedOut(f"{what or 'condition'} not met within {timeout} s")
        await asyncio.sleep(interval)
