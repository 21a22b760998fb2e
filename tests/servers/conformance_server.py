"""The server the MCP conformance suite's server scenarios expect, written with the official SDK,
so the suite can be run against the bridge's ``/mcp`` with this behind it.

Each tool, resource, prompt and completion answers what its scenario's description asks for,
byte for byte where the description gives the text; the suite's ``dist/index.js`` holds each
scenario's requirements. The 2026-07-28 input-required tools are in ``conformance_rounds``.
Sampling and elicitation go through the SDK's resolvers (``Resolve``), which speak both eras: a
standalone server-to-client request mid-call under the 2025-11-25 handshake, an
``InputRequiredResult`` round trip under 2026-07-28. Over HTTP its streams keep their events,
so a client cut off mid-call resumes with ``Last-Event-ID``. Run it as::

    python tests/servers/conformance_server.py stdio
    python tests/servers/conformance_server.py http --port P    (Streamable HTTP at /mcp)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import struct
import warnings
import wave
import zlib
from typing import Annotated, Any

import mcp_types as types
from conformance_rounds import add_rounds  # the sibling module: this file runs as a script
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve, Sample, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import JSONRPCMessage
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

#: The scenarios expect log messages and progress to arrive spread out, not in one burst.
STEP_DELAY = 0.05
#: How long test_reconnection waits after closing its stream, and the retry the client is told.
RECONNECT_PAUSE = 0.3
RETRY_MS = 100
#: Lowest first, as ``logging/setLevel`` orders them.
LOG_LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


def tiny_png() -> bytes:
    """A real 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8-bit depth, RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def tiny_wav() -> bytes:
    """A real WAV: 10 ms of 8-bit mono silence at 8 kHz."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(1)
        audio.setframerate(8000)
        audio.writeframes(b"\x80" * 80)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _image() -> types.ImageContent:
    return types.ImageContent(type="image", data=_b64(tiny_png()), mime_type="image/png")


class UserDetails(BaseModel):
    username: Annotated[str, Field(description="User's response")]
    email: Annotated[str, Field(description="User's email address")]


def ask_for_details(message: str) -> Elicit[UserDetails]:
    return Elicit(message, UserDetails)


def sample_the_prompt(prompt: str) -> Sample:
    text = types.TextContent(type="text", text=prompt)
    return Sample([types.SamplingMessage(role="user", content=text)], max_tokens=100)


#: The suite's json-schema-2020-12 scenario checks these keywords survive the tool listing as written.
JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

#: The key a hand-written form's question and answer travel under at 2026-07-28.
FORM = "form"

#: SEP-1034: a default for every primitive type.
DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
        "verified": {"type": "boolean", "default": True},
    },
}

#: SEP-1330: the five ways to spell an enum.
ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}


class MemoryEvents(EventStore):
    """What a Streamable HTTP stream sent, kept so a client that reconnects with ``Last-Event-ID`` gets the rest."""

    def __init__(self) -> None:
        self._events: list[tuple[StreamId, EventId, JSONRPCMessage | None]] = []

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = str(len(self._events) + 1)
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        found = [index for index, (_, event_id, _) in enumerate(self._events) if event_id == last_event_id]
        if not found:
            return None
        stream_id = self._events[found[0]][0]
        for stream, event_id, message in self._events[found[0] + 1 :]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


async def elicit_form(
    ctx: Context, message: str, schema: dict[str, Any]
) -> list[types.ContentBlock] | types.InputRequiredResult:
    """Ask for a form written by hand (the resolvers take a model), in the era the caller speaks."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = (ctx.input_responses or {}).get(FORM)
        if not isinstance(answer, types.ElicitResult):
            params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
            return types.InputRequiredResult(input_requests={FORM: types.ElicitRequest(params=params)})
    else:
        answer = await ctx.session.elicit_form(message, schema, ctx.request_id)
    text = f"Elicitation completed: action={answer.action}, content={json.dumps(answer.content)}"
    return [types.TextContent(type="text", text=text)]


