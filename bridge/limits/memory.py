"""The ``limits`` library's in-process storage, its expired entries swept by one thread.

``limits.storage.MemoryStorage`` drops expired windows from a timer thread that lives 10 ms,
and starts the next one from whichever request finds it gone: under steady traffic, a thread
started every 10 ms from the request path, and ``Thread.start`` waits until the new thread
runs. Measured at c=8 on two busy cores, that was about 60 µs more bridge CPU per tool call.
Here one daemon thread sweeps every ``SWEEP`` seconds instead, and the storage's own timer is
never started again: it sees a timer that is always alive.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

__all__ = ["SWEEP", "SweptMemoryStorage"]

#: Seconds between sweeps: expired entries wait at most this long to be dropped (a window's
#: own checks never count them meanwhile; they only take memory).
SWEEP = 1.0


class _Sweeper(threading.Thread):
    def __init__(self, storage: SweptMemoryStorage, every: float) -> None:
        super().__init__(name="limits-sweeper", daemon=True)
        self._storage = storage
        self._every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self._every):
            self._storage.sweep()


class SweptMemoryStorage(MemoryStorage):
    """``MemoryStorage`` with one sweeper thread; ``close()`` stops it."""

    def __init__(self, every: float = SWEEP) -> None:
        super().__init__()
        self._sweeper = _Sweeper(self, every)
        self._sweeper.start()
        # The base class starts its next timer only when this one is not alive: it always is.
        self.timer = self._sweeper  # type: ignore[assignment]

    def sweep(self) -> None:
        """Drop what has expired (the library's own sweep, which its timer would run)."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

    def close(self) -> None:
        self._sweeper.stopped.set()
