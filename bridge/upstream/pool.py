"""The upstream layer's synchronous face: every server's session behind blocking calls.

``UpstreamPool`` owns the event-loop thread and one ``UpstreamSession`` per server. Its blocking
methods may be called from any thread (Flask's request threads); each call runs on the loop and
waits for its answer with a bound, so no caller ever hangs on a hung upstream. Its ``a``-prefixed
coroutines serve async callers (the MCP endpoint): on the pool's own loop, which ``serve`` also
runs the HTTP server on, they await the session directly; from another loop they hop over, and
cancelling the caller cancels the upstream request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from bridge.config import ServerConfig
from bridge.errors import NotFound, UpstreamTimeout
from bridge.model import JSON, Catalog, Relay, ServerStatus
from bridge.upstream.loop import LoopThread
from bridge.upstream.session import UpstreamSession

__all__ = ["UpstreamPool"]

T = TypeVar("T")

#: Extra time the waiting thread grants beyond the call's own deadline, which the loop enforces.
WAIT_MARGIN = 5.0


class UpstreamPool:
    """All upstream sessions, reachable from any thread."""

    def __init__(self, *, connect_timeout: float, on_catalog_change: Callable[[str], None] | None = None) -> None:
        self._connect_timeout = connect_timeout
        self._on_catalog_change = on_catalog_change
        self._on_resource_updated: Callable[[str, str], None] | None = None
        self._loop = LoopThread()
        self._sessions: dict[str, UpstreamSession] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._loop.start()

    def set_catalog_listener(self, listener: Callable[[str], None]) -> None:
        self._on_catalog_change = listener

    def set_update_listener(self, listener: Callable[[str, str], None]) -> None:
        """Told (server, uri) when a subscribed resource changes upstream; runs on the loop."""
        self._on_resource_updated = listener

    def post(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` soon on the sessions' loop, from any thread."""
        self._loop.loop.call_soon_threadsafe(callback)

    def run_forever(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a long-running coroutine (the HTTP server) on the sessions' loop."""
        return self._loop.submit(coro)

    def _notify(self, name: str) -> None:
        if self._on_catalog_change is not None:
            self._on_catalog_change(name)

    def _updated(self, server: str, uri: str) -> None:
        if self._on_resource_updated is not None:
            self._on_resource_updated(server, uri)

    # -- membership --------------------------------------------------------------------------

    def add(self, config: ServerConfig) -> None:
        """Start connecting to a server; returns at once (see ``wait_connected``)."""

        async def start() -> None:
            session = UpstreamSession(
                config,
                connect_timeout=self._connect_timeout,
                on_catalog_change=self._notify,
                on_resource_updated=self._updated,
            )
            with self._lock:
                if config.name in self._sessions:
                    raise RuntimeError(f"server {config.name!r} added twice")
                self._sessions[config.name] = session
            session.start()

        self._loop.run(start(), self._connect_timeout)

    def remove(self, name: str) -> None:
        with self._lock:
            session = self._sessions.pop(name, None)
        if session is None:
            raise NotFound(f"no server named {name!r}")
        self._loop.run(session.close(), self._connect_timeout + WAIT_MARGIN)
        self._notify(name)

    def wait_connected(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None:
        """Wait until each server has made its first connection attempt (ready or failed)."""
        sessions = [self._session(n) for n in names] if names is not None else list(self._sessions.values())
        bound = timeout if timeout is not None else self._connect_timeout

        async def wait_all() -> None:
            await asyncio.gather(*(s.wait_first_attempt(bound) for s in sessions))

        self._loop.run(wait_all(), bound + WAIT_MARGIN)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def config(self, name: str) -> ServerConfig:
        return self._session(name).config

    def status(self, name: str) -> ServerStatus:
        return self._session(name).status()

    def catalog(self, name: str) -> Catalog:
        return self._session(name).catalog

    def _session(self, name: str) -> UpstreamSession:
        try:
            return self._sessions[name]
        except KeyError:
            raise NotFound(f"no server named {name!r}") from None

    # -- requests ----------------------------------------------------------------------------

    def _run(self, session: UpstreamSession, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop.run(coro, session.config.call_timeout + WAIT_MARGIN)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"server {session.name!r} did not answer in time", server=session.name) from exc

    def call_tool(self, server: str, tool: str, arguments: Mapping[str, Any]) -> JSON:
        session = self._session(server)
        return self._run(session, session.call_tool(tool, arguments))

    def read_resource(self, server: str, uri: str) -> JSON:
        session = self._session(server)
        return self._run(session, session.read_resource(uri))

    def get_prompt(self, server: str, name: str, arguments: Mapping[str, str]) -> JSON:
        session = self._session(server)
        return self._run(session, session.get_prompt(name, arguments))

    # -- async requests (the MCP endpoint) ---------------------------------------------------

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        if asyncio.get_running_loop() is self._loop.loop:
            return await coro
        return await asyncio.wrap_future(self._loop.submit(coro))

    async def acall_tool(
        self, server: str, tool: str, arguments: Mapping[str, Any], relay: Relay | None = None
    ) -> JSON:
        return await self._on_loop(self._session(server).call_tool(tool, arguments, relay))

    async def aread_resource(self, server: str, uri: str, relay: Relay | None = None) -> JSON:
        return await self._on_loop(self._session(server).read_resource(uri, relay))

    async def aget_prompt(
        self, server: str, name: str, arguments: Mapping[str, str], relay: Relay | None = None
    ) -> JSON:
        return await self._on_loop(self._session(server).get_prompt(name, arguments, relay))

    async def asubscribe(self, server: str, uri: str, subscribed: bool) -> None:
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
