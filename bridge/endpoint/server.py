"""The gateway as an MCP server: the SDK's low-level ``Server`` with handlers that forward.

Every handler makes one gateway call in a worker thread (the gateway blocks while it waits on
an upstream), with the naming of the plain JSON-RPC endpoint: a single server's own names, or
qualified ``server.name`` with several. A tool's own failure stays a result with ``isError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

from bridge.errors import BridgeError, ToolFailed, UpstreamError
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher

__all__ = ["create_mcp_server"]

T = TypeVar("T")


async def _call(work: Callable[[], T]) -> T:
    try:
        return await anyio.to_thread.run_sync(work)
    except BridgeError as exc:
        code = INTERNAL_ERROR if isinstance(exc, UpstreamError) else INVALID_PARAMS
        raise MCPError(code, exc.detail, exc.to_problem()) from exc


def create_mcp_server(gateway: Gateway) -> Server[Any]:
    rpc = JsonRpcDispatcher(gateway)

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        listed = await _call(lambda: rpc.listing("tools"))
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in listed])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        def work() -> dict[str, Any]:
            server, tool = gateway.resolve_tool(params.name)
            try:
                return gateway.call_tool(server, tool, params.arguments or {}, where="/params/arguments")
            except ToolFailed as failed:
                return failed.result

        return types.CallToolResult.model_validate(await _call(work))

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        listed = await _call(lambda: rpc.listing("resources"))
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in listed])

    async def list_templates(_ctx: Any, _params: Any) -> types.ListResourceTemplatesResult:
        listed = await _call(lambda: rpc.listing("resourceTemplates"))
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(t) for t in listed]
        )

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        body = await _call(lambda: gateway.read_resource(gateway.resolve_resource(uri), uri))
        return types.ReadResourceResult.model_validate(body)

    async def list_prompts(_ctx: Any, _params: Any) -> types.ListPromptsResult:
        listed = await _call(lambda: rpc.listing("prompts"))
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in listed])

    async def get_prompt(_ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        def work() -> dict[str, Any]:
            server, prompt = gateway.resolve_prompt(params.name)
            return gateway.get_prompt(server, prompt, params.arguments or {}, where="/params/arguments")

        return types.GetPromptResult.model_validate(await _call(work))

    return Server(
        "mcp-rest-bridge",
        version="1",
        instructions="An MCP gateway: the tools, resources and prompts of every server behind it.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
