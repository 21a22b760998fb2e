"""An MCP server whose tools declare an ``outputSchema`` and answer whatever the caller asks them to,
so a test can make an upstream break its own output contract. Written with the SDK's low-level
``Server``, which (unlike ``MCPServer``) sends a result without checking it first.

``echo_n`` answers ``structuredContent`` ``{"n": value}`` for the ``value`` it is given, against
a schema that wants an integer; ``no_structure`` declares a schema but sends text only;
``email`` declares ``format: email`` and sends what it is given; ``broken`` declares a schema
that is not valid JSON Schema. Besides them, ``stdout_noise`` (a flag) makes the server print a
line that is not JSON-RPC on its stdout before it starts, ``big`` answers ``size`` bytes of
text, for the stdio transport's tests, and ``client`` answers the ``clientInfo`` this call came
with.

    python tests/servers/output_server.py [--noise]
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

_ANY = {"type": "object", "properties": {"value": {}}}
_N = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
_EMAIL = {"type": "object", "properties": {"address": {"type": "string", "format": "email"}}}
_BROKEN = {"type": "object", "properties": {"n": {"type": 12}}}

TOOLS = [
    types.Tool(name="echo_n", input_schema=_ANY, output_schema=_N),
    types.Tool(name="no_structure", input_schema={"type": "object"}, output_schema=_N),
    types.Tool(name="email", input_schema=_ANY, output_schema=_EMAIL),
    types.Tool(name="broken", input_schema={"type": "object"}, output_schema=_BROKEN),
    types.Tool(name="client", input_schema={"type": "object"}),
    types.Tool(
        name="big",
        input_schema={
            "type": "object",
            "properties": {"size": {"type": "integer", "minimum": 0}},
            "required": ["size"],
        },
    ),
]


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    arguments = params.arguments or {}
    value = arguments.get("value")
    text = [types.TextContent(type="text", text=repr(value))]
    if params.name == "echo_n":
        return types.CallToolResult(content=text, structured_content={"n": value})
    if params.name == "email":
        return types.CallToolResult(content=text, structured_content={"address": value})
    if params.name == "broken":
        return types.CallToolResult(content=text, structured_content={"n": 1})
    if params.name == "big":
        payload = "x" * int(arguments["size"])
        return types.CallToolResult(content=[types.TextContent(type="text", text=payload)])
    if params.name == "client":
        info = ctx.session.client_params.client_info
        return types.CallToolResult(content=text, structured_content={"name": info.name, "version": info.version})
    return types.CallToolResult(content=text)  # no_structure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noise", action="store_true", help="print a non-JSON-RPC line on stdout first")
    args = parser.parse_args()
    if args.noise:
        print("this server says hello before it speaks MCP", flush=True)
    server = Server("output", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)


if __name__ == "__main__":
    main()
