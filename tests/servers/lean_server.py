"""A Streamable HTTP MCP server that shows how the bridge's requests reach it, for the lean HTTP channel's tests.

``request_id`` answers with the JSON-RPC id of its own request (the lean channel's ids are
strings with a prefix, the SDK session's integers), ``headers`` with its HTTP headers (its
``tag`` is mirrored in an ``Mcp-Param-Tag`` header at 2026-07-28), ``hold`` waits until cancelled or its time
is up (``cancellations`` counts the cancelled ones), ``chatty`` logs and answers, ``ask`` elicits
an answer mid-call (before 2026-07-28 a request on the call's own stream), ``big`` answers as
many characters as asked, and ``stop`` ends the process mid-call::

    python tests/servers/lean_server.py --port N [--legacy] [--json-response]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Annotated

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from tests.servers.rich_server import speak_handshake_only


class Answer(BaseModel):
    answer: str = Field(description="Anything")


def build() -> MCPServer:
    server = MCPServer("lean")
    seen = {"cancelled": 0}

    @server.tool(description="The JSON-RPC id of this request.")
    def request_id(ctx: Context) -> str:
        return repr(ctx.request_id)

    @server.tool(description="The HTTP headers of this request, as the server received them.")
    def headers(ctx: Context, tag: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Tag"})] = "") -> str:
        return json.dumps(sorted((name.lower(), value) for name, value in (ctx.headers or {}).items()))

    @server.tool(description="Wait up to `seconds`; a cancelled wait is counted.")
    async def hold(seconds: Annotated[float, Field(ge=0, le=60)]) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
        return "held"

    @server.tool(description="How many `hold` calls were cancelled so far.")
    def cancellations() -> int:
        return seen["cancelled"]

    @server.tool(description="Log a line, then answer.")
    async def chatty(ctx: Context) -> str:
        await ctx.info("on my way")
        return "said"

    @server.tool(description="Report progress `count` times, then answer.")
    async def steps(count: Annotated[int, Field(ge=1, le=20)], ctx: Context) -> str:
        for step in range(1, count + 1):
            await ctx.report_progress(step, count, f"step {step} of {count}")
        return f"counted to {count}"

    @server.tool(description="Ask the client for an answer, and return it.")
    async def ask(ctx: Context) -> str:
        result = await ctx.elicit("Say something", Answer)
        return result.data.answer if result.action == "accept" else result.action

    @server.tool(description="A text of `size` characters.")
    def big(size: Annotated[int, Field(ge=0, le=4_000_000)]) -> str:
        return "x" * size

    @server.tool(description="End this process in the middle of the call.")
    def stop() -> str:
        os._exit(3)

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--legacy", action="store_true", help="speak only the 2025-11-25 handshake generation")
    parser.add_argument("--json-response", action="store_true", help="answer JSON, not an event stream")
    args = parser.parse_args()
    server = build()
    if args.legacy:
        speak_handshake_only(server)
    app = server.streamable_http_app(json_response=args.json_response)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
