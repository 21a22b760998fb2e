"""An MCP server whose every handler forwards to a backend: the gateway in-process, or over HTTP.

The backend answers in MCP's wire shape (JSON dicts); this module only turns those into the
SDK's types, and gives each call a relay to its caller: the progress, log messages and
questions (sampling, elicitation) the upstream sends while the call runs reach the client
that made it, on that request's own stream. ``bridge.endpoint.server`` forwards in-process,
``bridge.proxy`` over REST.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, Protocol

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.upstream.relay import Relay, RelayRefused

__all__ = ["Backend", "Listing", "Subscriptions", "create_forwarding_server"]

log = logging.getLogger(__name__)

Listing = Literal["tools", "prompts", "resources", "resourceTemplates"]
JSON = dict[str, Any]
Ctx = ServerRequestContext[Any, Any]

#: A 2026-07-28 result's ``_meta`` names the server that produced it; through the gateway that is
#: the gateway, which the SDK stamps itself, so the upstream's own entry is dropped.
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
#: How many handshake-era sessions' ``logging/setLevel`` choices are remembered (oldest forgotten).
MAX_SESSION_LEVELS = 10_000
_QUESTIONS: dict[str, tuple[type[Any], type[Any], types.ClientCapabilities]] = {
    "sampling/createMessage": (
        types.CreateMessageRequest,
        types.CreateMessageResult,
        types.ClientCapabilities(sampling=types.SamplingCapability()),
    ),
    "elicitation/create": (
        types.ElicitRequest,
        types.ElicitResult,
        types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    ),
}


class Backend(Protocol):
    async def listing(self, kind: Listing) -> list[JSON]: ...
    async def call_tool(self, name: str, arguments: JSON, relay: Relay | None = None) -> JSON: ...
    async def read_resource(self, uri: str, relay: Relay | None = None) -> JSON: ...
    async def get_prompt(self, name: str, arguments: dict[str, str], relay: Relay | None = None) -> JSON: ...


class Subscriptions(Protocol):
    """A backend that can follow resources upstream; it calls ``updated(uri)`` on each change."""

    async def subscribe(self, uri: str, subscribed: bool) -> None: ...
    def on_updated(self, listener: Callable[[str], None]) -> None: ...


def _client_session(ctx: Ctx) -> str | None:
    """Which client session a request belongs to: its ``Mcp-Session-Id`` (None on stdio, one client).

    ``ctx.session`` is a new object for every request, so it cannot tell two requests of one
    client apart from requests of two clients.
    """
    headers = getattr(ctx.request, "headers", None)
    return headers.get("mcp-session-id") if headers is not None else None


class _Levels:
    """The ``logging/setLevel`` each handshake-era client session chose."""

    def __init__(self) -> None:
        self._levels: OrderedDict[str | None, str] = OrderedDict()

    def set(self, ctx: Ctx, level: str) -> None:
        key = _client_session(ctx)
        self._levels[key] = level
        self._levels.move_to_end(key)
        while len(self._levels) > MAX_SESSION_LEVELS:
            self._levels.popitem(last=False)

    def get(self, ctx: Ctx) -> str | None:
        return self._levels.get(_client_session(ctx))


class _CallerRelay:
    """One forwarded request's way back to its client."""

    def __init__(self, ctx: Ctx, levels: _Levels) -> None:
        self._ctx = ctx
        meta = ctx.meta or {}
        self._token = meta.get("progress_token")
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        self._modern = modern
        params = ctx.params or {}
        answers = params.get("inputResponses")
        self._answers: JSON | None = answers if isinstance(answers, dict) else None
        state = params.get("requestState")
        self._state = state if isinstance(state, str) else None
        # At 2026-07-28 the request opts in itself; before, the session's setLevel (default: all).
        level = meta.get(types.LOG_LEVEL_META_KEY) if modern else (levels.get(ctx) or "debug")
        self._level = level if isinstance(level, str) else None

    @property
    def wants_progress(self) -> bool:
        return self._token is not None

    @property
    def log_level(self) -> str | None:
        return self._level

    @property
    def takes_input_required(self) -> bool:
        return self._modern

    @property
    def input_responses(self) -> JSON | None:
        return self._answers

    @property
    def request_state(self) -> str | None:
        return self._state

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self._token is not None:
            await self._ctx.session.send_progress_notification(
                self._token, progress, total, message, related_request_id=str(self._ctx.request_id)
            )

    async def log(self, params: JSON) -> None:
        with warnings.catch_warnings():  # logging is deprecated at 2026-07-28, still served before it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await self._ctx.session.send_log_message(
                params["level"], params.get("data"), params.get("logger"), related_request_id=self._ctx.request_id
            )

    async def ask(self, method: str, params: JSON) -> JSON:
        session: ServerSession = self._ctx.session
        request_type, result_type, capability = _QUESTIONS.get(method, (None, None, None))
        if request_type is None or result_type is None or capability is None:
            raise RelayRefused(f"{method} is not relayed", METHOD_NOT_FOUND)
        if not session.check_client_capability(capability):
            raise RelayRefused(f"the client did not declare the capability {method} needs")
        if not session.can_send_request:
            raise RelayRefused(f"{method}: this request has no channel back to its client")
        if method == "sampling/createMessage" and isinstance(params.get("messages"), list):
            result_type = types.CreateMessageResultWithTools if params.get("tools") else result_type
        try:
            answer = await session.send_request(
                request_type.model_validate({"method": method, "params": params}),
                result_type,
                metadata=ServerMessageMetadata(related_request_id=self._ctx.request_id),
            )
        except MCPError as exc:
            raise RelayRefused(exc.error.message, exc.error.code) from exc
        result: JSON = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        return result


