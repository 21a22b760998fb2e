"""A real MCP server (stdio, official SDK) for the event stream's and the WebSocket's tests.

``sleep_ms`` answers after a given time (calls that finish out of order), ``steps`` reports
progress, and ``hold`` waits until cancelled and then writes down that it was, in a file the
test reads: the proof that a cancellation reached the upstream.

    python tests/servers/events_server.py WITNESS_DIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field


def build(witness: Path) -> MCPServer:
    server = MCPServer("events", version="1.0.0")

    @server.tool(description="Answer with the label after the given milliseconds.")
    async def sleep_ms(ms: Annotated[int, Field(ge=0, le=60_000)], label: str) -> str:
        await asyncio.sleep(ms / 1000)
        return label

    @server.tool(description="Report progress for each of the steps, then answer how many there were.")
    async def steps(count: Annotated[int, Field(ge=1, le=100)], ctx: Context) -> int:
        for step in range(1, count + 1):
            await ctx.report_progress(step, count, f"step {step}")
            await asyncio.sleep(0.01)
        return count

    @server.tool(description="Wait until cancelled; write the tag into the witness folder when cancelled.")
    async def hold(tag: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]) -> str:
        try:
            await asyncio.sleep(600)
        except asyncio.CancelledError:
            (witness / f"cancelled-{tag}").write_text("cancelled", encoding="utf-8")
            raise
        return "held to the end"

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return text

    return server


if __name__ == "__main__":
    build(Path(sys.argv[1])).run("stdio")
