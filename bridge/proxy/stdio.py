"""``mcp-bridge stdio --url URL``: the whole gateway as one stdio MCP server.

Claude Desktop and other clients that start stdio servers get every tool, resource and prompt
behind a bridge. Each request becomes one REST call; a tool's own failure (422) stays a result
with ``isError``, an upstream outage (5xx) becomes an ``isError`` result the model can read, and
a bad name or bad arguments (4xx) a JSON-RPC error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

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
            raise MCPError(INVALID_PARAMS if status < 500 else INTERNAL_ERROR, _detail(status, body))
        return body

    async def single_server(self) -> bool:
        servers = (await self.ok("GET", "/servers"))["servers"]
        return len(servers) == 1


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


def create_proxy(url: str, api_key: str | None = None) -> Server[Any]:
    bridge = _Bridge(url, api_key)

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        tools = (await bridge.ok("GET", "/tools"))["tools"]
        named = _named(tools, await bridge.single_server())
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in named])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        path = "/tools/" + quote(params.name, safe="")
        status, body = await bridge.call("POST", path, json=params.arguments or {})
        if status == 200:
            return types.CallToolResult.model_validate(body)
        if status == 422 and isinstance(body, dict) and "content" in body:
            return types.CallToolResult.model_validate(
                {"content": body["content"], "structuredContent": body.get("structuredContent"), "isError": True}
            )
        if status >= 500:  # an upstream outage: tell the model, which may try again later
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=_detail(status, body))], is_error=True
            )
        raise MCPError(INVALID_PARAMS, _detail(status, body))

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        body = await bridge.ok("GET", "/resources")
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in body["resources"]])

    async def list_templates(_ctx: Any, _params: Any) -> types.ListResourceTemplatesResult:
        body = await bridge.ok("GET", "/resources")
        templates = [types.ResourceTemplate.model_validate(t) for t in body["resourceTemplates"]]
        return types.ListResourceTemplatesResult(resource_templates=templates)

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        body = await bridge.ok("GET", "/resources/read", params={"uri": str(params.uri)})
        return types.ReadResourceResult.model_validate(body)

    async def list_prompts(_ctx: Any, _params: Any) -> types.ListPromptsResult:
        prompts = (await bridge.ok("GET", "/prompts"))["prompts"]
        named = _named(prompts, await bridge.single_server())
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in named])

    async def get_prompt(_ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        path = "/prompts/" + quote(params.name, safe="")
        body = await bridge.ok("POST", path, json=params.arguments or {})
        return types.GetPromptResult.model_validate(body)

    return Server(
        "mcp-bridge",
        version="1",
        instructions=f"Tools, resources and prompts of the MCP gateway at {bridge.base}.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def serve_stdio(url: str, api_key: str | None = None) -> None:
    """Serve the proxy on this process's stdin/stdout until the client closes them."""
    server = create_proxy(url, api_key)

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