def _input_required(result: JSON) -> types.InputRequiredResult | None:
    """An upstream's input-required round, handed to a 2026-07-28 client to answer and retry."""
    if result.get("resultType") != "input_required":
        return None
    return types.InputRequiredResult.model_validate(result)


def _as_ours(result: JSON) -> JSON:
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META in meta:
        rest = {k: v for k, v in meta.items() if k != SERVER_INFO_META}
        result = {k: v for k, v in result.items() if k != "_meta"}
        if rest:
            result["_meta"] = rest
    return result


class _Followers:
    """Which client sessions follow which resource URI, each with a way to reach it."""

    def __init__(self) -> None:
        self._by_uri: dict[str, dict[str | None, ServerSession]] = {}

    def follow(self, uri: str, ctx: Ctx, subscribed: bool) -> bool:
        """Record the change; True when ``uri`` gained its first or lost its last follower."""
        followers = self._by_uri.setdefault(uri, {})
        before = bool(followers)
        if subscribed:
            # Any request's session object sends on the client's connection, outside that request.
            followers[_client_session(ctx)] = ctx.session
        else:
            followers.pop(_client_session(ctx), None)
        if not followers:
            del self._by_uri[uri]
        return before != bool(followers)

    async def updated(self, uri: str) -> None:
        for key, session in list(self._by_uri.get(uri, {}).items()):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the client went away without unsubscribing
                log.debug("dropping a follower of %s", uri, exc_info=True)
                self._by_uri.get(uri, {}).pop(key, None)


def create_forwarding_server(
    backend: Backend, *, name: str, instructions: str, subscriptions: Subscriptions | None = None
) -> Server[Any]:
    levels = _Levels()
    followers = _Followers()

    async def list_tools(_ctx: Ctx, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in await backend.listing("tools")])

    async def call_tool(
        ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        result = await backend.call_tool(params.name, params.arguments or {}, _CallerRelay(ctx, levels))
        return _input_required(result) or types.CallToolResult.model_validate(_as_ours(result))

    async def list_resources(_ctx: Ctx, _params: Any) -> types.ListResourcesResult:
        listed = await backend.listing("resources")
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in listed])

    async def list_templates(_ctx: Ctx, _params: Any) -> types.ListResourceTemplatesResult:
        listed = await backend.listing("resourceTemplates")
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(t) for t in listed]
        )

    async def read_resource(
        ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        result = await backend.read_resource(str(params.uri), _CallerRelay(ctx, levels))
        return _input_required(result) or types.ReadResourceResult.model_validate(_as_ours(result))

    async def list_prompts(_ctx: Ctx, _params: Any) -> types.ListPromptsResult:
        listed = await backend.listing("prompts")
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in listed])

    async def get_prompt(
        ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        result = await backend.get_prompt(params.name, params.arguments or {}, _CallerRelay(ctx, levels))
        return _input_required(result) or types.GetPromptResult.model_validate(_as_ours(result))

    async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        levels.set(ctx, params.level)
        return types.EmptyResult()

    async def follow(ctx: Ctx, uri: str, subscribed: bool) -> types.EmptyResult:
        assert subscriptions is not None  # registered only with subscriptions
        if followers.follow(uri, ctx, subscribed):
            await subscriptions.subscribe(uri, subscribed)
        return types.EmptyResult()

    async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        return await follow(ctx, str(params.uri), True)

    async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        return await follow(ctx, str(params.uri), False)

    handlers: dict[str, Any] = {}
    if subscriptions is not None:
        handlers = {"on_subscribe_resource": subscribe, "on_unsubscribe_resource": unsubscribe}

        def updated(uri: str) -> None:
            # Updates arrive on the sessions' loop, which also serves the clients: send from a task there.
            asyncio.get_running_loop().create_task(followers.updated(uri))

        subscriptions.on_updated(updated)
    with warnings.catch_warnings():  # logging/setLevel is deprecated at 2026-07-28; older clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
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
            on_set_logging_level=set_level,
            **handlers,
        )
