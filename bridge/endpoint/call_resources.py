"""``/calls``: asynchronous calls as resources, served on the event loop without Flask.

``GET /calls/{id}`` is what a caller polls, perhaps many times a second for each of many calls;
it is answered from memory, with the view's JSON made once per version (``Calls.encoded``) and
an ``ETag`` from the version (``If-None-Match`` → 304). The other routes: ``GET /calls`` (the
caller's own, newest first, paged), ``DELETE /calls/{id}`` (cancel; 200 once ended, 202 while
the upstream unwinds), ``POST /calls/{id}/input`` (answers) and ``GET /calls/{id}/events`` (the
call's views as Server-Sent Events, ``id:`` its version, ``event:`` its state; resumed after
``Last-Event-ID``). Every route passes the same gate as every other edge, with the spec's
operation validators.

The plain poll (``GET /calls/{id}`` with no query, no body, no ``Origin``, on a bridge without
rate limits) is answered before the ASGI cycle, inside the HTTP protocol
(``quick_answer``, handed to ``bridge.endpoint.protocol``): the same gate and the same bytes,
without the cycle's task and messages, which cost a poll most of its time. Anything else about
the request, a refusal included, is left to the ASGI route, which answers (and audits) it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from bridge.calls import Calls, CallState, CallView, render
from bridge.errors import BridgeError
from bridge.gate import NO_BODY, Gate, MustWait
from bridge.model import JSON, Principal
from bridge.telemetry.context import request_id_of
from bridge.validation import OperationValidator

from .http import (
    Headers,
    Receive,
    Scope,
    Send,
    read_body,
    send_json,
    send_problem,
    send_unrouted,
    unexpected,
    without_stalling,
)
from .origins import Origins
from .stream import HEARTBEAT, RETRY_MS, open_event_stream

__all__ = ["CallResources", "etag"]

#: What a poll answered by the route is: its status, its headers, its body.
Answer = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]
#: What a poll answered in the protocol is: its status, its header fields as written, its body.
QuickAnswer = tuple[int, bytes, bytes]

access_log = logging.getLogger("bridge.access")
log = logging.getLogger(__name__)

PREFIX = "/calls"
#: Where a call's id begins in its path (``/calls/{id}``).
_ID_AT = len(PREFIX) + 1
_JSON = b"application/json"
#: Headers that send a poll to the route: ``Origin`` is checked there, a body is read there.
_ROUTED = frozenset({b"origin", b"content-length", b"transfer-encoding"})


def etag(version: int) -> str:
    return f'"{version}"'


class CallResources:
    """The ``/calls`` routes, as a matcher and an ASGI handler."""

    def __init__(
        self,
        calls: Calls,
        gate: Gate,
        heartbeat: float = HEARTBEAT,
        origins: Origins | None = None,
        *,
        request_ids: bool = False,
    ) -> None:
        self._calls = calls
        #: Whether quick answers carry ``X-Request-Id`` (the bridge's telemetry is on).
        self._request_ids = request_ids
        self._gate = gate
        self._origins = origins
        self._heartbeat = heartbeat
        #: One object, so that ``Calls.formed`` knows the form it kept (a bound method is made anew on each access).
        self._poll_answer = self._form_poll_answer
        v = gate.validator
        self._poll = v["getCall"]
        self._ops = {
            "listCalls": v["listCalls"],
            "getCall": v["getCall"],
            "cancelCall": v["cancelCall"],
            "streamCallEvents": v["streamCallEvents"],
            "answerCall": v["answerCall"],
        }

    @staticmethod
    def match(scope: Scope) -> bool:
        path: str = scope["path"]
        return path == PREFIX or path.startswith("/calls/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        status = 200
        try:
            route = self._route(path, method)
            if route is None:
                allowed = _allowed(path)
                status = 404 if allowed is None else 405
                await send_unrouted(send, path, None if allowed is None else ", ".join(sorted(allowed)))
            else:
                status = await route(scope, receive, send)
        except BridgeError as error:
            status = error.status
            await send_problem(send, error, path, scope)
        except Exception as error:  # the store down (503), or a bug: logged, answered without internals
            answered = unexpected(error, f"{method} {path}")
            status = answered.status
            await send_problem(send, answered, path)
        if access_log.isEnabledFor(logging.INFO):  # path and status only: headers may carry secrets
            access_log.info("%s %s %s %.1fms", method, path, status, (time.perf_counter() - started) * 1000)

    def _route(self, path: str, method: str) -> Callable[[Scope, Receive, Send], Awaitable[int]] | None:
        allowed = _allowed(path)
        if allowed is None or method not in allowed:
            return None
        route: Callable[[Scope, Receive, Send], Awaitable[int]] = getattr(self, allowed[method])
        return route

    async def _admit(
        self, op: OperationValidator, scope: Scope, receive: Receive, path: dict[str, str]
    ) -> tuple[Principal, Any, dict[str, list[str]], Headers]:
        headers = Headers(scope)
        admission = await without_stalling(lambda: self._gate.admit(op, headers))
        if self._gate.rate is not None:
            await self._gate.rate.acharge(admission.principal)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        raw = await read_body(receive, self._gate.max_body) if admission.reads_body else None
        body = admission.check(path, {k: v[-1] for k, v in query.items()}, raw)
        return admission.principal, body, query, headers

    # -- the routes ----------------------------------------------------------------------------

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> int:
        call_id = scope["path"][len(PREFIX) + 1 :]
        principal, _, _, headers = await self._admit(self._ops["getCall"], scope, receive, {"call": call_id})
        view, body = await self._calls.aencoded(call_id, principal)  # perhaps another instance's call
        status, extra, body = self._answer_with(view, body, headers)
        await _send_bytes(send, status, body, extra)
        return status

    @staticmethod
    def _answer_with(view: CallView, body: bytes, headers: Headers) -> Answer:
        tag = etag(view.version).encode()
        if headers.get("if-none-match", "") == tag.decode():
            return 304, ((b"etag", tag),), b""
        return 200, ((b"etag", tag), (b"cache-control", b"no-cache")), body

    def quick_answer(self, url: bytes, raw_headers: list[tuple[bytes, bytes]]) -> QuickAnswer | None:
        """A plain poll's answer, given in the HTTP protocol before any ASGI cycle; None: the route answers it.

        Called by ``GuardedHttpProtocol`` on the loop with the request's target and its headers
        (names in lower case) for a keep-alive HTTP/1.1 ``GET`` with nothing in flight before it.
        The answer is the route's, byte for byte; what it is made of is made once per version of
        the call (``_poll_answer``), so a poll of an unchanged call only adds its request id.
        """
        if not url.startswith(b"/calls/") or b"?" in url or b"%" in url or self._gate.rate is not None:
            return None
        call_id = url[_ID_AT:].decode("latin-1")
        if not call_id or "/" in call_id:
            return None
        logged = access_log.isEnabledFor(logging.INFO)
        started = time.perf_counter() if logged else 0.0
        named = tag = None
        origins = self._origins
        for name, value in raw_headers:  # the last of a repeated header counts, as in ``Headers``
            if name in _ROUTED:  # ``Origin`` among them: the route checks it
                return None
            if name == b"x-request-id":
                named = value
            elif name == b"if-none-match":
                tag = value
            elif name == b"host" and origins is not None and not origins.knows_host(value):
                return None  # a Host not yet found good: the route checks it
        try:
            principal = self._gate.caller(self._poll, _RawHeaders(raw_headers))
            # No body, no query, and an id the store holds matches the path's pattern (ids are
            # minted as such): the operation's checks could refuse nothing here, so they are not run.
            tag_of, fields, not_modified, body = self._calls.formed(call_id, principal, self._poll_answer)
        except (BridgeError, MustWait):  # refused, or a credential to ask about: the route answers it
            return None
        status = 200
        if tag == tag_of:
            status, fields, body = 304, not_modified, b""
        if self._request_ids:  # as the edge's observer answers every other request
            fields += b"x-request-id: " + request_id_of(named) + b"\r\n"
        if logged:
            took = (time.perf_counter() - started) * 1000
            access_log.info("GET %s %s %.1fms", url.decode("latin-1"), status, took)
        return status, fields, body

    @staticmethod
    def _form_poll_answer(view: CallView, body: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """What every poll of this version of the call is answered with, as ``_answer_with`` answers
        it: its ETag, the 200's header fields as written, the 304's, and the body."""
        tag = etag(view.version).encode()
        fields = b"content-type: application/json\r\ncontent-length: %d\r\netag: %s\r\ncache-control: no-cache\r\n"
        return tag, fields % (len(body), tag), b"etag: %s\r\n" % tag, body

    async def _list(self, scope: Scope, receive: Receive, send: Send) -> int:
        principal, _, query, _ = await self._admit(self._ops["listCalls"], scope, receive, {})
        state = query.get("state", [None])[-1]
        limit = int(query.get("limit", ["100"])[-1])
        after = query.get("after", [None])[-1]
        views = await self._calls.alist(
            principal, state=None if state is None else CallState(state), limit=limit + 1, after=after
        )
        page = views[:limit]
        following = page[-1].id if len(views) > limit else None
        await send_json(send, {"calls": [render(v) for v in page], "next": following})
        return 200

    async def _cancel(self, scope: Scope, receive: Receive, send: Send) -> int:
        call_id = scope["path"][len(PREFIX) + 1 :]
        principal, _, _, _ = await self._admit(self._ops["cancelCall"], scope, receive, {"call": call_id})
        view = await self._calls.cancel(call_id, principal)
        status = 200 if view.state.terminal else 202
        await send_json(send, render(view), status)
        return status

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        call_id = scope["path"][len(PREFIX) + 1 : -len("/input")]
        principal, body, _, _ = await self._admit(self._ops["answerCall"], scope, receive, {"call": call_id})
        answers: JSON = {} if body is NO_BODY else body["answers"]
        view = await self._calls.answer(call_id, principal, answers, where="/body/answers")
        await send_json(send, render(view))
        return 200

    async def _events(self, scope: Scope, receive: Receive, send: Send) -> int:
        call_id = scope["path"][len(PREFIX) + 1 : -len("/events")]
        principal, _, query, headers = await self._admit(
            self._ops["streamCallEvents"], scope, receive, {"call": call_id}
        )
        last = headers.get("last-event-id", "").strip() or query.get("lastEventId", [""])[-1].strip()
        after = int(last) if last.isdigit() else 0
        views = self._calls.watch(call_id, principal)
        first = await anext(views)  # 404 here, before the stream opens
        await open_event_stream(send)
        await send({"type": "http.response.body", "body": b"retry: %d\n\n" % RETRY_MS, "more_body": True})
        pump = asyncio.create_task(_pump(first, views, after, send))
        try:
            await _until_done(receive, send, pump, self._heartbeat)
        finally:
            pump.cancel()
            await views.aclose()
        await send({"type": "http.response.body", "body": b""})  # the call has ended, or its client left
        return 200


class _RawHeaders:
    """A request's headers as the parser gave them, for the gate (``Headers``' lookups) without a dict made."""

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def get(self, key: str, default: str) -> str:
        wanted = key.lower().encode("latin-1")
        for name, value in reversed(self._raw):  # the last of a repeated header, as ``Headers`` keeps it
            if name == wanted:
                return value.decode("latin-1")
        return default


#: Each kind of ``/calls`` path: its methods and the handler of each.
_ROUTES: dict[str, dict[str, str]] = {
    "collection": {"GET": "_list"},
    "call": {"GET": "_get", "DELETE": "_cancel"},
    "events": {"GET": "_events"},
    "input": {"POST": "_answer"},
}


def _allowed(path: str) -> dict[str, str] | None:
    """The methods the path answers, by which kind of ``/calls`` path it is; None: no such path."""
    if path == PREFIX:
        return _ROUTES["collection"]
    parts = path.split("/")  # "", "calls", id[, "events" | "input"]
    if len(parts) == 3 and parts[2]:
        return _ROUTES["call"]
    if len(parts) == 4 and parts[2] and parts[3] in ("events", "input"):
        return _ROUTES[parts[3]]
    return None


def _frame(view_json: bytes, version: int, state: str) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (version, state.encode(), view_json)


async def _pump(first: Any, views: Any, after: int, send: Send) -> None:
    view = first
    while True:
        if view.version > after:
            await send(
                {
                    "type": "http.response.body",
                    "body": _frame(orjson.dumps(render(view)), view.version, view.state.value),
                    "more_body": True,
                }
            )
        if view.state.terminal:
            return
        view = await anext(views)


async def _until_done(receive: Receive, send: Send, pump: asyncio.Task[None], heartbeat: float) -> None:
    """Until the call's last view is sent or the client leaves; a heartbeat whenever it was quiet that long."""
    waiter: asyncio.Task[Any] | None = None
    try:
        while not pump.done():
            if waiter is None:
                waiter = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({pump, waiter}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                pump.result()
                return
            if waiter in done:
                if waiter.result()["type"] == "http.disconnect":
                    return
                waiter = None
            if not done:
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
    finally:
        if waiter is not None:
            waiter.cancel()


async def _send_bytes(send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    headers = [*extra] if status == 304 else [(b"content-type", _JSON), (b"content-length", b"%d" % len(body)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
