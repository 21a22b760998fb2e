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
from typing import Any, Generic, Literal, Protocol, TypeVar

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge import __version__
from bridge.model import INPUT_REQUIRED, Relay, RelayRefused

__all__ = ["Backend", "Listing", "Subscriptions", "create_forwarding_server"]

log = logging.getLogger(__name__)

Listing = Literal["tools", "prompts", "resources", "resourceTemplates"]
JSON = dict[str, Any]
Ctx = ServerRequestContext[Any, Any]

#: A 2026-07-28 result's ``_meta`` names the server that produced it; through the gateway that is
#: the gateway, which the SDK stamps itself, so the upstream's own entry is dropped.
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
#: How many handshake-era client sessions are remembered (their log level, a way to reach them).
MAX_SESSIONS = 10_000
V = TypeVar("V")
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
    """A backend whose changes clients can follow; listeners are called on the serving loop."""

    async def subscribe(self, uri: str, subscribed: bool) -> None:
        """Follow a resource upstream (or stop); ``on_updated`` listeners then hear of its changes."""
        ...

    def on_updated(self, listener: Callable[[str], None]) -> None: ...

    def on_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the tools, resources or prompts on offer change."""
        ...


def _client_session(ctx: Ctx) -> str | None:
    """Which client session a request belongs to: its ``Mcp-Session-Id`` (None on stdio, one client).

    ``ctx.session`` is a new object for every request, so it cannot tell two requests of one
    client apart from requests of two clients.
    """
    headers = getattr(ctx.request, "headers", None)
    return headers.get("mcp-session-id") if headers is not None else None


class _PerSession(Generic[V]):
    """A value per client session, the most recently used ``MAX_SESSIONS`` kept."""

    def __init__(self) -> None:
        self._values: OrderedDict[str | None, V] = OrderedDict()

    def set(self, ctx: Ctx, value: V) -> None:
        key = _client_session(ctx)
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > MAX_SESSIONS:
            self._values.popitem(last=False)

    def get(self, ctx: Ctx) -> V | None:
        return self._values.get(_client_session(ctx))

    def items(self) -> list[tuple[str | None, V]]:
        return list(self._values.items())

    def forget(self, key: str | None) -> None:
        self._values.pop(key, None)


#: The ``logging/setLevel`` each handshake-era client session chose.
_Levels = _PerSession[str]


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
        if method == "sampling/createMessage" and params.get("tools"):
            result_type = types.CreateMessageResultWithTools
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
    if result.get("resultType") != INPUT_REQUIRED:
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


#: Who follows a resource: a handshake-era client session, or one 2026-07-28 listen stream.
Follower = tuple[str, str | None]


class _Followers:
    """Which clients follow which resource URI; updates reach sessions directly, streams via the bus."""

    def __init__(self, bus: InMemorySubscriptionBus) -> None:
        self._by_uri: dict[str, dict[Follower, ServerSession | None]] = {}
        self._bus = bus

    def follow(self, uri: str, who: Follower, session: ServerSession | None, subscribed: bool) -> bool:
        """Record the change; True when ``uri`` gained its first or lost its last follower."""
        followers = self._by_uri.setdefault(uri, {})
        before = bool(followers)
        if subscribed:
            followers[who] = session
        else:
            followers.pop(who, None)
        if not followers:
            del self._by_uri[uri]
        return before != bool(followers)

    async def updated(self, uri: str) -> None:
        await self._bus.publish(ResourceUpdated(uri=uri))  # listen streams that asked for this URI
        for who, session in list(self._by_uri.get(uri, {}).items()):
            if session is None:
                continue
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the client went away without unsubscribing
                log.debug("dropping a follower of %s", uri, exc_info=True)
                self._by_uri.get(uri, {}).pop(who, None)


class _Sessions(_PerSession[ServerSession]):
    """The handshake-era client sessions seen lately, to tell them that the lists changed.

    A 2026-07-28 client listens instead (``subscriptions/listen``), and hears it on that stream.
    """

    def seen(self, ctx: Ctx) -> None:
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self.set(ctx, ctx.session)

    async def announce(self) -> None:
        changes = (
            types.ToolListChangedNotification(),
            types.PromptListChangedNotification(),
            types.ResourceListChangedNotification(),
        )
        for key, session in self.items():
            try:
                for change in changes:
                    await session.send_notification(change)
            except Exception:  # gone: it will be seen again if it comes back
                log.debug("dropping a client session", exc_info=True)
                self.forget(key)


#: What the gateway announces to handshake-era clients (at 2026-07-28 the listen handler says it).
_CHANGES = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)


class _AnnouncingServer(Server[Any]):
    """A server that tells handshake-era clients it sends ``list_changed`` notifications."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or _CHANGES, experimental_capabilities, extensions
        )


