"""The gateway as an MCP server: forwarding handlers that await the gateway on the sessions' loop.

Calls run where the upstream sessions live (``serve`` runs the HTTP server on that loop), so a
client's cancellation cancels the upstream request, and what an upstream sends back while a
call runs (progress, logs, sampling and elicitation) reaches the client that made it. Naming
is that of the plain JSON-RPC endpoint: a single server's own names, or qualified
``server.name`` with several. A tool's own failure stays a result with ``isError``.

With the call store, the server offers the tasks extension: a task is a call of that store, made
for the request's principal, so the same caller sees it over REST as ``/calls/{id}`` too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.audit import DENIED, audit
from bridge.calls import Calls, CallView
from bridge.endpoint.asgi import PRINCIPAL
from bridge.endpoint.jsonrpc import MCP_PATH
from bridge.errors import BridgeError, Unauthorized
from bridge.events import CatalogChanged, Event, ResourceUpdated
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.mcpserver import JSON, Caller, Listing, TaskSupport, create_forwarding_server
from bridge.mcpserver.handlers import ForwardingHandlers
from bridge.model import Principal, Relay, task_support_of
from bridge.telemetry import named_jsonrpc_error

__all__ = ["GatewayBackend", "GatewayServer", "create_gateway_server", "create_mcp_server"]

T = TypeVar("T")


async def _mcp_errors(work: Callable[[], Awaitable[T]], caller: Caller | None = None) -> T:
    try:
        return await work()
    except BridgeError as exc:
        if exc.status in DENIED and caller is not None:  # a tool or server the caller may not use
            principal = caller.state.get(PRINCIPAL)
            subject = principal.subject if isinstance(principal, Principal) else None
            audit("request.denied", subject, caller.request_id, target=MCP_PATH, outcome="denied", status=exc.status)
        error = named_jsonrpc_error(exc)
        raise MCPError(error["code"], error["message"], error["data"]) from exc


def _principal(caller: Caller) -> Principal:
    """The principal the gate attached to this request; a request that bypassed the gate is refused."""
    principal = caller.state.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise Unauthorized("this request did not pass the bridge's gate")
    return principal


def _mcp_errors_now(work: Callable[[], T]) -> T:
    """``_mcp_errors`` for work that does not wait."""
    try:
        return work()
    except BridgeError as exc:
        error = named_jsonrpc_error(exc)
        raise MCPError(error["code"], error["message"], error["data"]) from exc


class GatewayBackend:
    """The gateway, reached in-process, named as MCP clients see it, for each request's principal.

    With ``calls`` it runs tool calls as tasks too (``bridge.mcpserver.Tasks``).
    """

    def __init__(self, gateway: Gateway, calls: Calls | None = None) -> None:
        self.gateway = gateway
        self.rpc = JsonRpcDispatcher(gateway)
        self.calls = calls

    async def listing(self, kind: Listing, caller: Caller) -> list[JSON]:
        async def work() -> list[JSON]:
            return self.rpc.listing(kind, _principal(caller))

        return await _mcp_errors(work, caller)

    def call_tool(
        self, name: str, arguments: JSON, caller: Caller, relay: Relay | None = None
    ) -> Coroutine[Any, Any, JSON]:
        # A plain def handing back _mcp_errors' coroutine: every MCP tool call passes here, one
        # coroutine fewer on its way.
        return _mcp_errors(
            lambda: self.rpc.call_tool(name, arguments, _principal(caller), relay, request_id=caller.request_id), caller
        )

    async def read_resource(self, uri: str, caller: Caller, relay: Relay | None = None) -> JSON:
        return await _mcp_errors(lambda: self.rpc.read_resource(uri, _principal(caller), relay), caller)

    async def get_prompt(
        self, name: str, arguments: dict[str, str], caller: Caller, relay: Relay | None = None
    ) -> JSON:
        return await _mcp_errors(lambda: self.rpc.get_prompt(name, arguments, _principal(caller), relay), caller)

    async def complete(
        self, ref: JSON, argument: dict[str, str], context: dict[str, str] | None, caller: Caller
    ) -> JSON:
        return await _mcp_errors(lambda: self.rpc.complete(ref, argument, context, _principal(caller)), caller)

    async def subscribe(self, uri: str, subscribed: bool, caller: Caller) -> None:
        async def work() -> None:
            await self.gateway.subscribe(uri, subscribed, principal=_principal(caller))

        await _mcp_errors(work)

    # -- tasks -------------------------------------------------------------------------------------

    def _calls(self) -> Calls:
        if self.calls is None:
            raise RuntimeError("tasks are served only with the call store")
        return self.calls

    def task_support(self, name: str, caller: Caller) -> TaskSupport:
        return task_support_of(self.tool(name, caller))

    def tool(self, name: str, caller: Caller) -> JSON | None:
        """The definition of tool ``name`` as this caller was offered it; None when the name is not one."""
        try:
            server, tool = self.gateway.resolve_tool(name, _principal(caller))
        except BridgeError:  # the call itself will say what is wrong with the name
            return None
        return self.gateway.upstreams.catalog(server).tools.get(tool)

    def asks_in_results(self, name: str, caller: Caller) -> bool:
        """Whether tool ``name``'s server speaks 2026-07-28, so that its questions come back inside the
        call's result (input required), never as requests in the middle of it."""
        try:
            server, _ = self.gateway.resolve_tool(name, _principal(caller))
        except BridgeError:
            return False
        return self.gateway.upstreams.protocol_version(server) in MODERN_PROTOCOL_VERSIONS

    async def start_task(self, name: str, arguments: JSON, caller: Caller) -> CallView:
        async def work() -> CallView:
            principal = _principal(caller)
            server, tool = self.gateway.resolve_tool(name, principal)
            return await self._calls().start(
                server, tool, arguments, principal=principal, request_id=caller.request_id, where="/params/arguments"
            )

        return await _mcp_errors(work, caller)

    def task(self, task_id: str, caller: Caller) -> CallView:
        return _mcp_errors_now(lambda: self._calls().get(task_id, _principal(caller)))

    async def watch_task(self, task_id: str, caller: Caller) -> AsyncGenerator[CallView, None]:
        principal = _principal(caller)
        _mcp_errors_now(lambda: self._calls().get(task_id, principal))  # refused before the first view
        watching = self._calls().watch(task_id, principal)
        try:
            async for view in watching:
                yield view
        finally:  # a watcher may stop early: the store's generator is closed now, not when collected
            if isinstance(watching, AsyncGenerator):
                await watching.aclose()

    async def answer_task(self, task_id: str, caller: Caller, answers: Mapping[str, JSON]) -> CallView:
        return await _mcp_errors(
            lambda: self._calls().answer(task_id, _principal(caller), answers, where="/params/inputResponses"), caller
        )

    async def cancel_task(self, task_id: str, caller: Caller) -> CallView:
        return await _mcp_errors(lambda: self._calls().cancel(task_id, _principal(caller)))

    def on_updated(self, listener: Callable[[str], None]) -> None:
        def updated(event: Event) -> None:
            if isinstance(event, ResourceUpdated):
                listener(event.uri)

        self.gateway.bus.subscribe(updated, [ResourceUpdated])

    def on_changed(self, listener: Callable[[], None]) -> None:
        # Published on the loop (an upstream's list_changed) or during start-up: hand it to the loop.
        self.gateway.bus.subscribe(lambda _event: self.gateway.call_soon(listener), [CatalogChanged])


@dataclass(frozen=True, slots=True)
class GatewayServer:
    """The gateway's MCP server, with the backend and handlers it forwards to (the lean path shares them)."""

    server: Server[Any]
    backend: GatewayBackend
    handlers: ForwardingHandlers


def create_gateway_server(gateway: Gateway, calls: Calls | None = None) -> GatewayServer:
    """The gateway's MCP server; with ``calls`` it offers the tasks extension, backed by that call store."""
    backend = GatewayBackend(gateway, calls)
    handlers = ForwardingHandlers(backend, backend, backend)
    server = create_forwarding_server(
        backend,
        name="mcp-rest-bridge",
        instructions="An MCP gateway: the tools, resources and prompts of every server behind it.",
        subscriptions=backend,
        completions=backend,
        tasks=backend if calls is not None else None,
        handlers=handlers,
    )
    return GatewayServer(server, backend, handlers)


def create_mcp_server(gateway: Gateway, calls: Calls | None = None) -> Server[Any]:
    """The gateway's MCP server alone (``create_gateway_server``)."""
    return create_gateway_server(gateway, calls).server
