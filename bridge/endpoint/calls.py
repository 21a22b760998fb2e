"""Tool calls served straight from the event loop: the REST API's hot path, without Flask.

``POST /servers/{server}/tools/{tool}`` and ``POST /tools/{name}`` carry almost every request a
busy bridge sees. Served through Flask they cross a WSGI adapter and a worker thread, then hop
back to the loop the upstream sessions live on; measured, that was most of the bridge's own
cost per call. Here they are answered on that loop directly, through the same gate as Flask's
(``bridge.gate``: credentials to a principal, media type, size limit, the body parsed once, the
operation's compiled validators; then the tool's own ``inputSchema`` in the gateway), with the
same answers: a test sends the same requests both ways and compares them. Anything else about the
request (a query string, another method, a path it does not know) goes to Flask. A ``Prefer``
header asks for a lean answer (``bridge.gateway.answers``) or an asynchronous one
(``respond-async``, ``wait=N``: ``bridge.endpoint.async_calls``); without one, it costs one lookup.
So does an ``Idempotency-Key`` header (``bridge.endpoint.idempotent``): with one, the call's first
answer is kept and replayed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bridge.errors import BridgeError
from bridge.gate import NO_BODY, Gate, MustWait
from bridge.gateway import Gateway
from bridge.gateway.answers import PREFERENCE_APPLIED, lean_answer, preferred_async
from bridge.model import REQUEST_ID_CHARS
from bridge.validation import OperationValidator

from .async_calls import AsyncCalls
from .http import Headers, Receive, Scope, Send, read_body, send_json, send_problem, unexpected
from .idempotent import KeyedCall

__all__ = ["ToolCalls"]

access = logging.getLogger("bridge.access")


class ToolCalls:
    """The two tool-call routes, as a matcher and an ASGI handler."""

    def __init__(self, gateway: Gateway, gate: Gate, asynchronous: AsyncCalls | None = None) -> None:
        self._gateway = gateway
        self._gate = gate
        self._async = asynchronous
        self._by_server = gate.validator["callServerTool"]
        self._by_name = gate.validator["callTool"]

    def match(self, scope: Scope) -> tuple[OperationValidator, dict[str, str]] | None:
        """The operation and path parameters this request is for, when it is a plain tool call."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            return None
        parts = scope["path"].split("/")
        # "/servers/{server}/tools/{tool}" and "/tools/{name}"; empty segments are Flask's 404s.
        if len(parts) == 5 and parts[1] == "servers" and parts[3] == "tools" and parts[2] and parts[4]:
            return self._by_server, {"server": parts[2], "tool": parts[4]}
        if len(parts) == 3 and parts[1] == "tools" and parts[2]:
            return self._by_name, {"name": parts[2]}
        return None

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, route: tuple[OperationValidator, dict[str, str]]
    ) -> None:
        started = time.perf_counter()
        op, params = route
        status = 200
        keyed: KeyedCall | None = None
        failure: BaseException | None = None
        try:
            headers = Headers(scope)
            try:
                admission = self._gate.admit(op, headers)
            except MustWait:  # a credential to ask another server about: from a worker thread, not the loop
                admission = await asyncio.to_thread(self._gate.admit, op, headers)
            if self._gate.rate is not None:
                await self._gate.rate.acharge(admission.principal)
            raw = await read_body(receive, self._gate.max_body) if admission.reads_body else None
            body = admission.check(params, {}, raw)
            arguments = {} if body is NO_BODY else body
            principal = admission.principal
            keys = self._gate.idempotency
            if keys is not None and "idempotency-key" in headers:
                keyed = await KeyedCall.begin(keys, scope, principal.subject, arguments, send)
                send = keyed.send  # held back by ``keyed``: kept first when it is to be kept
            if keyed is not None and keyed.replay is not None:
                status = await keyed.send_replay()
            else:
                if "server" in params:
                    server, tool = params["server"], params["tool"]
                else:
                    server, tool = self._gateway.resolve_tool(params["name"], principal)
                request_id = headers.get("x-request-id", "")[:REQUEST_ID_CHARS] or None
                if headers.get("prefer", ""):
                    prefer = _prefer(scope)
                    wanted = preferred_async(prefer) if self._async is not None else None
                    if wanted is not None and self._async is not None:
                        status = await self._async.answer(
                            send, scope, server, tool, arguments, principal, request_id, headers, wanted, prefer
                        )
                    else:
                        result = await self._gateway.call_tool(
                            server, tool, arguments, principal=principal, request_id=request_id
                        )
                        await send_preferred(send, result, prefer)
                else:
                    result = await self._gateway.call_tool(
                        server, tool, arguments, principal=principal, request_id=request_id
                    )
                    await send_json(send, result)
        except BridgeError as error:
            status, failure = error.status, error
            await send_problem(send, error, scope["path"], scope)
        except Exception as error:  # the store down (503), or a bug: logged, answered without internals
            answered = unexpected(error, f"POST {scope['path']}")
            status, failure = answered.status, answered
            await send_problem(send, answered, scope["path"])
        except BaseException:  # cancelled (the caller left): nothing to keep, and the key is free again
            if keyed is not None:
                keyed.release()
            raise
        if keyed is not None:
            await keyed.end(failure)
        if access.isEnabledFor(logging.INFO):  # path and status only: query strings and headers may carry secrets
            access.info("POST %s %s %.1fms", scope["path"], status, (time.perf_counter() - started) * 1000)


def _prefer(scope: Scope) -> str:
    """Every ``Prefer`` header line of the request, joined (RFC 7240 §2)."""
    return ", ".join(v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"prefer")


async def send_preferred(send: Send, result: dict[str, Any], prefer: str) -> None:
    """``result`` as the caller's ``Prefer`` header lines, all of them, shape it."""
    body, applied = lean_answer(result, prefer)
    await send_json(send, body, headers=() if applied is None else ((PREFERENCE_APPLIED, applied),))
