"""An MCP server whose every handler forwards to a backend: the gateway in-process, or over HTTP.

The backend answers in MCP's wire shape (JSON dicts); this module only turns those into the
SDK's types. ``bridge.endpoint.server`` forwards in-process, ``bridge.proxy`` over REST.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import mcp_types as types
from mcp.server.lowlevel import Server

__all__ = ["Backend", "Listing", "create_forwarding_server"]

Listing = Literal["tools", "prompts", "resources", "resourceTemplates"]
JSON = dict[str, Any]


class Backend(Protocol):
    async def listing(self, kind: Listing) -> list[JSON]: ...
    async def call_tool(self, name: str, arguments: JSON) -> JSON: ...
    async def read_resource(self, uri: str) -> JSON: ...
    async def get_prompt(self, name: str, arguments: dict[str, str]) -> JSON: ...


def create_forwarding_server(backend: Backend, *, name: str, instructions: str) -> Server[Any]:
    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in await backend.listing("tools")])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult.model_validate(await backend.call_tool(params.name, params.arguments or {}))

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        listed = await backend.listing("resources")
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in listed])

    async def list_templates(_ctx: Any, _params: Any) -> types.ListResourceTemplatesResult:
        listed = await backend.listing("resourceTemplates")
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(t) for t in listed]
        )

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return types.ReadResourceResult.model_validate(await backend.read_resource(str(params.uri)))

    async def list_prompts(_ctx: Any, _params: Any) -> types.ListPromptsResult:
        listed = await backend.listing("prompts")
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in listed])

    async def get_prompt(_ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return types.GetPromptResult.model_validate(await backend.get_prompt(params.name, params.arguments or {}))

    return Server(
        name,
        version="1",
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
