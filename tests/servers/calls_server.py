"""An MCP server with long and interactive tools, for the asynchronous calls' tests.

``slow`` reports progress while it works, ``hold`` waits until released or cancelled (counting
cancellations: ``cancellations``; ``holding`` says how many run), ``ask`` elicits one answer,
``ask_twice`` the name and then the age (two rounds), ``ask_both`` both at once, ``sample`` asks the client's
model, ``fail`` reports an error (``isError``) and ``big`` returns as many bytes as asked.

    python tests/servers/calls_server.py stdio [--legacy]
    python tests/servers/calls_server.py http --port N
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Annotated

import mcp_types as types
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from pydantic import BaseModel, Field

from tests.servers.rich_server import speak_handshake_only


class Name(BaseModel):
    name: str = Field(description="Your name")


class Age(BaseModel):
    age: int = Field(ge=0, le=150, description="Your age")


# Resolvers ask through the SDK, which picks the generation's way: a request mid-call before
# 2026-07-28, an input-required result (the client answers and retries) from it on. Independent
# resolvers are asked together; one that depends on another is asked in a later round.
def _name() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


def _name_only() -> Elicit[Name]:
    return Elicit("Name?", Name)


def _age() -> Elicit[Age]:
    return Elicit("Age?", Age)


def _age_after_name(name: Annotated[Name, Resolve(_name)]) -> Elicit[Age]:
    return Elicit(f"How old are you, {name.name}?", Age)


def _prompt(prompt: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    return Sample([message], max_tokens=50)


def build() -> MCPServer:
    server = MCPServer("calls")
    seen = {"cancelled": 0, "holding": 0}

    @server.tool(description="Work for `seconds`, reporting progress `steps` times.")
    async def slow(seconds: Annotated[float, Field(ge=0, le=60)], ctx: Context, steps: int = 4) -> str:
        for step in range(1, steps + 1):
            await asyncio.sleep(seconds / steps)
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
        return f"worked {seconds:g} s"

    @server.tool(description="Wait up to `seconds`; a cancelled wait is counted.")
    async def hold(seconds: Annotated[float, Field(ge=0, le=600)]) -> str:
        seen["holding"] += 1
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
        finally:
            seen["holding"] -= 1
        return "held"

    @server.tool(description="How many `hold` calls run now.")
    def holding() -> int:
        return seen["holding"]

    @server.tool(description="How many `hold` calls were cancelled so far.")
    def cancellations() -> int:
        return seen["cancelled"]

    @server.tool(description="Ask the caller's name.")
    async def ask(name: Annotated[ElicitationResult[Name], Resolve(_name)]) -> str:
        return f"hello {name.data.name}" if name.action == "accept" else f"no name ({name.action})"

    @server.tool(description="Ask the caller's name, then (a second round) its age.")
    async def ask_twice(age: Annotated[Age, Resolve(_age_after_name)]) -> str:
        return f"told {age.age}"

    @server.tool(description="Ask the caller's name and age at once.")
    async def ask_both(name: Annotated[Name, Resolve(_name_only)], age: Annotated[Age, Resolve(_age)]) -> str:
        return f"{name.name} is {age.age}"

    @server.tool(description="Ask the client's model.")
    async def sample(prompt: str, reply: Annotated[types.CreateMessageResult, Resolve(_prompt)]) -> str:
        content = reply.content
        return f"model says: {content.text if isinstance(content, types.TextContent) else content}"

    @server.tool(description="Fail, saying `message`.")
    def fail(message: str) -> str:
        raise ValueError(message)

    @server.tool(description="Return `size` bytes of text.")
    def big(size: Annotated[int, Field(ge=0, le=50_000_000)]) -> str:
        return "x" * size

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--legacy", action="store_true", help="speak only the 2025-11-25 handshake generation")
    args = parser.parse_args()
    server = build()
    if args.legacy:
        speak_handshake_only(server)
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
