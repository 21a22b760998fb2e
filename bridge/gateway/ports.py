"""The seam the gateway talks through: any set of upstream servers, on the bridge's event loop.

``bridge.upstream.UpstreamPool`` is the real implementation; ``bridge.upstream.memory`` has an
in-memory one for unit tests. Only ``bridge.model`` types and JSON cross this seam.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from bridge.config import ServerConfig
from bridge.model import JSON, Catalog, Principal, ProgressCallback, Relay, ServerStatus, UpstreamListener

__all__ = ["Upstreams"]

T = TypeVar("T")


class Upstreams(Protocol):
    def attach(self, listener: UpstreamListener) -> None:
        """The one listener (the gateway) that hears catalogs, states and resource updates."""
        ...

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the upstream loop from another thread and wait for it, with a bound."""
        ...

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` soon on the upstream loop, from any thread."""
        ...

    async def resolve(self, host: str, port: int) -> list[str]:
        """``host``'s addresses as text, looked up without blocking the loop; ``AddressRefused`` if none."""
        ...

    async def add(self, config: ServerConfig) -> None: ...
    async def remove(self, name: str) -> None: ...
    async def wait_connected(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None: ...
    def names(self) -> list[str]: ...
    def config(self, name: str) -> ServerConfig: ...
    def status(self, name: str) -> ServerStatus: ...
    def protocol_version(self, name: str) -> str | None:
        """The revision ``name`` speaks (``status(name).protocol_version``, without making a status)."""
        ...

    def catalog(self, name: str) -> Catalog: ...
    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        relay: Relay | None = None,
        on_progress: ProgressCallback | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        """Call a tool; ``caller`` is who it is called for (an upstream may be told: see ``identity``)."""
        ...

    async def read_resource(
        self, server: str, uri: str, relay: Relay | None = None, caller: Principal | None = None
    ) -> JSON: ...
    async def get_prompt(
        self,
        server: str,
        name: str,
        arguments: Mapping[str, str],
        relay: Relay | None = None,
        caller: Principal | None = None,
    ) -> JSON: ...
    async def complete(
        self,
        server: str,
        ref: JSON,
        argument: Mapping[str, str],
        context: Mapping[str, str] | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        """``completion/complete`` upstream: ``ref`` names the prompt or template as the server does."""
        ...

    async def subscribe(self, server: str, uri: str, subscribed: bool) -> None: ...
    def close(self) -> None: ...
