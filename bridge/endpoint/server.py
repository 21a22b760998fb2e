"""The gateway as an MCP server: forwarding handlers that await the gateway on the sessions' loop.

Calls run where the upstream sessions live (``serve`` runs the HTTP server on that loop), so a
client's cancellation cancels the upstream request, and what an upstream sends back while a
call runs (progress, logs, sampling and elicitation) reaches the client that made it. Naming
is that of the plain JSON-RPC endpoint: a single server's own names, or qualified
``server.name`` with several. A tool's own failure stays a result with ``isError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

from bridge.errors import BridgeError, ToolFailed, UpstreamError
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.mcpserver import JSON, Listing, create_forwarding_server
from bridge.model import Relay

__all__ = ["GatewayBackend", "create_mcp_server"]

T = TypeVar("T")


async def _mcp_errors(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except BridgeError as exc:
        code = INTERNAL_ERROR if isinstance(exc, UpstreamError) else INVALID_PARAMS
        raise MCPError(code, exc.detail, exc.to_problem()) from exc


class GatewayBackend:
    """The gateway, reached in-process."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.rpc = JsonRpcDispatcher(gateway)

    async def listing(self, kind: Listing) -> list[JSON]:
        async def work() -> list[JSON]:
            return self.rpc.listing(kind)

        return await _mcp_errors(work)

    async def call_tool(self, name: str, arguments: JSON, relay: Relay | None = None) -> JSON:
        async def work() -> JSON:
            server, tool = self.gateway.resolve_tool(name)
            try:
                return await self.gateway.acall_tool(server, tool, arguments, where="/params/arguments", relay=relay)
            except ToolFailed as failed:
                return failed.result

        return await _mcp_errors(work)

    async def read_resource(self, uri: str, relay: Relay | None = None) -> JSON:
        async def work() -> JSON:
            return await self.gateway.aread_resource(self.gateway.resolve_resource(uri), uri, relay)

        return await _mcp_errors(work)

    async def get_prompt(self, name: str, arguments: dict[str, str], relay: Relay | None = None) -> JSON:
        async def work() -> JSON:
            server, prompt = self.gateway.resolve_prompt(name)
            return await self.gateway.aget_prompt(server, prompt, arguments, where="/params/arguments", relay=relay)

        return await _mcp_errors(work)

    async def subscribe(self, uri: str, subscribed: bool) -> None:
        async def work() -> None:
            await self.gateway.subscribe(uri, subscribed)

        await _mcp_errors(work)

    def on_updated(self, listener: Callable[[str], None]) -> None:
        self.gateway.upstreams.set_update_listener(lambda _server, uri: listener(uri))

    def on_changed(self, listener: Callable[[], None]) -> None:
        # Catalogs change on the loop (a server's list_changed) or on a REST thread (a registration).
        upstreams = self.gateway.upstreams
        self.gateway.add_change_listener(lambda: upstreams.post(listener))


def create_mcp_server(gateway: Gateway) -> Server[Any]:
    backend = GatewayBackend(gateway)
    return create_forwarding_server(
        backend,
        name="mcp-rest-bridge",
        instructions="An MCP gateway: the tools, resources and prompts of every server behind it.",
        subscriptions=backend,
    )
