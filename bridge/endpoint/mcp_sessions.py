"""The SDK's handshake-era sessions as the lean ``/mcp`` path sees them: alive, and what each client declared.

A 2025-era client opens a session with ``initialize``; the SDK's session manager answers it and
keeps the session (its transport, its idle timer, its end on ``DELETE``). The lean path
(``bridge.endpoint.lean``) serves later requests of that session without the SDK, so it needs
three things the SDK knows: whether the session is still open (else the SDK answers, 404 as
always), what the client declared at ``initialize`` (a client that can be asked questions keeps
its calls on the SDK's path, where the question can reach it), and that the session stays open
while the client uses it (each lean request holds off the SDK's idle timeout as the SDK's own
requests do). The opening request is seen on its way to the SDK: its body once more, and the
session id in its answer's headers. The SDK has no public lookup of a session by id, so
``transport`` reads its manager's table; a test fails if that changes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import anyio
import orjson
from mcp.server.lowlevel import Server
from mcp.server.streamable_http import StreamableHTTPServerTransport

from bridge.mcpserver.sessions import MAX_SESSIONS
from bridge.model import JSON

from .http import ASGIApp, Receive, Scope, Send

__all__ = ["SessionLedger", "replayed"]


def replayed(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an application after the body has been read: the body once, then ``receive``'s own."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class SessionLedger:
    """What each open handshake-era session's client declared, and its SDK transport."""

    def __init__(self, server: Server[Any]) -> None:
        self._server = server
        self._declared: OrderedDict[str, JSON] = OrderedDict()

    async def opening(self, scope: Scope, body: bytes, receive: Receive, send: Send, sdk: ASGIApp) -> None:
        """Hand a request without a session to the SDK, noting the capabilities an ``initialize`` declares
        under the session id its answer carries."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        params = message.get("params") if isinstance(message, dict) and message.get("method") == "initialize" else None
        capabilities = params.get("capabilities") if isinstance(params, dict) else None
        if not isinstance(capabilities, dict):
            await sdk(scope, replayed(body, receive), send)
            return
        declared: JSON = capabilities

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for name, value in message.get("headers", ()):
                    if name.lower() == b"mcp-session-id":
                        self._note(value.decode("latin-1"), declared)
            await send(message)

        await sdk(scope, replayed(body, receive), noting)

    def _note(self, session_id: str, declared: JSON) -> None:
        self._declared[session_id] = declared
        while len(self._declared) > MAX_SESSIONS:
            self._declared.popitem(last=False)

    def declared(self, session_id: str) -> JSON | None:
        """What the client of ``session_id`` declared at ``initialize``; None for a session not seen opening."""
        return self._declared.get(session_id)

    def transport(self, session_id: str) -> StreamableHTTPServerTransport | None:
        """The SDK's transport of the open session ``session_id``; None when it is unknown or has ended."""
        transport = self._server.session_manager._server_instances.get(session_id)  # no public lookup
        if transport is None or transport.is_terminated:
            self._declared.pop(session_id, None)
            return None
        return transport

    def hold(self, transport: StreamableHTTPServerTransport) -> None:
        """Keep the session open for its idle timeout from now, as a request the SDK served would."""
        idle = transport.idle_scope
        timeout = self._server.session_manager.session_idle_timeout
        if idle is not None and timeout is not None and idle.deadline != math.inf:
            idle.deadline = max(idle.deadline, anyio.current_time() + timeout)
