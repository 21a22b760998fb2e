"""A real MCP server (official SDK, stdio) whose tools count their runs in a file: for idempotency tests.

Each run of a tool appends one line (``tool argument``) to the ledger, the file named by the
first argument, before it answers; so a test reads how often each tool really ran, across
bridge restarts and retries::

    python tests/servers/ledger_server.py LEDGER
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field


def build(ledger: Path) -> MCPServer:
    server = MCPServer("ledger", version="1.0.0")

    def note(tool: str, argument: object) -> int:
        with ledger.open("a", encoding="utf-8") as file:
            file.write(f"{tool} {argument}\n")
        return sum(1 for _ in ledger.open(encoding="utf-8"))

    @server.tool(description="Record a payment; running it twice pays twice.")
    def pay(amount: Annotated[int, Field(ge=0)], to: str = "shop") -> dict[str, object]:
        return {"paid": amount, "to": to, "entry": note("pay", amount)}

    @server.tool(description="Record a payment slowly: it notes its start, then holds the call open for `seconds`.")
    async def slow_pay(amount: int, seconds: Annotated[float, Field(ge=0, le=60)]) -> dict[str, object]:
        note("slow_pay_started", amount)
        await asyncio.sleep(seconds)
        return {"paid": amount, "entry": note("slow_pay", amount)}

    @server.tool(description="Record an attempt, then report a tool error.")
    def refuse(reason: str) -> str:
        note("refuse", reason)
        raise ToolError(f"refused: {reason}")

    @server.tool(description="Record an attempt; the first in a ledger then kills this server process.")
    def flaky(label: str) -> str:
        entry = note("flaky", label)
        if entry == 1:
            os._exit(3)
        return f"ran {label} as entry {entry}"

    @server.tool(
        description="Read the balance: running it again changes nothing.",
        annotations=types.ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    def balance() -> int:
        note("balance", "-")
        return 0

    return server


if __name__ == "__main__":
    build(Path(sys.argv[1])).run("stdio")
