"""Upstream servers in memory: the ``Upstreams`` seam without processes or sockets, for unit tests.

Each server is a catalog the test gives and Python functions that answer its tools, resources
and prompts; the test moves servers between states and changes catalogs, and the attached
listener hears it as it would from real sessions. Real servers stay for the integration tests.
"""

from __future__ import annotations

import contextlib
import inspect
import ipaddress
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from bridge.addresses import AddressRefused
from bridge.config import ServerConfig
from bridge.errors import NotFound, UpstreamUnavailable
from bridge.model import (
    JSON,
    SERVING,
    Catalog,
    Principal,
    ProgressCallback,
    Relay,
    ServerStatus,
    Unheard,
    UpstreamListener,
)
from bridge.upstream.loop import LoopThread

__all__ = ["Answer", "MemoryServer", "MemoryUpstreams", "ready"]

T = TypeVar("T")
#: Answers one request from its arguments (may be a coroutine function, may raise a ``BridgeError``).
Answer = Callable[..., Any]


@dataclass
class MemoryServer:
    """One server in memory: what it offers and how it answers."""

    catalog: Catalog = field(default_factory=Catalog)
    tools: Mapping[str, Answer] = field(default_factory=dict)
    resources: Mapping[str, Answer] = field(default_factory=dict)
    prompts: Mapping[str, Answer] = field(default_factory=dict)
    #: Completions by the prompt name or template URI of the ``ref``, called with (argument, context).
    completions: Mapping[str, Answer] = field(default_factory=dict)
    status: ServerStatus = field(default_factory=lambda: ServerStatus("ready", protocol_version="2026-07-28"))
    #: Each request as (method, name or URI, arguments), in order.
    seen: list[tuple[str, str, Any]] = field(default_factory=list)
    #: Whom each request was made for (None: the bridge itself), in the same order.
    callers: list[Principal | None] = field(default_factory=list)


class MemoryUpstreams:
    """An ``Upstreams`` whose servers are ``MemoryServer`` objects."""

    def __init__(self, servers: Mapping[str, MemoryServer] | None = None) -> None:
        #: What ``add`` connects to, by name: a registration finds its server here.
        self.reachable: dict[str, MemoryServer] = dict(servers or {})
        self._configs: dict[str, ServerConfig] = {}
        self._servers: dict[str, MemoryServer] = {}
        self._listener: UpstreamListener = Unheard()
        self._loop = LoopThread("memory-upstreams")
        self._loop.start()
        #: Resource URIs followed, by server.
        self.followed: dict[str, set[str]] = {}
        #: What ``resolve`` answers, by host name; an address literal resolves to itself.
        self.hosts: dict[str, list[str]] = {}

    # -- what a test does --------------------------------------------------------------------

    def set_status(self, name: str, status: ServerStatus) -> None:
        self._server(name).status = status
        self._listener.state_changed(name, status)

    def set_catalog(self, name: str, catalog: Catalog) -> None:
        self._server(name).catalog = catalog
        self._listener.catalog_changed(name)

    def update_resource(self, name: str, uri: str) -> None:
        self._listener.resource_updated(name, uri)

    # -- Upstreams ---------------------------------------------------------------------------

    def attach(self, listener: UpstreamListener) -> None:
        self._listener = listener

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._loop.run(coro, timeout if timeout is not None else 30.0)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        self._loop.loop.call_soon_threadsafe(callback, *args)

    async def resolve(self, host: str, port: int) -> list[str]:
        with contextlib.suppress(ValueError):
            return [str(ipaddress.ip_address(host))]
        if host not in self.hosts:
            raise AddressRefused(f"cannot resolve {host}: unknown to this test")
        return self.hosts[host]

    async def add(self, config: ServerConfig) -> None:
        if config.name in self._servers:
            raise RuntimeError(f"server {config.name!r} added twice")
        server = self.reachable.get(config.name)
        if server is None:
            server = MemoryServer(status=ServerStatus("down", last_error="nothing listens there"))
        self._servers[config.name] = server
        self._configs[config.name] = config
        self._listener.state_changed(config.name, server.status)
        self._listener.catalog_changed(config.name)

    async def remove(self, name: str) -> None:
        self._server(name)
        del self._servers[name], self._configs[name]
        self._listener.catalog_changed(name)

    async def wait_connected(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None:
        return None

    def names(self) -> list[str]:
        return list(self._servers)

    def config(self, name: str) -> ServerConfig:
        self._server(name)
        return self._configs[name]

    def status(self, name: str) -> ServerStatus:
        return self._server(name).status

    def protocol_version(self, name: str) -> str | None:
        return self._server(name).status.protocol_version

    def catalog(self, name: str) -> Catalog:
        return self._server(name).catalog

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        relay: Relay | None = None,
        on_progress: ProgressCallback | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        self._server(server).callers.append(caller)
        answer = self._answer(server, "tools/call", tool, arguments, self._server(server).tools)
        result = await _result(answer, dict(arguments))
        if on_progress is not None:  # one step, reported once the work is done
            await on_progress(1, 1, "done")
        return result

    async def read_resource(
        self, server: str, uri: str, relay: Relay | None = None, caller: Principal | None = None
    ) -> JSON:
        self._server(server).callers.append(caller)
        return await _result(self._answer(server, "resources/read", uri, None, self._server(server).resources))

    async def get_prompt(
        self,
        server: str,
        name: str,
        arguments: Mapping[str, str],
        relay: Relay | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        self._server(server).callers.append(caller)
        answer = self._answer(server, "prompts/get", name, arguments, self._server(server).prompts)
        return await _result(answer, dict(arguments))

    async def complete(
        self,
        server: str,
        ref: JSON,
        argument: Mapping[str, str],
        context: Mapping[str, str] | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        self._server(server).callers.append(caller)
        named = ref.get("name") or ref.get("uri") or ""
        answer = self._answer(server, "completion/complete", named, dict(argument), self._server(server).completions)
        return await _result(answer, dict(argument), None if context is None else dict(context))

    async def subscribe(self, server: str, uri: str, subscribed: bool) -> None:
        followed = self.followed.setdefault(server, set())
        if subscribed:
            followed.add(uri)
        else:
            followed.discard(uri)

    def close(self) -> None:
        self._loop.stop()

    # -- inside ------------------------------------------------------------------------------

    def _server(self, name: str) -> MemoryServer:
        try:
            return self._servers[name]
        except KeyError:
            raise NotFound(f"no server named {name!r}") from None

    def _answer(self, server: str, method: str, name: str, arguments: Any, answers: Mapping[str, Answer]) -> Answer:
        state = self._server(server)
        if state.status.state not in SERVING:
            raise UpstreamUnavailable(f"server {server!r} is {state.status.state}", server=server)
        state.seen.append((method, name, arguments))
        answer = answers.get(name)
        if answer is None:
            raise NotFound(f"server {server!r}: unknown {method.split('/')[0][:-1]} {name!r}")
        return answer


async def _result(answer: Answer, *args: Any) -> JSON:
    value = answer(*args)
    if inspect.isawaitable(value):
        value = await value
    result: JSON = value
    return result


def ready(**status: Any) -> ServerStatus:
    """A ready status, with whatever else a test wants to say of it."""
    return replace(ServerStatus("ready", protocol_version="2026-07-28"), **status)
