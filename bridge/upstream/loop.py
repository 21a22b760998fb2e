"""The one seam between synchronous callers and the async MCP SDK.

A single event loop runs in a daemon thread and owns every upstream session. Callers from any
thread submit coroutines and wait for them with a bound; nobody else creates event loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

#: How long stopping waits for sessions to close before giving up on the thread.
STOP_TIMEOUT = 10.0


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): its I/O costs a fraction of asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An asyncio event loop running in its own thread."""

    def __init__(self, name: str = "mcp-upstream") -> None:
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self) -> None:
        if self._started:
            raise RuntimeError("LoopThread started twice")
        self._started = True
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop; the returned future is thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run a coroutine on the loop and wait for its result from the calling thread.

        The coroutine is expected to enforce its own deadline (so the upstream request is
        cancelled properly); ``timeout`` is the safety net for the waiting thread, after which
        the task is cancelled and ``TimeoutError`` raised.
        """
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("the upstream loop did not answer in time") from None

    def stop(self, shutdown: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``shutdown`` on the loop (closing sessions), then stop the loop and its thread."""
        if not self._started or not self._thread.is_alive():
            if shutdown is not None:
                shutdown.close()
            return
        if shutdown is not None:
            with contextlib.suppress(TimeoutError):
                self.run(shutdown, STOP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()
