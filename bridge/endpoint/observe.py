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
_STARTS: Final = frozenset({"http.response.start", "websocket.accept"})
_OBSERVED: Final = frozenset({"http", "websocket"})


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
        request_id = context.request_id.encode()
        if given != context.request_id:  # made anew: the routes behind read the id the caller gets back
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != _REQUEST_ID] + [(_REQUEST_ID, request_id)]
        status = 0

        async def answering(message: Any) -> None:
            nonlocal status
            if message["type"] in _STARTS:
                status = message.get("status", 101)
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID, request_id)]
            await send(message)

        token = current.set(context)
        metrics = self._metrics
        try:
            if self._tracer is not None:
                await self._traced(scope, receive, answering, context, traceparent)
            elif metrics is None:
                await self._app(scope, receive, answering)
            elif scope["type"] == "websocket" or (scope["path"] == STREAM_PATH and scope["method"] == "GET"):
                await self._held(scope, receive, answering, metrics)
            else:
                started = time.perf_counter()
                try:
                    await self._app(scope, receive, answering)
                finally:
                    metrics.own.observe(time.perf_counter() - started - context.upstream_seconds)
                    if status == 429:
                        metrics.rate_limited += 1
        finally:
            current.reset(token)

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
        self, scope: Scope, receive: Receive, send: Send, context: RequestContext, traceparent: str | None
    ) -> None:
        """The request in a server span continuing the caller's ``traceparent``, timed and counted as without."""
        assert self._tracer is not None
        method = scope.get("method", "GET")
        parent = extract({TRACEPARENT: traceparent}) if traceparent else None
        attributes = {"http.request.method": method, "url.path": scope["path"], "http.request.id": context.request_id}
        with self._tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            own = span.get_span_context()
            context.trace_id, context.span_id = format(own.trace_id, "032x"), format(own.span_id, "016x")
            context.sampled = own.trace_flags.sampled
            started = time.perf_counter()
            status = 0

            async def noting(message: Any) -> None:
                nonlocal status
                if message["type"] in _STARTS:
                    status = message.get("status", 101)
                await send(message)

            try:
                await self._app(scope, receive, noting)
            finally:
                if status:
                    span.set_attribute("http.response.status_code", status)
                if self._metrics is not None:
                    self._metrics.own.observe(time.perf_counter() - started - context.upstream_seconds)
                    self._metrics.rate_limited += status == 429
