"""The gateway as an MCP server: forwarding handlers that call the gateway in-process.

Every call runs in a worker thread (the gateway blocks while it waits on an upstream), with the
naming of the plain JSON-RPC endpoint: a single server's own names, or qualified
``server.name`` with several. A tool's own failure stays a result with ``isError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

from bridge.endpoint.forwarding import JSON, Listing, create_forwarding_server
from bridge.errors import BridgeError, ToolFailed, UpstreamError
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher

__all__ = ["GatewayBackend", "create_mcp_server"]

T = TypeVar("T")


async def _call(work: Callable[[], T]) -> T:
    try:
        return await anyio.to_thread.run_sync(work)
    except BridgeError as exc:
        code = INTERNAL_ERROR if isinstance(exc, UpstreamError) else INVALID_PARAMS
        raise MCPError(code, exc.detail, exc.to_problem()) from exc


class GatewayBackend:
    """The gateway, reached in-process."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.rpc = JsonRpcDispatcher(gateway)

    async def listing(self, kind: Listing) -> list[JSON]:
        return await _call(lambda: self.rpc.listing(kind))

    async def call_tool(self, name: str, arguments: JSON) -> JSON:
        def work() -> JSON:
            server, tool = self.gateway.resolve_tool(name)
            try:
                return self.gateway.call_tool(server, tool, arguments, where="/params/arguments")
            except ToolFailed as failed:
                return failed.result

        return await _call(work)

    async def read_resource(self, uri: str) -> JSON:
        return await _call(lambda: self.gateway.read_resource(self.gateway.resolve_resource(uri), uri))

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> JSON:
        def work() -> JSON:
            server, prompt = self.gateway.resolve_prompt(name)
            return self.gateway.get_prompt(server, prompt, arguments, where="/params/arguments")

        return await _call(work)


def create_mcp_server(gateway: Gateway) -> Server[Any]:
    return create_forwarding_server(
        GatewayBackend(gateway),
        name="mcp-rest-bridge",
        instructions="An MCP gateway: the tools, resources and prompts of every server behind it.",
    )
