"""Plain ASGI plumbing shared by the routes served without Flask: headers, bodies, responses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, TypeVar

import orjson

from bridge.audit import DENIED, audit
from bridge.errors import PROBLEM_BASE, UNEXPECTED, BridgeError, PayloadTooLarge, StoreUnavailable
from bridge.gate import MustWait
from bridge.store import StoreError
from bridge.telemetry import with_request_id

__all__ = [
    "ASGIApp",
    "Headers",
    "Receive",
    "Scope",
    "Send",
    "audit_refusal",
    "read_body",
    "send_json",
    "send_problem",
    "send_unrouted",
    "without_stalling",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM_JSON = b"application/problem+json"
JSON = b"application/json"


T = TypeVar("T")


async def without_stalling(call: Callable[[], T]) -> T:
    """``call()`` (a gate's check) here on the loop; when it would first have to wait on another
    server (``MustWait``), once more in a worker thread, so the loop serves everyone else meanwhile."""
    try:
        return call()
    except MustWait:
        return await asyncio.to_thread(call)


class Headers(dict[str, str]):
    """A request's headers by lowercase name, the last of a repeated one (the shape ``ApiKeyAuth``
    reads). A dict, so that ``get``, ``in`` and ``len`` cost a lookup, not a Python call: the lean
    path asks a request's headers some fifteen questions."""

    __slots__ = ()

    def __init__(self, scope: Scope) -> None:
        super().__init__({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())})

    @classmethod
    def of(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """The headers of a request not (yet) given a scope: as the HTTP server parsed them (names in lower case)."""
        headers = dict.__new__(cls)
        dict.update(headers, {k.decode("latin-1"): v.decode("latin-1") for k, v in raw})
        return headers

    def lowercase(self) -> Mapping[str, str]:
        """The headers by lowercase name (the last of a repeated one), for readers that take a mapping."""
        return self


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 as soon as it grows past ``limit``, without buffering the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, status: int, media_type: bytes, body: bytes, extra: Iterable[tuple[str, str]]) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, value: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> None:
    await _send(send, status, JSON, orjson.dumps(value), headers)


def unexpected(error: Exception, what: str) -> BridgeError:
    """What an edge answers for an exception that is no ``BridgeError``: 503 when the store failed
    (logged in a line: an outage, not a bug), else 500 for a bug (logged with its traceback)."""
    if isinstance(error, StoreError):
        log.warning("the store failed on %s: %s", what, error)
        return StoreUnavailable()
    log.error("unhandled error on %s", what, exc_info=error)
    return BridgeError(UNEXPECTED)


async def send_problem(send: Send, error: BridgeError, instance: str, scope: Scope | None = None) -> None:
    """``error`` as problem+json; a refusal (401, 403, 429) is audited with the request's ``scope``."""
    if error.status in DENIED and scope is not None:
        audit_refusal(scope, error)
    problem = with_request_id(error.to_problem())
    problem.setdefault("instance", instance)
    body = orjson.dumps(problem)
    await _send(send, error.status, PROBLEM_JSON, body, error.headers().items())


async def send_unrouted(send: Send, path: str, allow: str | None) -> None:
    """The problem Flask answers for a request no route takes, from the routes served without it:
    404 when nothing answers ``path``, 405 naming the methods that do (``allow``) otherwise."""
    status = 404 if allow is None else 405
    problem = {
        "type": PROBLEM_BASE + ("not-found" if allow is None else "method-not-allowed"),
        "title": "Not found" if allow is None else "Method Not Allowed",
        "status": status,
        "detail": "no such route" if allow is None else "The method is not allowed for the requested URL.",
        "instance": path,
    }
    with_request_id(problem)
    await _send(send, status, PROBLEM_JSON, orjson.dumps(problem), () if allow is None else [("allow", allow)])


def audit_refusal(scope: Scope, error: BridgeError) -> None:
    request_id = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
    method = scope.get("method", "WEBSOCKET")
    audit(
        "request.denied",
        error.subject,
        request_id,
        target=scope.get("path", ""),
        outcome="denied",
        method=method,
        status=error.status,
    )
