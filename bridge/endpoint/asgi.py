"""One ASGI application on one port: ``/mcp`` for MCP clients, Flask for everything else.

An MCP client is told apart by what the transport requires of it: it accepts
``text/event-stream``, or carries ``Mcp-Session-Id`` / ``MCP-Protocol-Version`` (its GET
stream and DELETE do too; without them GET or DELETE on ``/mcp`` is Flask's 405). Those
requests go to the SDK's Streamable HTTP app (both protocol generations, sessions, streams);
a plain JSON ``POST /mcp``, as any REST client sends it, and the whole REST API go to the
Flask app. API keys hold on both paths.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware
from mcp.server.lowlevel import Server

from bridge.errors import BridgeError
from bridge.rest.auth import ApiKeyAuth

__all__ = ["create_asgi_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MCP_PATH = "/mcp"
#: Worker threads for the Flask side; each in-flight REST call holds one while it waits upstream.
WSGI_THREADS = 64


class _Headers:
    def __init__(self, scope: Scope) -> None:
        self._items: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }

    def get(self, key: str, default: str) -> str:
        return self._items.get(key.lower(), default)


def _is_mcp_client(scope: Scope, headers: _Headers) -> bool:
    if scope.get("path") != MCP_PATH:
        return False
    if headers.get("mcp-session-id", "") or headers.get("mcp-protocol-version", ""):
        return True
    return "text/event-stream" in headers.get("accept", "")


async def _problem(send: Send, error: BridgeError) -> None:
    body = json.dumps({**error.to_problem(), "instance": MCP_PATH}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers().items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_asgi_app(
    flask_app: Any, mcp_server: Server[Any], auth: ApiKeyAuth, *, host: str, threads: int = WSGI_THREADS
) -> ASGIApp:
    mcp_app = mcp_server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    rest_app = WSGIMiddleware(flask_app, workers=threads)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the SDK's session manager lives as long as the server
            await mcp_app(scope, receive, send)
            return
        if scope["type"] == "http":
            headers = _Headers(scope)
            if _is_mcp_client(scope, headers):
                try:
                    auth.check(headers)
                except BridgeError as error:
                    await _problem(send, error)
                    return
                await mcp_app(scope, receive, send)
                return
        await rest_app(scope, receive, send)  # type: ignore[arg-type]

    return app
