"""``mcp-bridge stdio --url URL``: the whole gateway as one stdio MCP server.

Claude Desktop and other clients that start stdio servers get every tool, resource and prompt
behind a bridge. Each request becomes one REST call; a tool's own failure (422) stays a result
with ``isError``, an upstream outage (5xx) becomes an ``isError`` result the model can read, and
a bad name or bad arguments (4xx) a JSON-RPC error.

The MCP side is ``bridge.mcpserver``'s forwarding server, the one ``/mcp`` serves too; this module
is only its backend over REST, and imports nothing of the other edges.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
import httpx2
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR

from bridge.errors import jsonrpc_error_from_problem
from bridge.mcpserver import JSON, Caller, Listing, create_forwarding_server
from bridge.model import Relay

__all__ = ["create_proxy", "serve_stdio"]

#: How long one forwarded call may take; the bridge's own per-call timeout is usually shorter.
TIMEOUT = 120.0
_OURS = ("server", "qualifiedName")


class _Bridge:
    """The REST calls the proxy makes."""

    def __init__(self, url: str, api_key: str | None) -> None:
        base = url.rstrip("/")
        self.base = base[: -len("/mcp")] if base.endswith("/mcp") else base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx2.AsyncClient(base_url=self.base, headers=headers, timeout=TIMEOUT)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            raise MCPError(INTERNAL_ERROR, f"the bridge at {self.base} is not reachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text}
        return response.status_code, body

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        if status >= 400:
            raise _refusal(status, body)
        return body

    async def single_server(self) -> bool:
        servers = (await self.ok("GET", "/servers"))["servers"]
        return len(servers) == 1


def _refusal(status: int, body: Any) -> MCPError:
    """The bridge's problem answer as the JSON-RPC error the bridge gives it on ``/mcp``."""
    error = jsonrpc_error_from_problem(status, body)
    return MCPError(error["code"], error["message"], error.get("data"))


def _detail(status: int, body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or status)
    return str(status)


def _named(items: list[dict[str, Any]], single: bool) -> list[dict[str, Any]]:
    """With one server its own names; with several the qualified ``server.name``."""
    return [
        {**{k: v for k, v in item.items() if k not in _OURS}, "name": item["name"] if single else item["qualifiedName"]}
        for item in items
    ]


class _RestBackend:
    """The gateway, reached over its REST API."""

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge

    async def listing(self, kind: Listing, caller: Caller) -> list[JSON]:
        if kind in ("tools", "prompts"):
            items = (await self.bridge.ok("GET", f"/{kind}"))[kind]
            return _named(items, await self.bridge.single_server())
        return list((await self.bridge.ok("GET", "/resources"))[kind])

    # Over REST nothing flows back while a call runs: relays are accepted and left unused; the
    # one client of a stdio server is whoever holds the key, so the caller says nothing more.

    async def call_tool(self, name: str, arguments: JSON, caller: Caller, relay: Relay | None = None) -> JSON:
        status, body = await self.bridge.call("POST", "/tools/" + quote(name, safe=""), json=arguments)
        if status == 200:
            return dict(body)
        if status == 422 and isinstance(body, dict) and "content" in body:
            return {"content": body["content"], "structuredContent": body.get("structuredContent"), "isError": True}
        if status >= 500:  # an upstream outage: tell the model, which may try again later
            return {"content": [{"type": "text", "text": _detail(status, body)}], "isError": True}
        raise _refusal(status, body)

    async def read_resource(self, uri: str, caller: Caller, relay: Relay | None = None) -> JSON:
        return dict(await self.bridge.ok("GET", "/resources/read", params={"uri": uri}))

    async def get_prompt(
        self, name: str, arguments: dict[str, str], caller: Caller, relay: Relay | None = None
    ) -> JSON:
        return dict(await self.bridge.ok("POST", "/prompts/" + quote(name, safe=""), json=arguments))


def create_proxy(url: str, api_key: str | None = None) -> Server[Any]:
    bridge = _Bridge(url, api_key)
    return create_forwarding_server(
        _RestBackend(bridge),
        name="mcp-bridge",
        instructions=f"Tools, resources and prompts of the MCP gateway at {bridge.base}.",
    )


def serve_stdio(url: str, api_key: str | None = None) -> None:
    """Serve the proxy on this process's stdin/stdout until the client closes them."""
    server = create_proxy(url, api_key)

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
