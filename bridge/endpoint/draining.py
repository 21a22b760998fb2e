"""Graceful shutdown of the HTTP server: stop accepting, let calls finish, then cut off what is left.

uvicorn, told to stop, closes its listener and idle connections, waits for every connection to
close and then cancels what still runs, answering a request cut off that way with a plain-text
500; a stream or socket that follows the feed never closes by itself, so each stop would wait out
the whole timeout. ``DrainingServer`` stops in this order instead:

1. the listener is closed: a new connection is refused (a balancer sends it to another
   instance); idle keep-alive connections are closed, busy ones close after their answer;
2. ``Drain.stopping`` is set: event streams end their body, sockets close (1001, going away)
   once their calls are answered, and MCP clients' notification streams (``GET /mcp``, held by
   the SDK) are ended; their clients reconnect elsewhere and resume from their last event id;
3. calls in flight finish, for up to ``grace`` seconds (a second signal ends the wait: ``stop``);
4. then ``Drain.cut_off`` is set and what still runs is cancelled: a request whose answer has not
   begun is answered 503 ``call-cut-off``, never a bare 500, and one whose answer had begun gets
   its body ended (``Drain.end``);
5. uvicorn's own shutdown closes what is left and ends the application's lifespan.

Marking asynchronous calls cut off, handing back webhook deliveries and stopping upstream
children follow, in ``Bridge.close``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bridge.errors import CallCutOff

from .http import Scope, Send, send_problem

__all__ = ["CUT_OFF_SETTLE", "Drain", "DrainingServer"]

log = logging.getLogger(__name__)

#: Seconds what was cut off at the end of the grace may take to write its 503 and close.
CUT_OFF_SETTLE: Final = 2


class Drain:
    """What a stopping server tells the handlers that outlive one request."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        #: Set when the server stops accepting: streams and sockets end themselves.
        self.stopping = asyncio.Event()
        #: True once the grace is spent and what still runs is cancelled (``end`` answers it).
        self.cut_off = False
        #: True when a second signal cut the grace short.
        self.hurried = False
        #: Tasks serving streams nobody here can end cleanly (the SDK's ``GET /mcp``): cancelled at once.
        self.streams: set[asyncio.Task[Any]] = set()

    def hold_stream(self) -> None:
        """Count the running task as a stream the drain ends by cancelling it when it begins."""
        task = asyncio.current_task()
        if task is not None:
            self.streams.add(task)
            task.add_done_callback(self.streams.discard)

    def begin(self) -> None:
        self.stopping.set()
        for task in list(self.streams):
            task.cancel("the bridge is stopping")

    async def end(self, scope: Scope, send: Send) -> bool:
        """End a request the drain cancelled: a 503 problem when its answer had not begun, else its
        body ended cleanly (a stream's last chunk); False when nothing more can be sent on it."""
        if self.cut_off:
            within = (
                "before it was told again to stop" if self.hurried else f"within its {self.grace:g} s shutdown grace"
            )
            detail = (
                f"the bridge is stopping and the request did not finish {within};"
                " whether a call it made finished upstream is unknown"
            )
        else:
            detail = "the bridge is stopping"
        try:
            await send_problem(send, CallCutOff(detail), scope.get("path", ""))
            return True
        except RuntimeError:  # uvicorn refuses a second response head: the answer had begun
            pass
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except RuntimeError:  # complete already, or shorter than its Content-Length: only closing is left
            return False
        return True


class DrainingServer(uvicorn.Server):
    """uvicorn's server, stopping as the module says."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain
        self._hurry = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Called from another thread (a signal's): the first call starts the drain; another one,
        once it runs (Ctrl-C twice), spends what is left of the grace at once."""
        if self.should_exit and self._loop is not None:
            self._loop.call_soon_threadsafe(self._hurry.set)
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        self._loop = asyncio.get_running_loop()
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            if isinstance(connection, HttpToolsProtocol):  # sockets close themselves once their calls are answered
                connection.shutdown()
        self.drain.begin()
        await self._settle(started + self.drain.grace, hurried=True)
        if self._running():
            self.drain.cut_off = True
            self.drain.hurried = self._hurry.is_set()
            log.warning(
                "cutting off %d request(s) still running after the %g s shutdown grace",
                len(self._running()),
                self.drain.grace,
            )
            for task in self._running():
                task.cancel("the shutdown grace is spent")
            await self._settle(time.monotonic() + CUT_OFF_SETTLE)
        log.info("drained in %.2f s", time.monotonic() - started)
        await super().shutdown(sockets)

    def _running(self) -> list[asyncio.Task[None]]:
        return [task for task in self.server_state.tasks if not task.done()]

    async def _settle(self, deadline: float, *, hurried: bool = False) -> None:
        """Return once no request or socket runs (those begun meanwhile included), or at ``deadline``;
        ``hurried``: also once another signal came (``stop``)."""
        also = [asyncio.ensure_future(self._hurry.wait())] if hurried else []
        try:
            while (running := self._running()) and (left := deadline - time.monotonic()) > 0:
                if any(f.done() for f in also):
                    return
                await asyncio.wait([*running, *also], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in also:
                waiting.cancel()
