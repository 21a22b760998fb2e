"""A real MCP server for the bridge's tests, written with the official SDK.

It covers what a bridge must carry: rich input schemas, structured output, every content block
kind, text and binary resources, a template, prompts, and the unhappy paths (a slow tool, a
failing tool, a tool that kills the server, annotated ``destructiveHint``). Run it over any transport::

    python tests/servers/rich_server.py stdio [--legacy] [--name NAME]
    python tests/servers/rich_server.py http --port P    (Streamable HTTP at /mcp)
    python tests/servers/rich_server.py sse --port P     (legacy SSE at /sse and /messages/)

``--legacy`` removes ``server/discover``, so the server speaks only the handshake generation
(2025-11-25 and older) and clients fall back to ``initialize``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import zlib
from typing import Annotated, Any, Literal

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import AssistantMessage, Message, UserMessage
from mcp.server.runner import serve_loop
from pydantic import BaseModel, ConfigDict, Field


def tiny_png() -> bytes:
    """A real 1x1 red PNG, built byte by byte."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def tiny_wav() -> bytes:
    """A real WAV: 8 samples of 8-bit mono silence at 8 kHz."""
    samples = b"\x80" * 8
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


class Passenger(BaseModel):
    """One traveller."""

    first_name: Annotated[str, Field(min_length=1, description="Given name")]
    last_name: Annotated[str, Field(min_length=1, description="Family name")]
    age: Annotated[int, Field(ge=0, le=130)]


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["card"]
    number: Annotated[str, Field(pattern=r"^[0-9]{12,19}$")]


class Voucher(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["voucher"]
    code: Annotated[str, Field(min_length=4, max_length=16)]


class Booking(BaseModel):
    reference: str
    route: str
    passengers: int
    cabin: str
    paid_with: str


def build(name: str) -> MCPServer:
    server = MCPServer(name, version="1.0.0")
    calls = {"count": 0}
    inflight = {"now": 0, "peak": 0}

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Book a flight; the arguments exercise every JSON Schema feature a bridge must keep.")
    def book_flight(
        origin: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="IATA code of the departure airport")],
        destination: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="IATA code of the arrival airport")],
        travellers: Annotated[list[Passenger], Field(min_length=1, max_length=9)],
        payment: Annotated[Card | Voucher, Field(discriminator="type")],
        cabin: Literal["economy", "premium", "business", "first"] = "economy",
        passengers: Annotated[int, Field(ge=1, le=9)] = 1,
        notes: Annotated[str | None, Field(max_length=200)] = None,
    ) -> Booking:
        key = f"{origin}{destination}{passengers}{cabin}{[t.last_name for t in travellers]}".encode()
        return Booking(
            reference=hashlib.sha256(key).hexdigest()[:8].upper(),
            route=f"{origin}-{destination}",
            passengers=passengers,
            cabin=cabin,
            paid_with=payment.type,
        )

    @server.tool(description="Return one content block of every kind.", structured_output=False)
    def all_content() -> list[types.ContentBlock]:
        png = base64.b64encode(tiny_png()).decode()
        return [
            types.TextContent(type="text", text="every kind follows"),
            types.ImageContent(type="image", data=png, mime_type="image/png"),
            types.AudioContent(type="audio", data=base64.b64encode(tiny_wav()).decode(), mime_type="audio/wav"),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri="text://inline", mime_type="text/plain", text="inline text"),
            ),
            types.EmbeddedResource(
                type="resource",
                resource=types.BlobResourceContents(uri="bin://inline", mime_type="image/png", blob=png),
            ),
            types.ResourceLink(type="resource_link", uri="bin://pixel.png", name="pixel", mime_type="image/png"),
        ]

    @server.tool(description="Sleep for the given seconds, then answer.")
    async def slow(seconds: Annotated[float, Field(ge=0, le=600)]) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="Report a tool error carrying the message.")
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(
        description="Kill this server process at once.", annotations=types.ToolAnnotations(destructiveHint=True)
    )
    def crash() -> str:
        os._exit(3)

    @server.tool(description="This server's process id.")
    def pid() -> int:
        return os.getpid()

    @server.tool(description="How many times this tool was called in this process.")
    def counter() -> int:
        calls["count"] += 1
        return calls["count"]

    @server.tool(description="Hold the call open, then report the most calls seen in flight at once.")
    async def concurrency_probe(seconds: Annotated[float, Field(ge=0, le=10)]) -> int:
        inflight["now"] += 1
        inflight["peak"] = max(inflight["peak"], inflight["now"])
        try:
            await asyncio.sleep(seconds)
        finally:
            inflight["now"] -= 1
        return inflight["peak"]

    @server.tool(description="Add a tool named `name` that echoes, and tell clients the tool list changed.")
    async def grow(name: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")], ctx: Context) -> str:
        def extra(text: str) -> str:
            return text

        server.add_tool(extra, name=name, description=f"An echo added at run time as {name}.")
        await ctx.notify_tools_changed()  # 2026-07-28 clients hear it on subscriptions/listen
        with contextlib.suppress(Exception):  # handshake-era sessions take a notification
            await ctx.request_context.session.send_tool_list_changed()
        return f"added {name}"

    @server.resource("text://greeting", name="greeting", mime_type="text/plain")
    def greeting() -> str:
        return f"hello from {name}"

    @server.resource("bin://pixel.png", name="pixel", mime_type="image/png")
    def pixel() -> bytes:
        return tiny_png()

    @server.resource("bin://bytes", name="bytes", mime_type="application/octet-stream")
    def all_bytes() -> bytes:
        return bytes(range(256))

    @server.resource("item://{id}", name="item", mime_type="application/json")
    def item(id: str) -> str:
        return '{"id": "' + id + '"}'

    @server.prompt(description="Greet someone by name.")
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @server.prompt(description="Ask for a code review.")
    def review_code(code: str, language: str = "python") -> list[Message]:
        return [
            UserMessage(f"Please review this {language} code:\n\n{code}"),
            AssistantMessage("Certainly. Here is what I see:"),
        ]

    return server


def speak_handshake_only(server: MCPServer) -> None:
    """Make the server a 2025-era one: no ``server/discover``, and stream transports (stdio, SSE)
    served by the handshake-only loop, which refuses the 2026-07-28 envelope."""
    lowlevel = server._lowlevel_server
    lowlevel._request_handlers.pop("server/discover", None)

    async def run(read_stream: Any, write_stream: Any, init_options: Any, raise_exceptions: bool = False) -> None:
        async with lowlevel.lifespan(lowlevel) as state:
            await serve_loop(
                lowlevel,
                read_stream,
                write_stream,
                lifespan_state=state,
                init_options=init_options,
                raise_exceptions=raise_exceptions,
            )

    lowlevel.run = run  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", choices=["stdio", "http", "sse"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="rich")
    parser.add_argument("--legacy", action="store_true", help="speak only the 2025-11-25 handshake generation")
    parser.add_argument("--require-token", help="HTTP only: answer 401 unless 'Authorization: Bearer <token>'")
    parser.add_argument("--json-response", action="store_true", help="HTTP only: answer JSON, not an event stream")
    args = parser.parse_args()
    server = build(args.name)
    if args.legacy:
        speak_handshake_only(server)
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = server.streamable_http_app(json_response=args.json_response) if args.transport == "http" else server.sse_app()
    if args.require_token:
        app = bearer_only(app, args.require_token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def bearer_only(app: Any, token: str) -> Any:
    """Wrap an ASGI app so that only requests carrying the token get through."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return guarded


if __name__ == "__main__":
    main()
