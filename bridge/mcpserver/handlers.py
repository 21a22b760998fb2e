"""The forwarding server's request handlers: each MCP request passed to the backend, its answer typed.

``ForwardingHandlers`` holds what one server remembers between requests (the log level each
handshake-era session chose, the sessions to announce changes to, who follows which resource,
and the bus listen streams hear from) and has one method per MCP request it serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import mcp_types as types
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler

from bridge.mcpserver.backend import Backend, Caller, Completions, Subscriptions
from bridge.mcpserver.changes import Follower, Followers
from bridge.mcpserver.holding import HeldCalls
from bridge.mcpserver.relay import CallerRelay, answerable
from bridge.mcpserver.sessions import ClientSessions, Ctx, LogLevels, caller_of, client_session
from bridge.model import INPUT_REQUIRED, JSON

__all__ = ["SERVER_INFO_META", "ForwardingHandlers", "as_ours"]

#: A 2026-07-28 result's ``_meta`` names the server that produced it; through the gateway that is
#: the gateway, which the SDK stamps itself, so the upstream's own entry is dropped.
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"

Paging = types.PaginatedRequestParams | None


def _input_required(result: JSON, ctx: Ctx) -> types.InputRequiredResult | None:
    """An upstream's input-required round, handed to a 2026-07-28 client to answer and retry.

    Only the questions the client declared it can answer go to it (``answerable``).
    """
    if result.get("resultType") != INPUT_REQUIRED:
        return None
    return types.InputRequiredResult.model_validate(answerable(result, ctx.session.client_capabilities))


def as_ours(result: JSON) -> JSON:
    """``result`` without the upstream's own ``serverInfo`` stamp (the gateway stamps its own)."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META in meta:
        result = result.copy()
        del result["_meta"]
        if len(meta) > 1:  # what else it holds, last, as before
            rest = meta.copy()
            del rest[SERVER_INFO_META]
            result["_meta"] = rest
    return result


class ForwardingHandlers:
    """One forwarding server's handlers and the state they share.

    ``subscribe``, ``unsubscribe`` and ``listen`` follow resources through ``subscriptions``, and
    are served only with it; ``complete`` likewise only with ``completions``.
    """

    def __init__(
        self, backend: Backend, subscriptions: Subscriptions | None = None, completions: Completions | None = None
    ) -> None:
        self.backend = backend
        self.subscriptions = subscriptions
        self.completions = completions
        self.held: HeldCalls[CallerRelay] = HeldCalls()
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
        name, arguments, caller = params.name, params.arguments or {}, caller_of(ctx)
        result = await self._forward(ctx, lambda relay: self.backend.call_tool(name, arguments, caller, relay))
        return _input_required(result, ctx) or types.CallToolResult.model_validate(as_ours(result))

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
        uri, caller = str(params.uri), caller_of(ctx)
        result = await self._forward(ctx, lambda relay: self.backend.read_resource(uri, caller, relay))
        return _input_required(result, ctx) or types.ReadResourceResult.model_validate(as_ours(result))

    async def list_prompts(self, ctx: Ctx, _params: Paging) -> types.ListPromptsResult:
        self.sessions.seen(ctx)
        listed = await self.backend.listing("prompts", caller_of(ctx))
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(p) for p in listed])

    async def get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        name, arguments, caller = params.name, params.arguments or {}, caller_of(ctx)
        result = await self._forward(ctx, lambda relay: self.backend.get_prompt(name, arguments, caller, relay))
        return _input_required(result, ctx) or types.GetPromptResult.model_validate(as_ours(result))

    async def _forward(self, ctx: Ctx, work: Callable[[CallerRelay], Awaitable[JSON]]) -> JSON:
        """``work``'s answer, with a relay back to the client; held open for a 2026-07-28 client.

        Such a client is asked an upstream's mid-call questions in rounds (``holding``): its
        request runs in a task of its own, and a retry naming a held call resumes that call.
        """
        relay = CallerRelay(ctx, self.levels)
        if not relay.takes_input_required:
            result = await work(relay)
        else:
            caller, state = caller_of(ctx), relay.request_state
            if state is not None and self.held.names_one(state):
                held = self.held.resume(state, caller, relay.input_responses)
                relay = held.relay
                relay.rebind(ctx)
            else:
                held = self.held.start(caller, relay, work(relay))
                relay.held = held
            result = await self.held.outcome(held)
        if (flushing := relay.flushed()) is not None:
            await flushing
        return result

    async def complete(self, ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        if self.completions is None:
            raise RuntimeError("completion/complete is served only for a backend with Completions")
        ref = params.ref.model_dump(mode="json", by_alias=True, exclude_none=True)
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context is not None else None
        result = await self.completions.complete(ref, argument, context, caller_of(ctx))
        return types.CompleteResult.model_validate(as_ours(result))

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
