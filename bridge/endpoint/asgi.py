"""One ASGI application on one port: tool calls and ``/mcp`` on the loop, Flask for the rest.

Tool calls (``bridge.endpoint.calls``) are answered on the event loop without Flask: they are
the hot path. An MCP client is told apart by what the transport requires of it: it accepts
``text/event-stream``, or carries ``Mcp-Session-Id`` / ``MCP-Protocol-Version`` (its GET
stream and DELETE do too; without them GET or DELETE on ``/mcp`` is Flask's 405). Those
requests go to the SDK's Streamable HTTP app (both protocol generations, sessions, streams),
but for their common requests (``tools/call``), answered on the loop by the lean path
(``bridge.endpoint.lean``) when one is given.
A plain JSON ``POST /mcp``, as any REST client sends it, is answered on the loop too
(``bridge.endpoint.jsonrpc``); the rest of the REST API goes to the Flask app. Asynchronous
calls (``/calls``, ``bridge.endpoint.call_resources``) are polled hard and answered on the
loop too. The event stream (``GET /mcp/stream``, its tickets) and the WebSocket (``/ws``) are
served on the loop too (``bridge.endpoint.stream``, ``bridge.endpoint.websocket``): they live
as long as their clients and follow the feed. Before any route, ``Host`` and ``Origin``
are checked and CORS answered (``bridge.endpoint.origins``). Every path passes the one gate
(``bridge.gate``); an MCP client's principal rides in the request's ``scope["state"]`` to the
gateway's handlers. When the server stops (``bridge.endpoint.draining``), a request it cancels
is ended here: 503 when its answer had not begun.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from a2wsgi import WSGIMiddleware
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings

from bridge.endpoint.call_resources import CallResources
from bridge.endpoint.calls import ToolCalls
from bridge.endpoint.draining import Drain
from bridge.endpoint.http import ASGIApp, Headers, Receive, Scope, Send, send_problem, without_stalling
from bridge.endpoint.jsonrpc import MCP_PATH, PlainJsonRpc
from bridge.endpoint.mcp_replay import resumable
from bridge.endpoint.metrics import MetricsEndpoint
from bridge.endpoint.origins import Origins, is_preflight
from bridge.endpoint.stream import EventStream
from bridge.endpoint.websocket import WebSocketEndpoint
from bridge.errors import BridgeError
from bridge.gate import Gate

if TYPE_CHECKING:
    from bridge.endpoint.lean import LeanMcp

__all__ = ["PRINCIPAL", "create_asgi_app", "is_mcp_client"]

access = logging.getLogger("bridge.access")

#: Where an MCP client request carries its principal to the handlers (``scope["state"]``).
PRINCIPAL = "bridge.principal"
#: Worker threads for the Flask side; each in-flight REST call holds one while it waits upstream.
WSGI_THREADS = 64


def is_mcp_client(headers: Headers) -> bool:
    """Whether a request to ``/mcp`` is an MCP client's (the Streamable HTTP transport's), not a plain JSON-RPC one."""
    if headers.get("mcp-session-id", "") or headers.get("mcp-protocol-version", ""):
        return True
    return "text/event-stream" in headers.get("accept", "")


def _access_logged(app: ASGIApp) -> ASGIApp:
    """The SDK's ``/mcp`` app with an access line per request, as every other route writes one
    (method, path, status, time: nothing from the headers, which may carry secrets)."""

    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if not access.isEnabledFor(logging.INFO):
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            access.info("%s %s %s %.1fms", scope["method"], MCP_PATH, status, (time.perf_counter() - started) * 1000)

    return logged


def create_asgi_app(
    flask_app: Any,
    mcp_server: Server[Any],
    gate: Gate,
    *,
    host: str,
    calls: ToolCalls | None = None,
    call_resources: CallResources | None = None,
    stream: EventStream | None = None,
    websocket: WebSocketEndpoint | None = None,
    plain_rpc: PlainJsonRpc | None = None,
    lean: LeanMcp | None = None,
    origins: Origins | None = None,
    threads: int = WSGI_THREADS,
    drain: Drain | None = None,
    metrics: MetricsEndpoint | None = None,
) -> ASGIApp:
    origins = origins or Origins(bind_host=host)
    # Host and Origin are checked below for every route, /mcp included, with the operator's
    # allowlists and problem+json answers; the SDK's own check knows neither, so it is off.
    mcp_app = mcp_server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    resumable(mcp_server.session_manager)  # a 2025-era client's cut stream can be resumed
    rest_app = WSGIMiddleware(flask_app, workers=threads)
    sdk_app = _access_logged(mcp_app)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the SDK's session manager lives as long as the server
            await mcp_app(scope, receive, send)
            return
        if scope["type"] == "http":
            if origins.needs_check(scope["headers"]):
                headers = Headers(scope)
                try:
                    origin = origins.check(headers, secure=scope.get("scheme") == "https")
                except BridgeError as error:
                    await send_problem(send, error, scope["path"], scope)
                    return
                if origin is not None:
                    if is_preflight(scope, headers):
                        await origins.preflight(send, origin)
                        return
                    send = origins.cors_send(send, origin)
            if calls is not None and (route := calls.match(scope)) is not None:
                await calls(scope, receive, send, route)
                return
            if call_resources is not None and call_resources.match(scope):
                await call_resources(scope, receive, send)
                return
            if stream is not None and stream.match(scope):
                await stream(scope, receive, send)
                return
            if metrics is not None and metrics.match(scope):
                await metrics(scope, send)
                return
            headers = Headers(scope)
            if scope["path"] == MCP_PATH and is_mcp_client(headers):
                try:
                    principal = await without_stalling(lambda: gate.principal(headers))
                    if gate.rate is not None:
                        await gate.rate.acharge(principal)
                except BridgeError as error:
                    await send_problem(send, error, MCP_PATH, scope)
                    return
                scope.setdefault("state", {})[PRINCIPAL] = principal
                if drain is not None and scope["method"] == "GET":  # the SDK's notification stream
                    drain.hold_stream()
                if lean is not None:  # the common requests on the loop; the SDK's app for the rest
                    await lean(scope, receive, send, headers, sdk_app)
                else:
                    await sdk_app(scope, receive, send)
                return
            if plain_rpc is not None and plain_rpc.match(scope):
                await plain_rpc(scope, receive, send, headers)
                return
        if scope["type"] == "websocket":
            if websocket is not None and websocket.match(scope):
                await websocket(scope, receive, send)
            else:  # no other WebSocket route: refused before the handshake completes (403)
                await send({"type": "websocket.close", "code": 1008})
            return
        await rest_app(scope, receive, send)  # type: ignore[arg-type]

    if drain is None:
        return app

    async def draining(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except asyncio.CancelledError:  # by the drain (a held stream, or past the grace): ended here, not logged
            if not drain.stopping.is_set() or scope["type"] != "http" or not await drain.end(scope, send):
                raise

    return draining
