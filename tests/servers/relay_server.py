"""An MCP server whose tools talk back to their caller mid-call, for the gateway's relay tests.

``steps`` reports progress and logs each step, ``ask`` elicits an answer, ``sample`` asks the
client's model, and ``hold`` waits until cancelled, counting cancellations (``cancellations``).
``set_note`` changes the resource ``note://current`` and tells its followers, the way the
session's revision has it (a ``subscriptions/listen`` event, or ``resources/updated`` to a
2025-era session that subscribed).
Each answer names what the tool received, so a test can tell whose question reached whom.
``holding`` and ``following`` say what is under way here (``hold`` calls running, resources
followed), so a test can wait for the moment a call or a subscription has arrived, not sleep.

    python tests/servers/relay_server.py [--legacy] [--http-port N]     (stdio, or Streamable HTTP at /mcp)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
from typing import Annotated, Any

import mcp_types as types
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from pydantic import BaseModel, Field

from tests.servers.rich_server import speak_handshake_only

NOTE = "note://current"


class Answer(BaseModel):
    answer: str = Field(description="Your answer")


# Resolvers ask through the SDK, which picks the generation's way: a request mid-call before
# 2026-07-28, an input-required result (the client answers and retries) from it on.
def _question(question: str) -> Elicit[Answer]:
    return Elicit(question, Answer)


def _prompt(prompt: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    return Sample([message], max_tokens=50)


def build() -> MCPServer:
    server = MCPServer("relay")
    seen = {"cancelled": 0, "holding": 0, "beaten": 0}
    note = {"text": "first"}
    followed: set[str] = set()  # by 2025-era subscriptions
    listened: collections.Counter[str] = collections.Counter()  # by the open subscriptions/listen streams

    @server.tool(description="Count to `count`, reporting progress and logging each step.")
    async def steps(count: Annotated[int, Field(ge=1, le=20)], ctx: Context) -> str:
        for step in range(1, count + 1):
            await ctx.info(f"step {step} of {count}")
            await ctx.report_progress(step, count, f"step {step}")
            await asyncio.sleep(0.01)
        return f"counted to {count}"

    @server.tool(description="Ask the user a question and return the answer.")
    async def ask(question: str, reply: Annotated[ElicitationResult[Answer], Resolve(_question)]) -> str:
        if reply.action == "accept":
            return f"{question} -> {reply.data.answer}"
        return f"{question} -> {reply.action}"

    @server.tool(description="Ask the client's model and return its reply.")
    async def sample(prompt: str, reply: Annotated[types.CreateMessageResult, Resolve(_prompt)]) -> str:
        content = reply.content
        return f"{prompt} -> {content.text if isinstance(content, types.TextContent) else content}"

    async def held(seconds: float) -> None:
        """Wait ``seconds``, counted while it runs, and counted again if it is cancelled."""
        seen["holding"] += 1
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
        finally:
            seen["holding"] -= 1

    @server.tool(description="Wait up to `seconds`; a cancelled wait is counted.")
    async def hold(seconds: Annotated[float, Field(ge=0, le=60)]) -> str:
        await held(seconds)
        return "held"

    @server.tool(description="Report progress, wait `seconds` (counted as `hold` is), report again and answer.")
    async def beat(seconds: Annotated[float, Field(ge=0, le=60)], ctx: Context) -> str:
        await ctx.report_progress(1, 2, "begun")
        await held(seconds)
        await ctx.report_progress(2, 2, "done")
        seen["beaten"] += 1
        return "beat"

    @server.tool(description="How many `beat` calls ran to their end.")
    def beaten() -> int:
        return seen["beaten"]

    @server.tool(description="How many `hold` calls are running now.")
    def holding() -> int:
        return seen["holding"]

    @server.tool(description="How many `hold` calls were cancelled so far.")
    def cancellations() -> int:
        return seen["cancelled"]

    @server.resource(NOTE, name="note", mime_type="text/plain")
    def current_note() -> str:
        return note["text"]

    @server.tool(description="The resources someone follows here now, by either revision's means.")
    def following() -> list[str]:
        return sorted(followed | {uri for uri, streams in listened.items() if streams > 0})

    @server.tool(description="Change the note resource and tell whoever follows it.")
    async def set_note(text: str, ctx: Context) -> str:
        note["text"] = text
        await ctx.notify_resource_updated(NOTE)  # 2026-07-28: subscriptions/listen streams
        if NOTE in followed:  # before it: the session that subscribed
            await ctx.request_context.session.send_resource_updated(NOTE)
        return text

    async def follow(_ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        followed.add(str(params.uri))
        return types.EmptyResult()

    async def unfollow(_ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        followed.discard(str(params.uri))
        return types.EmptyResult()

    # MCPServer has no decorators for the handshake-era subscribe methods; the low-level server
    # takes them (and then advertises resources.subscribe).
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, follow)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unfollow)

    # The SDK serves each listen stream; counting the URIs of the open ones is all this adds. The
    # stream is subscribed before the SDK's handler first yields, so counting first never overstates.
    serve_listen = lowlevel.get_request_handler("subscriptions/listen")
    assert serve_listen is not None

    async def listen(ctx: Any, params: types.SubscriptionsListenRequestParams) -> Any:
        uris = list(params.notifications.resource_subscriptions or ())
        listened.update(uris)
        try:
            return await serve_listen.handler(ctx, params)
        finally:
            listened.subtract(uris)

    lowlevel.add_request_handler("subscriptions/listen", types.SubscriptionsListenRequestParams, listen)
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--legacy", action="store_true", help="speak only the handshake generation")
    parser.add_argument("--http-port", type=int, help="serve Streamable HTTP on this port instead of stdio")
    args = parser.parse_args()
    server = build()
    if args.legacy:
        speak_handshake_only(server)
    if args.http_port is None:
        server.run("stdio")
        return
    import uvicorn

    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=args.http_port, log_level="warning")


if __name__ == "__main__":
    main()
