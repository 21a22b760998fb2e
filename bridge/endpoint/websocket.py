"""``/ws``: JSON-RPC 2.0 over a WebSocket, on the event loop (uvicorn speaks the protocol).

The handshake passes the same gate as every request, before the socket is accepted: a key in
``Authorization``/``X-API-Key``, or for browsers a ticket (``?ticket=``) or the key offered as
a subprotocol (``["mcp-bridge", "mcp-bridge.key.<key>"]``; the bridge selects ``mcp-bridge``,
never the one holding the key), and counts against the caller's rate as each request on the
socket does. ``Origin``, when sent, must be the bridge's own or allowed. A
refusal is an HTTP answer (problem+json 401 or 403) where the server supports that, else a
close before accepting (which a client sees as 403).

After that each text frame is one JSON-RPC message (``socket_session``); a frame that is not
JSON gets a parse error with id null and the socket stays open; a binary frame gets an error
too. Frames larger than the bridge's body limit are closed with 1009 by the protocol layer
(``serve`` sets uvicorn's ``ws_max_size``), which also pings idle sockets to keep them alive.
When the bridge stops (``stopping``), each socket is closed with 1001 (going away) once the calls
in flight on it are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qs

import orjson

from bridge.errors import BridgeError
from bridge.feed import Feed
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.telemetry import with_request_id

from .access import PROTOCOL, EventAccess, Offer
from .http import PROBLEM_JSON, Headers, Receive, Scope, Send, audit_refusal, without_stalling
from .socket_session import MAX_IN_FLIGHT, SocketSession

__all__ = ["WS_PATH", "WebSocketEndpoint"]

access_log = logging.getLogger("bridge.access")
log = logging.getLogger(__name__)

WS_PATH = "/ws"
#: The close code of a socket whose server is stopping (RFC 6455 §7.4.1).
GOING_AWAY = 1001
_HTTP_RESPONSE = "websocket.http.response"


class WebSocketEndpoint:
    """The ``/ws`` route, as a matcher and an ASGI handler."""

    def __init__(
        self,
        dispatcher: JsonRpcDispatcher,
        feed: Feed,
        access: EventAccess,
        max_in_flight: int = MAX_IN_FLIGHT,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self._stopping = stopping or asyncio.Event()
        self._dispatcher = dispatcher
        self._feed = feed
        self._access = access
        self.max_in_flight = max_in_flight
        #: Sockets open now.
        self.open = 0

    @staticmethod
    def match(scope: Scope) -> bool:
        return bool(scope["type"] == "websocket" and scope["path"] == WS_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = Headers(scope)
        offer = Offer.parse(scope.get("subprotocols") or ())
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            self._access.check_origin(headers, secure=scope.get("scheme") == "wss")
            ticket = query.get("ticket", [None])[-1]
            principal = await without_stalling(lambda: self._access.principal(headers, ticket, offer))
            await self._access.charge(principal)
        except BridgeError as error:
            audit_refusal(scope, error)
            await _refuse(scope, send, error)
            access_log.info("WS %s %s", WS_PATH, error.status)  # path only: the query may hold a ticket
            return
        await send({"type": "websocket.accept", "subprotocol": PROTOCOL if offer.speaks else None})
        access_log.info("WS %s 101", WS_PATH)

        async def send_text(data: bytes) -> None:
            try:
                await send({"type": "websocket.send", "text": data.decode()})
            except Exception:  # the client left meanwhile: the disconnect ends the session
                log.debug("write to a closed socket dropped")

        session = SocketSession(
            send_text, self._dispatcher, self._feed, principal, self.max_in_flight, self._access.gate.rate
        )
        self.open += 1
        closer = asyncio.create_task(self._close_when_stopping(session, send))
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    return
                if kind != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    await session.binary()
                else:
                    await session.receive(text)
        finally:
            self.open -= 1
            closer.cancel()
            session.close()

    async def _close_when_stopping(self, session: SocketSession, send: Send) -> None:
        await self._stopping.wait()
        await session.settle()
        with contextlib.suppress(Exception):  # the client left meanwhile: the disconnect ends the session
            await send({"type": "websocket.close", "code": GOING_AWAY, "reason": "the bridge is stopping"})


async def _refuse(scope: Scope, send: Send, error: BridgeError) -> None:
    if _HTTP_RESPONSE not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    problem = with_request_id(error.to_problem())
    problem.setdefault("instance", WS_PATH)
    body = orjson.dumps(problem)
    headers = [(b"content-type", PROBLEM_JSON), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers().items()]
    await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
