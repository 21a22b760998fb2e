"""The forwarding server's request handlers: each MCP request passed to the backend, its answer typed.

``ForwardingHandlers`` holds what one server remembers between requests (the log level each
handshake-era session chose, the sessions to announce changes to, who follows which resource,
and the bus listen streams hear from) and has one method per MCP request it serves.
"""

from __future__ import annotations

import anyio
import mcp_types as types
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler

from bridge.mcpserver.backend import Backend, Caller, Subscriptions
from bridge.mcpserver.changes import Follower, Followers
from bridge.mcpserver.relay import CallerRelay
from bridge.mcpserver.sessions import ClientSessions, Ctx, LogLevels, caller_of, client_session
from bridge.model import INPUT_REQUIRED, JSON

__all__ = ["SERVER_INFO_META", "ForwardingHandlers", "as_ours"]

#: A 2026-07-28 result's ``_meta`` names the server that produced it; through the gateway that is
#: the gateway, which the SDK stamps itself, so the upstream's own entry is dropped.
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"

Paging = types.PaginatedRequestParams | None


def _input_required(result: JSON) -> types.InputRequiredResult | None:
    """An upstream's input-required round, handed to a 2026-07-28 client to answer and retry."""
    if result.get("resultType") != INPUT_REQUIRED:
        return None
    return types.InputRequiredResult.model_validate(result)


def as_ours(result: JSON) -> JSON:
    """``result`` without the upstream's own ``serverInfo`` stamp (the gateway stamps its own)."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META in meta:
        rest = {k: v for k, v in meta.items() if k != SERVER_INFO_META}
        result = {k: v for k, v in result.items() if k != "_meta"}
        if rest:
            result["_meta"] = rest
    return result


class ForwardingHandlers:
    """One forwarding server's handlers and the state they share.

    ``subscribe``, ``unsubscribe`` and ``listen`` follow resources through ``subscriptions``, and
    are served only with it.
    """

    def __init__(self, backend: Backend, subscriptions: Subscriptions | None = None) -> None:
        self.backend = backend
        self.subscriptions = subscriptions
        self.levels = LogLevels()
        self.sessions = ClientSessions()
        self.bus = InMemorySubscriptionBus()
        self.followers = Followers(self.bus)
        self._listen = ListenHandler(self.bus)

    async def list_tools(self, ctx: Ctx, _params: Paging) -> types.ListToolsResult:
        self.sessions.seen(ctx)
        listed = await self.backend.listing("tools", caller_of(ctx))
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in listed])

    async def call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        relay = CallerRelay(ctx, self.levels)
        result = await self.backend.call_tool(params.name, params.arguments or {}, caller_of(ctx), relay)
        return _input_required(result) or types.CallToolResult.model_validate(as_ours(result))

    async def list_resources(self, ctx: Ctx, _params: Paging) -> types.ListResourcesResult:
        self.sessions.seen(ctx)
        listed = await self.backend.listing("resources", caller_of(ctx))
        return types.ListResourcesResult(resources=[types.Resource.model_validate(r) for r in listed])

    async def list_templates(self, ctx: Ctx, _params: Paging) -> types.ListResourceTemplatesResult:
        listed = await self.backend.listing("resourceTemplates", caller_of(ctx))
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(t) for t in listed]
        )

    async def read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        result = await self.backend.read_resource(str(params.uri), caller_of(ctx), CallerRelay(ctx, self.levels))
        return _input_required(result) or types.ReadResourceResult.model_validate(as_ours(result))

    async def list_prompts(self, ctx: Ctx, _params: Paging) -> types.ListPromptsResult:
        self.sessions.seen(ctx)
        listed = await self.backend.listing("prompts", caller_of(ctx))
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in listed])

    async def get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        relay = CallerRelay(ctx, self.levels)
        result = await self.backend.get_prompt(params.name, params.arguments or {}, caller_of(ctx), relay)
        return _input_required(result) or types.GetPromptResult.model_validate(as_ours(result))

    async def set_level(self, ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        self.levels.set(ctx, params.level)
        return types.EmptyResult()

    async def subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        await self._follow(str(params.uri), ("session", client_session(ctx)), ctx.session, True, caller_of(ctx))
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        await self._follow(str(params.uri), ("session", client_session(ctx)), None, False, caller_of(ctx))
        return types.EmptyResult()

    async def listen(self, ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> types.SubscriptionsListenResult:
        """A 2026-07-28 client's stream: its resource URIs are followed upstream while it lasts."""
        uris = sorted(set(params.notifications.resource_subscriptions or ()))
        who: Follower = ("listen", f"{client_session(ctx)}/{ctx.request_id}/{id(ctx)}")
        caller = caller_of(ctx)
        for uri in uris:
            await self._follow(uri, who, None, True, caller)
        try:
            return await self._listen(ctx, params)
        finally:
            with anyio.CancelScope(shield=True):  # the stream may end by cancellation
                for uri in uris:
                    await self._follow(uri, who, None, False, caller)

    async def _follow(
        self, uri: str, who: Follower, session: ServerSession | None, subscribed: bool, caller: Caller
    ) -> None:
        """Record who follows ``uri``; the backend follows it upstream while anyone does."""
        if self.subscriptions is None:
            raise RuntimeError("resource subscriptions are served only for a backend with Subscriptions")
        if self.followers.follow(uri, who, session, subscribed):
            await self.subscriptions.subscribe(uri, subscribed, caller)
