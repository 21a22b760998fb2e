"""``GET /metrics``: the bridge's series in Prometheus text format, for callers with the admin scope.

Operators who would rather not hand Prometheus an admin key serve the same registry on a separate
address instead (``--metrics-address``, started by ``bridge.runtime``), without auth, for their
private network only.
"""

from __future__ import annotations

import asyncio
from typing import Final

from prometheus_client import CollectorRegistry

from bridge.errors import BridgeError
from bridge.gate import Gate
from bridge.model import ADMIN
from bridge.telemetry import CONTENT_TYPE, exposition

from .http import Headers, Scope, Send, send_problem, send_unrouted, without_stalling

__all__ = ["METRICS_PATH", "MetricsEndpoint"]

METRICS_PATH: Final = "/metrics"
_ADMIN: Final = frozenset({ADMIN})


class MetricsEndpoint:
    """The ``/metrics`` route, as a matcher and an ASGI handler."""

    def __init__(self, registry: CollectorRegistry, gate: Gate) -> None:
        self._registry = registry
        self._gate = gate

    @staticmethod
    def match(scope: Scope) -> bool:
        return bool(scope["path"] == METRICS_PATH)

    async def __call__(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await send_unrouted(send, METRICS_PATH, "GET, HEAD")
            return
        headers = Headers(scope)
        try:
            await without_stalling(lambda: self._gate.principal(headers, _ADMIN))
        except BridgeError as error:
            await send_problem(send, error, METRICS_PATH, scope)
            return
        # Off the loop: a scrape asks the store (the outbox's depth), which may be a database server away.
        body = await asyncio.to_thread(exposition, self._registry)
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
        await send(start)
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
