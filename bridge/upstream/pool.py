"""Every upstream server's session, on the one event loop the bridge runs.

``UpstreamPool`` owns the event-loop thread and one ``UpstreamSession`` per server. Its
operations are coroutines for the loop (where the HTTP server runs too, so an MCP client's
cancellation reaches the upstream request); a caller on another thread (Flask's workers, start-up)
reaches them through ``run``, the one portal, which waits with a bound. What happens upstream
(catalogs, states, resource updates) goes to the one ``UpstreamListener`` attached: the gateway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from bridge.addresses import AddressRefused
from bridge.config import ServerConfig
from bridge.errors import NotFound, UpstreamTimeout
from bridge.model import JSON, Catalog, Principal, ProgressCallback, Relay, ServerStatus, Unheard, UpstreamListener
from bridge.telemetry import Metrics, current
from bridge.upstream.loop import LoopThread
from bridge.upstream.session import UpstreamSession

__all__ = ["UpstreamPool"]

T = TypeVar("T")

#: Extra time a waiting thread grants beyond the deadlines the loop enforces itself.
WAIT_MARGIN = 5.0


class UpstreamPool:
    """All upstream sessions; coroutines for the loop, ``run`` for other threads."""

    def __init__(self, *, connect_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._listener: UpstreamListener = Unheard()
        self._attached = False
        self._loop = LoopThread()
        self._sessions: dict[str, UpstreamSession] = {}
        self._lock = threading.Lock()
        self._closed = False
        #: Where upstream times are counted, when the bridge keeps metrics.
        self.metrics: Metrics | None = None
        self._loop.start()

    def attach(self, listener: UpstreamListener) -> None:
        """Tell ``listener`` what happens upstream from now on; there is one, attached once."""
        if self._attached:
            raise RuntimeError("the upstream pool has a listener already")
        self._attached = True
        self._listener = listener

    # -- the loop ----------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the sessions' loop and wait for it from this (another) thread.

        Upstream calls carry their own deadline on the loop; ``timeout`` is the waiting thread's
        safety net beyond it (by default the longest call timeout of any server, plus a margin).
        """
        bound = timeout if timeout is not None else self._longest_wait()
        try:
            return self._loop.run(coro, bound)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no answer from the upstream loop within {bound:g} s", server="") from exc

    def _longest_wait(self) -> float:
        with self._lock:
            timeouts = [s.config.timeout for s in self._sessions.values()]
        return max([self._connect_timeout, *timeouts]) + WAIT_MARGIN

    def run_forever(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a long-running coroutine (the HTTP server) on the sessions' loop."""
        return self._loop.submit(coro)

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Run ``callback(*args)`` soon on the sessions' loop, from any thread."""
        self._loop.loop.call_soon_threadsafe(callback, *args)

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """``coro`` to be awaited here, run on the sessions' loop (itself, when this is that loop).
        Called only from a coroutine: on a loop."""
        if asyncio.get_running_loop() is self._loop.loop:
            return coro
        return asyncio.wrap_future(self._loop.submit(coro))

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"cannot resolve {host}: {exc}") from exc
        return [str(info[4][0]) for info in infos]

    # -- membership --------------------------------------------------------------------------

    async def add(self, config: ServerConfig) -> None:
        """Start connecting to a server; returns at once (see ``wait_connected``)."""

        async def start() -> None:
            session = UpstreamSession(config, connect_timeout=self._connect_timeout, listener=self._listener)
            with self._lock:
                if config.name in self._sessions:
                    raise RuntimeError(f"server {config.name!r} added twice")
                self._sessions[config.name] = session
            session.start()

        await self._on_loop(start())

    async def remove(self, name: str) -> None:
        with self._lock:
            session = self._sessions.pop(name, None)
        if session is None:
            raise NotFound(f"no server named {name!r}")
        await self._on_loop(session.close())
        self._listener.catalog_changed(name)

    async def wait_connected(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None:
        """Wait until each server has made its first connection attempt (ready or failed)."""
        sessions = [self._session(n) for n in names] if names is not None else list(self._sessions.values())
        bound = timeout if timeout is not None else self._connect_timeout

        async def wait_all() -> None:
            await asyncio.gather(*(s.wait_first_attempt(bound) for s in sessions))

        await self._on_loop(wait_all())

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def config(self, name: str) -> ServerConfig:
        return self._session(name).config

    def status(self, name: str) -> ServerStatus:
        return self._session(name).status()

    def protocol_version(self, name: str) -> str | None:
        return self._session(name).protocol_version

    def catalog(self, name: str) -> Catalog:
        return self._session(name).catalog

    def _session(self, name: str) -> UpstreamSession:
        try:
            return self._sessions[name]
        except KeyError:
            raise NotFound(f"no server named {name!r}") from None

    # -- requests ----------------------------------------------------------------------------

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        relay: Relay | None = None,
        on_progress: ProgressCallback | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        call = self._on_loop(self._session(server).call_tool(tool, arguments, relay, on_progress, caller))
        metrics = self.metrics
        if metrics is None:
            return await call
        started = time.perf_counter()
        try:
            return await call
        finally:
            waited = time.perf_counter() - started
            metrics.upstream_time(server, waited)
            if (context := current.get()) is not None:
                context.upstream_seconds += waited

    async def read_resource(
        self, server: str, uri: str, relay: Relay | None = None, caller: Principal | None = None
    ) -> JSON:
        return await self._on_loop(self._session(server).read_resource(uri, relay, caller))

    async def get_prompt(
        self,
        server: str,
        name: str,
        arguments: Mapping[str, str],
        relay: Relay | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        return await self._on_loop(self._session(server).get_prompt(name, arguments, relay, caller))

    async def complete(
        self,
        server: str,
        ref: JSON,
        argument: Mapping[str, str],
        context: Mapping[str, str] | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        return await self._on_loop(self._session(server).complete(ref, argument, context, caller))

    async def subscribe(self, server: str, uri: str, subscribed: bool) -> None:
        await self._on_loop(self._session(server).subscribe(uri, subscribed))

    # -- shutdown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every session (terminating stdio children) and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()

        async def close_all() -> None:
            await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)

        self._loop.stop(close_all())