def create_forwarding_server(
    backend: Backend, *, name: str, instructions: str, subscriptions: Subscriptions | None = None
) -> Server[Any]:
    levels = _Levels()
    bus = InMemorySubscriptionBus()
    followers = _Followers(bus)
    sessions = _Sessions()

    async def list_tools(ctx: Ctx, _params: Any) -> types.ListToolsResult:
        sessions.seen(ctx)
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in await backend.listing("tools")])

    async def call_tool(
        ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        result = await backend.call_tool(params.name, params.arguments or {}, _CallerRelay(ctx, levels))
        return _input_required(result) or types.CallToolResult.model_validate(_as_ours(result))

    async def list_resources(ctx: Ctx, _params: Any) -> types.ListResourcesResult:
        sessions.seen(ctx)
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

    async def list_prompts(ctx: Ctx, _params: Any) -> types.ListPromptsResult:
        sessions.seen(ctx)
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

    async def follow(uri: str, who: Follower, session: ServerSession | None, subscribed: bool) -> None:
        assert subscriptions is not None  # registered only with subscriptions
        if followers.follow(uri, who, session, subscribed):
            await subscriptions.subscribe(uri, subscribed)

    async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        await follow(str(params.uri), ("session", _client_session(ctx)), ctx.session, True)
        return types.EmptyResult()

    async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        await follow(str(params.uri), ("session", _client_session(ctx)), None, False)
        return types.EmptyResult()

    listen = ListenHandler(bus)

    async def listen_for_changes(
        ctx: Ctx, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """A 2026-07-28 client's stream: its resource URIs are followed upstream while it lasts."""
        uris = sorted(set(params.notifications.resource_subscriptions or ()))
        who: Follower = ("listen", f"{_client_session(ctx)}/{ctx.request_id}/{id(ctx)}")
        for uri in uris:
            await follow(uri, who, None, True)
        try:
            return await listen(ctx, params)
        finally:
            with anyio.CancelScope(shield=True):  # the stream may end by cancellation
                for uri in uris:
                    await follow(uri, who, None, False)

    handlers: dict[str, Any] = {}
    server_type: type[Server[Any]] = Server
    if subscriptions is not None:
        handlers = {
            "on_subscribe_resource": subscribe,
            "on_unsubscribe_resource": unsubscribe,
            "on_subscriptions_listen": listen_for_changes,
        }
        server_type = _AnnouncingServer

        # Both arrive on the sessions' loop, which also serves the clients: send from tasks there,
        # held until done (the loop keeps only weak references to tasks).
        running: set[asyncio.Task[None]] = set()

        def spawn(work: Any) -> None:
            task = asyncio.get_running_loop().create_task(work)
            running.add(task)
            task.add_done_callback(running.discard)

        def updated(uri: str) -> None:
            spawn(followers.updated(uri))

        async def announce() -> None:
            for change in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
                await bus.publish(change)
            await sessions.announce()

        def changed() -> None:
            spawn(announce())

        subscriptions.on_updated(updated)
        subscriptions.on_changed(changed)
    with warnings.catch_warnings():  # logging/setLevel is deprecated at 2026-07-28; older clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return server_type(
            name,
            version=__version__,
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
