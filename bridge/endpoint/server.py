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

from bridge.audit import DENIED, audit
from bridge.endpoint.asgi import MCP_PATH, PRINCIPAL
from bridge.errors import BridgeError, Unauthorized, jsonrpc_error
from bridge.events import CatalogChanged, Event, ResourceUpdated
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.mcpserver import JSON, Caller, Listing, create_forwarding_server
from bridge.model import Principal, Relay

__all__ = ["GatewayBackend", "create_mcp_server"]

T = TypeVar("T")


async def _mcp_errors(work: Callable[[], Awaitable[T]], caller: Caller | None = None) -> T:
    try:
        return await work()
    except BridgeError as exc:
        if exc.status in DENIED and caller is not None:  # a tool or server the caller may not use
            principal = caller.state.get(PRINCIPAL)
            subject = principal.subject if isinstance(principal, Principal) else None
            audit("request.denied", subject, caller.request_id, target=MCP_PATH, outcome="denied", status=exc.status)
        error = jsonrpc_error(exc)
        raise MCPError(error["code"], error["message"], error["data"]) from exc


def _principal(caller: Caller) -> Principal:
    """The principal the gate attached to this request; a request that bypassed the gate is refused."""
    principal = caller.state.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise Unauthorized("this request did not pass the bridge's gate")
    return principal


class GatewayBackend:
    """The gateway, reached in-process, named as MCP clients see it, for each request's principal."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.rpc = JsonRpcDispatcher(gateway)

    async def listing(self, kind: Listing, caller: Caller) -> list[JSON]:
        async def work() -> list[JSON]:
            return self.rpc.listing(kind, _principal(caller))

        return await _mcp_errors(work, caller)

    async def call_tool(self, name: str, arguments: JSON, caller: Caller, relay: Relay | None = None) -> JSON:
        return await _mcp_errors(
            lambda: self.rpc.call_tool(name, arguments, _principal(caller), relay, request_id=caller.request_id), caller
        )

    async def read_resource(self, uri: str, caller: Caller, relay: Relay | None = None) -> JSON:
        return await _mcp_errors(lambda: self.rpc.read_resource(uri, _principal(caller), relay), caller)

    async def get_prompt(
        self, name: str, arguments: dict[str, str], caller: Caller, relay: Relay | None = None
    ) -> JSON:
        return await _mcp_errors(lambda: self.rpc.get_prompt(name, arguments, _principal(caller), relay), caller)

    async def complete(
        self, ref: JSON, argument: dict[str, str], context: dict[str, str] | None, caller: Caller
    ) -> JSON:
        return await _mcp_errors(lambda: self.rpc.complete(ref, argument, context, _principal(caller)), caller)

    async def subscribe(self, uri: str, subscribed: bool, caller: Caller) -> None:
        async def work() -> None:
            await self.gateway.subscribe(uri, subscribed, principal=_principal(caller))

        await _mcp_errors(work)

    def on_updated(self, listener: Callable[[str], None]) -> None:
        def updated(event: Event) -> None:
            if isinstance(event, ResourceUpdated):
                listener(event.uri)

        self.gateway.bus.subscribe(updated, [ResourceUpdated])

    def on_changed(self, listener: Callable[[], None]) -> None:
        # Published on the loop (an upstream's list_changed) or during start-up: hand it to the loop.
        self.gateway.bus.subscribe(lambda _event: self.gateway.call_soon(listener), [CatalogChanged])


def create_mcp_server(gateway: Gateway) -> Server[Any]:
    backend = GatewayBackend(gateway)
    return create_forwarding_server(
        backend,
        name="mcp-rest-bridge",
        instructions="An MCP gateway: the tools, resources and prompts of every server behind it.",
        subscriptions=backend,
        completions=backend,
    )
