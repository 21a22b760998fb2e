"""Tool calls served straight from the event loop: the REST API's hot path, without Flask.

``POST /servers/{server}/tools/{tool}`` and ``POST /tools/{name}`` carry almost every request a
busy bridge sees. Served through Flask they cross a WSGI adapter and a worker thread, then hop
back to the loop the upstream sessions live on; measured, that was most of the bridge's own
cost per call. Here they are answered on that loop directly, through the same gate as Flask's
(API key and scopes, media type, size limit, the body parsed with orjson, the operation's
compiled validators, then the tool's own ``inputSchema`` in the gateway), with the same
answers: a test sends the same requests both ways and compares them. Anything else about the
request (a query string, another method, a path it does not know) goes to Flask.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from bridge.errors import (
    UNEXPECTED,
    BridgeError,
    FieldError,
    PayloadTooLarge,
    RequestInvalid,
    UnsupportedMediaType,
)
from bridge.gateway import Gateway
from bridge.rest.auth import ApiKeyAuth
from bridge.validation import NO_BODY, OperationValidator, RequestValidator, is_json_media_type

from .http import Headers, Receive, Scope, Send, read_body, send_json, send_problem

__all__ = ["ToolCalls"]

access = logging.getLogger("bridge.access")
log = logging.getLogger(__name__)


class ToolCalls:
    """The two tool-call routes, as a matcher and an ASGI handler."""

    def __init__(self, gateway: Gateway, validator: RequestValidator, auth: ApiKeyAuth, max_body: int) -> None:
        self._gateway = gateway
        self._by_server = validator["callServerTool"]
        self._by_name = validator["callTool"]
        self._auth = auth
        self._max_body = max_body

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
        try:
            arguments = await self._gate(scope, receive, op, params)
            if "server" in params:
                server, tool = params["server"], params["tool"]
            else:
                server, tool = self._gateway.resolve_tool(params["name"])
            result = await self._gateway.acall_tool(server, tool, arguments, where="/body")
            await send_json(send, result)
        except BridgeError as error:
            status = error.status
            await send_problem(send, error, scope["path"])
        except Exception:  # a bug in the bridge: logged with its traceback, answered without internals
            log.exception("unhandled error on POST %s", scope["path"])
            status = 500
            await send_problem(send, BridgeError(UNEXPECTED), scope["path"])
        if access.isEnabledFor(logging.INFO):  # path and status only: query strings and headers may carry secrets
            access.info("POST %s %s %.1fms", scope["path"], status, (time.perf_counter() - started) * 1000)

    async def _gate(self, scope: Scope, receive: Receive, op: OperationValidator, params: dict[str, str]) -> Any:
        headers = Headers(scope)
        if op.operation.secured:
            self._auth.check(headers, op.operation.scopes)
        length = headers.get("content-length", "")
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        body: Any = NO_BODY
        if (length and length != "0") or chunked:
            media_type = headers.get("content-type", "").partition(";")[0].strip()
            if not is_json_media_type(media_type.lower()):
                raise UnsupportedMediaType(f"send the body as application/json (got {media_type or 'no Content-Type'})")
            if length.isdigit() and int(length) > self._max_body:
                raise PayloadTooLarge(f"the body is {length} bytes; the limit is {self._max_body}")
            raw = await read_body(receive, self._max_body)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RequestInvalid(
                    f"the body is not valid JSON: {exc}", [FieldError("/body", f"not valid JSON: {exc}")]
                ) from exc
        op.check(params, {}, body)
        return {} if body is NO_BODY else body
