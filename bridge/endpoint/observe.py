"""Every request, on every route, named and measured: request ids, trace context, metrics, spans.

``Observer`` wraps the whole ASGI application (fast routes, ``/mcp``, streams, sockets, Flask).
It takes the caller's ``X-Request-Id`` when it is safe (``bridge.telemetry.context``) or makes
one, puts the accepted id back in the request's headers (so Flask and the gateway see that one),
returns it on the answer, and keeps the request's context in a contextvar for log lines, problem
bodies and the upstream request's ``_meta``. With ``Metrics`` it counts streams and sockets open,
429 refusals, and the bridge's own time per request; with a tracer it opens the request's span,
continuing the caller's ``traceparent``. Lifespan events pass straight through.
"""

from __future__ import annotations

import time
from typing import Any, Final

from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Tracer

from bridge.endpoint.http import ASGIApp, Receive, Scope, Send
from bridge.endpoint.stream import STREAM_PATH
from bridge.telemetry import REQUEST_ID_HEADER, TRACEPARENT, Metrics, RequestContext, current

__all__ = ["Observer"]

_REQUEST_ID: Final = REQUEST_ID_HEADER.encode()
_TRACEPARENT: Final = TRACEPARENT.encode()
#: The messages that begin an answer's head: an HTTP response, a WebSocket's handshake, or its refusal.
_STARTS: Final = frozenset({"http.response.start", "websocket.accept", "websocket.http.response.start"})
_OBSERVED: Final = frozenset({"http", "websocket"})


class _Answer:
    """The request's ``send``: adds ``X-Request-Id`` to the answer's head and notes its status; a
    refusal for a limit is counted as its head goes out, so a scrape after the answer sees it. The
    id is read as the head goes out: an MCP request's ``_meta`` may name it once its body is read."""

    __slots__ = ("_context", "_metrics", "_send", "status")

    def __init__(self, send: Send, context: RequestContext, metrics: Metrics | None) -> None:
        self._send = send
        self._context = context
        self._metrics = metrics
        self.status = 0

    async def __call__(self, message: Any) -> None:
        if message["type"] in _STARTS:
            self.status = status = message.get("status", 101)
            context = self._context
            context.named = True  # the id is out: what a request's _meta says later cannot change it
            request_id = context.request_id.encode()
            message["headers"] = [*message.get("headers", ()), (_REQUEST_ID, request_id)]
            if status == 429 and self._metrics is not None:
                self._metrics.rate_limited += 1
        await self._send(message)


class Observer:
    """The ASGI middleware in front of every route."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None, tracer: Tracer | None = None) -> None:
        self._app = app
        self._metrics = metrics
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _OBSERVED:
            await self._app(scope, receive, send)
            return
        given = traceparent = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                given = value.decode("latin-1")
            elif name == _TRACEPARENT:
                traceparent = value.decode("latin-1")
        context = RequestContext.begin(given, traceparent)
        if given != context.request_id:  # made anew: the routes behind read the id the caller gets back
            made = (_REQUEST_ID, context.request_id.encode())
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != _REQUEST_ID] + [made]
        answer = _Answer(send, context, self._metrics)
        token = current.set(context)
        try:
            if self._tracer is not None:
                await self._traced(scope, receive, answer, context, traceparent)
            elif self._metrics is None:
                await self._app(scope, receive, answer)
            else:
                await self._measured(scope, receive, answer, context, self._metrics)
        finally:
            current.reset(token)

    async def _measured(
        self, scope: Scope, receive: Receive, answer: _Answer, context: RequestContext, metrics: Metrics
    ) -> None:
        if scope["type"] == "websocket" or (scope["path"] == STREAM_PATH and scope["method"] == "GET"):
            await self._held(scope, receive, answer, metrics)
            return
        started = time.perf_counter()
        try:
            await self._app(scope, receive, answer)
        finally:
            metrics.own.observe(time.perf_counter() - started - context.upstream_seconds)

    async def _held(self, scope: Scope, receive: Receive, send: Send, metrics: Metrics) -> None:
        """A connection that lasts as long as its client: counted while open, not timed."""
        websocket = scope["type"] == "websocket"
        if websocket:
            metrics.sockets += 1
        else:
            metrics.streams += 1
        try:
            await self._app(scope, receive, send)
        finally:
            if websocket:
                metrics.sockets -= 1
            else:
                metrics.streams -= 1

    async def _traced(
        self, scope: Scope, receive: Receive, answer: _Answer, context: RequestContext, traceparent: str | None
    ) -> None:
        """The request in a server span continuing the caller's ``traceparent``; measured as without."""
        assert self._tracer is not None
        method = scope.get("method", "GET")
        parent = extract({TRACEPARENT: traceparent}) if traceparent else None
        attributes = {"http.request.method": method, "url.path": scope["path"]}
        with self._tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            own = span.get_span_context()
            context.trace_id, context.span_id = format(own.trace_id, "032x"), format(own.span_id, "016x")
            context.sampled = own.trace_flags.sampled
            context.traced = True  # the span's trace, whatever an MCP request's _meta says (the SDK's span reads that)
            try:
                if self._metrics is None:
                    await self._app(scope, receive, answer)
                else:
                    await self._measured(scope, receive, answer, context, self._metrics)
            finally:
                span.set_attribute("http.request.id", context.request_id)  # as the answer named it (_meta may have)
                if answer.status:
                    span.set_attribute("http.response.status_code", answer.status)
