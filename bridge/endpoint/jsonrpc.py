"""Plain JSON-RPC ``POST /mcp`` served from the event loop: a REST client's request, without Flask.

A REST client posts one JSON-RPC request to ``/mcp`` with no MCP headers and no handshake (what
the integration guide's client sends). Through a2wsgi and Flask that cost about twice the CPU of
a tool call on the loop (``bridge.endpoint.calls``), for the same gateway call. Here it passes the
same gate (credentials, media type, size, the body parsed once and checked against the spec's
``mcpRequest`` operation), the rate charged as Flask charges it, then the one dispatcher
(``JsonRpcDispatcher``, which also serves ``/ws``), with the Flask view's answers: a JSON-RPC
response (200), 202 with no body for a notification, problem+json for what the gate refuses.
A test sends the same requests to both and compares them. A request with a query string goes to
Flask, as the tool-call route leaves it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bridge.errors import BridgeError
from bridge.gate import Gate, MustWait
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.telemetry import continue_request

from .http import Headers, Receive, Scope, Send, read_body, send_json, send_problem, unexpected

__all__ = ["MCP_PATH", "PlainJsonRpc"]

access = logging.getLogger("bridge.access")

MCP_PATH = "/mcp"


class PlainJsonRpc:
    """``POST /mcp`` from a client that is not an MCP client, as a matcher and an ASGI handler."""

    def __init__(self, dispatcher: JsonRpcDispatcher, gate: Gate) -> None:
        self._dispatcher = dispatcher
        self._gate = gate
        self._operation = gate.validator["mcpRequest"]

    @staticmethod
    def match(scope: Scope) -> bool:
        """Whether this is a plain ``POST /mcp`` (the caller has ruled out an MCP client's request)."""
        return scope["method"] == "POST" and scope["path"] == MCP_PATH and not scope.get("query_string")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        started = time.perf_counter()
        status = 200
        try:
            try:
                admission = self._gate.admit(self._operation, headers)
            except MustWait:  # a credential to ask another server about: from a worker thread, not the loop
                admission = await asyncio.to_thread(self._gate.admit, self._operation, headers)
            if self._gate.rate is not None and self._operation.operation.secured:
                await self._gate.rate.acharge(admission.principal)
            raw = await read_body(receive, self._gate.max_body) if admission.reads_body else None
            request = admission.check({}, {}, raw)
            if type(request) is dict:
                continue_request(request.get("params"))
            answer = await self._dispatcher.handle(request, admission.principal)
            if answer is None:
                status = 202  # a notification: accepted, no body
                await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
            else:
                await send_json(send, answer)
        except BridgeError as error:
            status = error.status
            await send_problem(send, error, MCP_PATH, scope)
        except Exception as error:  # the store down (503), or a bug: logged, answered without internals
            answered = unexpected(error, f"POST {MCP_PATH}")
            status = answered.status
            await send_problem(send, answered, MCP_PATH)
        if access.isEnabledFor(logging.INFO):  # path and status only: headers may carry secrets
            access.info("POST %s %s %.1fms", MCP_PATH, status, (time.perf_counter() - started) * 1000)