def build() -> MCPServer:
    server = MCPServer("conformance", version="1.0.0", log_level="WARNING")
    # The scenarios subscribe and unsubscribe but never change a resource, so no update is ever due;
    # the set is what a change would consult.
    subscribed: set[str] = set()
    log_level: dict[str, types.LoggingLevel] = {"now": "debug"}

    @server.tool(description="Return one text block.", structured_output=False)
    def test_simple_text() -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text="This is a simple text response for testing.")]

    @server.tool(description="Return one PNG image.", structured_output=False)
    def test_image_content() -> list[types.ContentBlock]:
        return [_image()]

    @server.tool(description="Return one WAV clip.", structured_output=False)
    def test_audio_content() -> list[types.ContentBlock]:
        return [types.AudioContent(type="audio", data=_b64(tiny_wav()), mime_type="audio/wav")]

    @server.tool(description="Return one embedded text resource.", structured_output=False)
    def test_embedded_resource() -> list[types.ContentBlock]:
        contents = types.TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
        )
        return [types.EmbeddedResource(type="resource", resource=contents)]

    @server.tool(description="Return text, an image and an embedded resource.", structured_output=False)
    def test_multiple_content_types() -> list[types.ContentBlock]:
        contents = types.TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}, separators=(",", ":")),
        )
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            _image(),
            types.EmbeddedResource(type="resource", resource=contents),
        ]

    @server.tool(description="Send three info log messages while running.", structured_output=False)
    async def test_tool_with_logging(ctx: Context) -> list[types.ContentBlock]:
        messages = ["Tool execution started", "Tool processing data", "Tool execution completed"]
        for index, message in enumerate(messages):
            if index:
                await asyncio.sleep(STEP_DELAY)
            if LOG_LEVELS.index(log_level["now"]) <= LOG_LEVELS.index("info"):
                await ctx.info(message)
        return [types.TextContent(type="text", text="Tool with logging executed successfully")]

    @server.tool(description="Always fail.", structured_output=False)
    def test_error_handling() -> list[types.ContentBlock]:
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool(description="Report progress 0, 50 and 100 of 100 while running.", structured_output=False)
    async def test_tool_with_progress(ctx: Context) -> list[types.ContentBlock]:
        for step, progress in enumerate((0, 50, 100)):
            if step:
                await asyncio.sleep(STEP_DELAY)
            await ctx.report_progress(progress, 100)  # a no-op when the caller sent no progressToken
        return [types.TextContent(type="text", text="Tool with progress executed successfully")]

    @server.tool(description="Ask the client's LLM to answer the prompt.", structured_output=False)
    def test_sampling(
        prompt: Annotated[str, Field(description="The prompt to send to the LLM")],
        answer: Annotated[types.CreateMessageResult, Resolve(sample_the_prompt)],
    ) -> list[types.ContentBlock]:
        content = answer.content
        said = content.text if isinstance(content, types.TextContent) else content.model_dump_json()
        return [types.TextContent(type="text", text=f"LLM response: {said}")]

    @server.tool(description="Ask the user for a username and an email address.", structured_output=False)
    def test_elicitation(
        message: Annotated[str, Field(description="The message to show the user")],
        answer: Annotated[ElicitationResult[UserDetails], Resolve(ask_for_details)],
    ) -> list[types.ContentBlock]:
        content = answer.data.model_dump() if answer.action == "accept" else None
        text = f"User response: action={answer.action}, content={json.dumps(content)}"
        return [types.TextContent(type="text", text=text)]

    @server.tool(description="Tool with JSON Schema 2020-12 features", structured_output=False)
    def json_schema_2020_12_tool() -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text="JSON Schema 2020-12 tool called")]

    # The SDK derives a tool's schema from its signature; this scenario is about one written by hand.
    server._tool_manager.get_tool("json_schema_2020_12_tool").parameters = JSON_SCHEMA_2020_12  # type: ignore[union-attr]

    @server.tool(description="Ask for a form whose fields all have defaults.", structured_output=False)
    async def test_elicitation_sep1034_defaults(ctx: Context) -> list[types.ContentBlock] | types.InputRequiredResult:
        return await elicit_form(ctx, "Please review your details", DEFAULTS_SCHEMA)

    @server.tool(description="Ask for a form with every kind of enum.", structured_output=False)
    async def test_elicitation_sep1330_enums(ctx: Context) -> list[types.ContentBlock] | types.InputRequiredResult:
        return await elicit_form(ctx, "Please pick your options", ENUMS_SCHEMA)

    @server.tool(description="Close the response stream mid-call; the answer follows on reconnection.")
    async def test_reconnection(ctx: Context) -> str:
        await ctx.close_sse_stream()
        await asyncio.sleep(RECONNECT_PAUSE)
        return "Reconnection test completed"

    @server.tool(description="Mirror region and priority into Mcp-Param headers.", structured_output=False)
    def test_custom_headers(
        region: Annotated[
            str, Field(description="Plain ASCII string value", json_schema_extra={"x-mcp-header": "Region"})
        ],
        query: Annotated[str, Field(description="No x-mcp-header annotation - should not be mirrored")],
        priority: Annotated[
            int, Field(description="Integer numeric value", json_schema_extra={"x-mcp-header": "Priority"})
        ] = 0,
    ) -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text=f"region={region} priority={priority} query={query}")]

    @server.completion()
    async def complete(
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        _context: types.CompletionContext | None,
    ) -> types.Completion:
        choices = {"arg1": ["test-one", "test-two", "other"], "arg2": ["value"], "id": ["1", "2", "42"]}
        values = [value for value in choices.get(argument.name, []) if value.startswith(argument.value)]
        return types.Completion(values=values, total=len(values), has_more=False)

    @server.resource(
        "test://static-text", name="static-text", description="A static text resource.", mime_type="text/plain"
    )
    def static_text() -> str:
        return "This is the content of the static text resource."

    @server.resource(
        "test://static-binary", name="static-binary", description="A static PNG image.", mime_type="image/png"
    )
    def static_binary() -> bytes:
        return tiny_png()

    @server.resource(
        "test://watched-resource",
        name="watched-resource",
        description="A resource clients may subscribe to.",
        mime_type="text/plain",
    )
    def watched_resource() -> str:
        return "This is the content of the watched resource."

    @server.resource(
        "test://template/{id}/data",
        name="template-data",
        description="Data for the given id.",
        mime_type="application/json",
    )
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))

    @server.prompt(description="A prompt without arguments.")
    def test_simple_prompt() -> list[UserMessage]:
        return [UserMessage("This is a simple prompt for testing.")]

    @server.prompt(description="A prompt with two required arguments.")
    def test_prompt_with_arguments(
        arg1: Annotated[str, Field(description="First test argument")],
        arg2: Annotated[str, Field(description="Second test argument")],
    ) -> list[UserMessage]:
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @server.prompt(description="A prompt that embeds the given resource.")
    def test_prompt_with_embedded_resource(
        resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # the scenario names it so
    ) -> list[UserMessage]:
        contents = types.TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            UserMessage(types.EmbeddedResource(type="resource", resource=contents)),
            UserMessage("Please process the embedded resource above."),
        ]

    @server.prompt(description="A prompt with an image.")
    def test_prompt_with_image() -> list[UserMessage]:
        return [UserMessage(_image()), UserMessage("Please analyze the image above.")]

    async def subscribe(_ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(_ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    async def set_level(_ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        log_level["now"] = params.level
        return types.EmptyResult()

    # MCPServer has no decorators for these handshake-era methods; the low-level server takes them,
    # and advertises resources.subscribe and logging because they are registered.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    add_rounds(server)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", choices=["stdio", "http", "sse"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    # The suite exercises logging and sampling, which 2026-07-28 deprecates; using them is the point.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    server = build()
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    if args.transport == "sse":  # the legacy HTTP+SSE transport, at /sse and /messages/
        app = server.sse_app()
    else:
        app = server.streamable_http_app(event_store=MemoryEvents(), retry_interval=RETRY_MS)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
