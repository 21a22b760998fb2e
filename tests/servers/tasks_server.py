"""The server the MCP conformance suite's tasks scenarios expect behind the gateway, written with
the official SDK as ordinary tools: the tasks come from the gateway, not from this server.

Each tool is plain request/response and asks its questions through the SDK's resolvers, which
speak both generations: an elicitation mid-call under the 2025-11-25 handshake, an input-required
round under 2026-07-28 (``multi_input`` asks two at once mid-call, so under the handshake only).
A tool's task support is declared in ``execution.taskSupport``, which only the 2025-11-25
listing carries (2026-07-28 removed the field), so the tests have the gateway speak the
handshake generation to it (``"protocol": "legacy"``) while the scenarios' own client talks
2026-07-28 to the gateway. Run it as::

    python tests/servers/tasks_server.py --port P    (Streamable HTTP at /mcp)
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Annotated, Any

import mcp_types as types
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field

#: Task support per tool, as the scenarios describe them (absent: "forbidden", a sync-only tool).
TASK_SUPPORT: dict[str, str] = {
    "slow_compute": "optional",
    "confirm_delete": "optional",
    "multi_input": "optional",
    "failing_job": "required",
    "protocol_error_job": "optional",
    "test_tool_with_task": "required",
}
#: How long ``failing_job`` and ``protocol_error_job`` run before they fail ("after ~1s").
FAILING_AFTER = 1.0
#: How long ``test_tool_with_task`` works once it has its answer (the task outlives the round).
WORK_AFTER_ANSWER = 0.5


class Confirmation(BaseModel):
    confirm: Annotated[bool, Field(description="Go ahead?")]


class Person(BaseModel):
    name: Annotated[str, Field(description="A name")] = ""
    confirm: Annotated[bool, Field(description="Go ahead?")] = False


class UserName(BaseModel):
    name: Annotated[str, Field(description="Your user_name")]


def ask_to_delete(filename: str) -> Elicit[Confirmation]:
    return Elicit(f"Delete {filename}?", Confirmation)


def ask_user_name() -> Elicit[UserName]:
    return Elicit("What is your user_name?", UserName)


def _text(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


def build() -> MCPServer:
    server = MCPServer("tasks", version="1.0.0", log_level="WARNING")
    #: The labels of the ``slow_compute`` calls cancelled while they ran, for tests to see.
    cancelled: list[str] = []

    @server.tool(description="Greet someone (sync-only).", structured_output=False)
    def greet(name: str) -> list[types.ContentBlock]:
        return _text(f"Hello, {name}!")

    @server.tool(description="Sleep `seconds`, then answer.", structured_output=False)
    async def slow_compute(seconds: float, label: str = "") -> list[types.ContentBlock]:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.append(label)
            raise
        return _text(f"computed {label} after {seconds:g} s")

    @server.tool(description="The labels of the slow_compute calls cancelled so far.")
    def cancelled_labels() -> list[str]:
        return cancelled

    @server.tool(description="Ask before deleting a file.", structured_output=False)
    def confirm_delete(
        filename: str, answer: Annotated[ElicitationResult[Confirmation], Resolve(ask_to_delete)]
    ) -> list[types.ContentBlock]:
        confirmed = answer.action == "accept" and answer.data.confirm
        return _text(f"deleted {filename}" if confirmed else f"kept {filename}")

    @server.tool(description="Ask two questions at once.", structured_output=False)
    async def multi_input(ctx: Context) -> list[types.ContentBlock]:
        # Both at once, so both are pending together; resolvers would ask one after the other
        # under the handshake. A 2026-07-28 server cannot ask mid-call: this tool is 2025-era only.
        first, second = await asyncio.gather(ctx.elicit("First person?", Person), ctx.elicit("Second person?", Person))
        names = [answer.data.name if answer.action == "accept" else "nobody" for answer in (first, second)]
        return _text("got " + " and ".join(names))

    @server.tool(description="Fail as a tool after a while.", structured_output=False)
    async def failing_job() -> list[types.ContentBlock]:
        await asyncio.sleep(FAILING_AFTER)
        raise ToolError("the job failed, as it always does")

    @server.tool(description="Fail with a protocol error after a while.", structured_output=False)
    async def protocol_error_job() -> list[types.ContentBlock]:
        await asyncio.sleep(FAILING_AFTER)
        raise MCPError(types.INTERNAL_ERROR, "the job broke the protocol, as it always does")

    @server.tool(description="Ask for a name, then work on it.", structured_output=False)
    async def test_tool_with_task(
        answer: Annotated[ElicitationResult[UserName], Resolve(ask_user_name)],
    ) -> list[types.ContentBlock]:
        await asyncio.sleep(WORK_AFTER_ANSWER)
        return _text(f"Hello, {answer.data.name if answer.action == 'accept' else 'nobody'}!")

    _declare_task_support(server)
    return server


def _declare_task_support(server: MCPServer) -> None:
    """Add ``execution.taskSupport`` to the listed tools (``MCPServer.tool`` takes no such argument)."""
    lowlevel = server._lowlevel_server
    listing = lowlevel.get_request_handler("tools/list")
    assert listing is not None

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        listed = await listing.handler(ctx, params)
        for tool in listed.tools:
            support = TASK_SUPPORT.get(tool.name)
            if support is not None:
                tool.execution = types.ToolExecution(task_support=support)  # type: ignore[arg-type]
        return listed

    lowlevel.add_request_handler("tools/list", types.PaginatedRequestParams, list_tools)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build().streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
