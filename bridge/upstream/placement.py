"""Where a stdio child runs: the CPUs it is held to, worn by the spawning thread for the fork.

On Linux a child can be held to a set of CPUs (``"cpus"`` in its config; ``"auto"`` picks one
CPU, the one of the bridge's own with the fewest children held so far). A Python SDK server
hands every stdin line and stdout write to a worker thread; with a second core idle, each of
those hand-offs wakes a thread on the other core and moves the GIL across, which costs it about
a quarter of its CPU per call (bench/README.md). The mask is set on the spawning thread just for
the fork, so the child has it from its first instruction and its own children inherit it.

The spawning thread is the event loop's, so while one child is forked under a mask no other may
be: every spawn on a loop, pinned or not, takes that loop's spawn lock.
"""

from __future__ import annotations

import asyncio
import collections
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Self

from bridge.config import Cpus

__all__ = ["Placement"]

#: One spawn at a time per loop: while a pinned child is forked the loop thread wears its CPU mask.
_spawning: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
#: Children running on each CPU that "auto" chose, so the next one goes where there are fewest.
_auto_placed: collections.Counter[int] = collections.Counter()


class Placement:
    """One child's CPUs: worn by the loop thread while it forks, counted for "auto" while the child lives.

    ``with Placement(cpus) as placement:`` spans the child's life, ``async with
    placement.forking():`` its start.
    """

    def __init__(self, cpus: Cpus | None) -> None:
        self._asked = cpus
        #: The CPU "auto" chose, counted in ``_auto_placed`` until the placement ends.
        self._chosen: int | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._chosen is not None:
            _auto_placed[self._chosen] -= 1
            self._chosen = None

    @asynccontextmanager
    async def forking(self) -> AsyncIterator[None]:
        """For the block, this loop spawns nothing else and its thread runs on the child's CPUs."""
        async with _spawning.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
            # Chosen under the lock: meanwhile no other spawn has the loop thread wearing its mask.
            with _thread_cpus(self._cpus()):
                yield

    def _cpus(self) -> tuple[int, ...] | None:
        """The CPUs to hold the child to: as given, or one chosen for "auto"."""
        if self._asked != "auto":
            return self._asked
        if self._chosen is None:
            # Fewest children first; among equals the highest-numbered CPU, as CPU 0 tends to take interrupts.
            cpu = min(sorted(os.sched_getaffinity(0), reverse=True), key=lambda c: _auto_placed[c])
            _auto_placed[cpu] += 1
            self._chosen = cpu
        return (self._chosen,)


@contextmanager
def _thread_cpus(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """Run the calling thread on ``cpus`` for the block (a forked child inherits the thread's mask)."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)  # on Linux, pid 0 is the calling thread
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:  # e.g. CPUs outside the bridge's cpuset
        raise OSError(exc.errno, f"cannot run the server on CPUs {list(cpus)}: {exc.strerror}") from exc
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
