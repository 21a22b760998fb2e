"""One WebSocket's JSON-RPC session: many calls in flight, event subscriptions, progress back.

Each request is a task of its own, answered by id when it completes, so a slow call never
holds up a quick one behind it; ``notifications/cancelled`` cancels that task, and with it the
upstream request (the call runs on the loop the upstream sessions live on). A request with
``_meta.progressToken`` hears ``notifications/progress`` on this socket. Past
``max_in_flight`` calls a request is refused at once with an error, not queued: the client
sees the pressure and decides. With a rate per caller (``--rate-limit``) each request on the
socket is charged to the socket's caller, as each HTTP request is.

Besides the methods of plain ``POST /mcp`` (``JsonRpcDispatcher``) the session answers
``events/subscribe`` (params ``types``, ``servers``, ``payload``, ``lastEventId``; the result
names the subscription) and ``events/unsubscribe``; each event and notice of a subscription
arrives as ``notifications/event`` whose params are the event (or notice) with
``subscription`` added.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from bridge.errors import (
    BridgeError,
    FieldError,
    MessageNotJson,
    NotJsonRpc,
    RateLimited,
    RequestInvalid,
    TooManyCalls,
)
from bridge.feed import EventFilter, Feed, WireEvent
from bridge.feed.follower import Follower, Notice
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.limits import CallerRate
from bridge.model import JSON, Principal, RelayRefused
from bridge.telemetry import named_jsonrpc_error

from .http import unexpected

__all__ = ["SocketSession"]


#: Calls one socket may have in flight; more are refused, not queued.
MAX_IN_FLIGHT = 64
#: Notifications of one subscription sent per wake-up at most.
BURST = 256

SendText = Callable[[bytes], Awaitable[None]]


class SocketRelay:
    """A ``bridge.model.Relay`` for one call on a socket: progress goes back on the socket; the
    socket takes no server requests (sampling, elicitation) and no logs."""

    log_level = None
    takes_input_required = False
    input_responses = None
    request_state = None
    detached = False
    declared = None

    def __init__(self, session: SocketSession, token: str | int) -> None:
        self._session = session
        self._token = token

    @property
    def wants_progress(self) -> bool:
        return True

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        params: JSON = {"progressToken": self._token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._session.notify("notifications/progress", params)

    async def log(self, params: JSON) -> None:
        return None

    async def ask(self, method: str, params: JSON) -> JSON:
        raise RelayRefused(f"{method}: a WebSocket caller answers no server requests")


class SocketSession:
    """The JSON-RPC conversation of one socket; ``close()`` cancels its calls and subscriptions."""

    def __init__(
        self,
        send_text: SendText,
        dispatcher: JsonRpcDispatcher,
        feed: Feed,
        principal: Principal,
        max_in_flight: int = MAX_IN_FLIGHT,
        rate: CallerRate | None = None,
    ) -> None:
        self._send_text = send_text
        self._dispatcher = dispatcher
        self._feed = feed
        self._principal = principal
        self.max_in_flight = max_in_flight
        self._rate = rate
        self._calls: dict[tuple[str, str | int], asyncio.Task[None]] = {}
        self._subscriptions: dict[str, tuple[Follower, asyncio.Task[None]]] = {}
        self._names = itertools.count(1)
        self._closed = False

    # -- frames in ---------------------------------------------------------------------------

    async def receive(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            detail = f"the frame is not valid JSON: {exc}"
            await self._error(None, MessageNotJson(detail, [FieldError("", detail)]))
            return
        if not isinstance(message, dict):
            await self._error(None, _not_json_rpc("", "send one JSON-RPC request object per frame"))
            return
        request_id = message.get("id")
        # JSON-RPC allows a null id, but it names nothing to answer or cancel: treated as a notification.
        valid_id = request_id is None or (isinstance(request_id, str | int) and not isinstance(request_id, bool))
        if message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str) or not valid_id:
            if "method" not in message and ("result" in message or "error" in message):
                return  # a response to nothing we asked: nothing to answer
            if message.get("jsonrpc") != "2.0":
                where, why = "/jsonrpc", 'must be "2.0"'
            elif not isinstance(message.get("method"), str):
                where, why = "/method", "must be a string naming the method"
            else:
                where, why = "/id", "must be a string or an integer"
            error = NotJsonRpc(f"not a JSON-RPC 2.0 request: {where[1:]} {why}", [FieldError(where, why)])
            await self._error(request_id if valid_id else None, error)
            return
        if request_id is None:
            self._notified(message)
            return
        await self._request(message, request_id)

    async def binary(self) -> None:
        await self._error(None, _not_json_rpc("", "binary frames are not accepted: send JSON-RPC as text frames"))

    def _notified(self, message: Mapping[str, Any]) -> None:
        if message["method"] != "notifications/cancelled":
            return  # other notifications need nothing from the bridge
        params = message.get("params")
        wanted = params.get("requestId") if isinstance(params, dict) else None
        if isinstance(wanted, str | int) and not isinstance(wanted, bool):
            task = self._calls.get(_key(wanted))
            if task is not None:
                task.cancel()

    async def _request(self, message: JSON, request_id: str | int) -> None:
        if self._rate is not None:
            try:
                await self._rate.acharge(self._principal)
            except RateLimited as limited:
                await self._error(request_id, limited)
                return
        key = _key(request_id)
        method = message["method"]
        if method in ("events/subscribe", "events/unsubscribe"):
            await self._events(message, request_id)
            return
        if key in self._calls:
            await self._error(request_id, _not_json_rpc("/id", f"a request with id {request_id!r} is still in flight"))
            return
        if len(self._calls) >= self.max_in_flight:
            limit = f"{self.max_in_flight} calls are in flight on this socket; send more as answers arrive"
            await self._error(request_id, TooManyCalls(limit))
            return
        self._calls[key] = asyncio.create_task(self._call(message, key))

    async def _call(self, message: JSON, key: tuple[str, str | int]) -> None:
        try:
            params = message.get("params")
            meta = params.get("_meta") if isinstance(params, dict) else None
            token = meta.get("progressToken") if isinstance(meta, dict) else None
            relay = SocketRelay(self, token) if isinstance(token, str | int) else None
            try:
                answer = await self._dispatcher.handle(message, self._principal, relay)
            except Exception as exc:  # the store down, or a bug: logged, answered without internals
                answered = unexpected(exc, f"{message['method']} over /ws")
                answer = {"jsonrpc": "2.0", "id": message["id"], "error": named_jsonrpc_error(answered)}
        finally:
            self._calls.pop(key, None)  # cancelled (MCP: a cancelled request gets no answer) or done
        if answer is not None:
            await self._send(answer)

    # -- events --------------------------------------------------------------------------------

    async def _events(self, message: JSON, request_id: str | int) -> None:
        params = message.get("params") or {}
        try:
            if not isinstance(params, dict):
                raise RequestInvalid("params must be an object", [FieldError("/params", "expected an object")])
            if message["method"] == "events/unsubscribe":
                self._unsubscribe(params)
                await self._send({"jsonrpc": "2.0", "id": request_id, "result": {}})
                return
            name, follower = self._follow(params)
        except BridgeError as exc:
            await self._send({"jsonrpc": "2.0", "id": request_id, "error": named_jsonrpc_error(exc)})
            return
        await self._send({"jsonrpc": "2.0", "id": request_id, "result": {"subscription": name}})
        self._subscriptions[name] = (follower, asyncio.create_task(self._forward(name, follower)))

    def _follow(self, params: JSON) -> tuple[str, Follower]:
        types = _names(params, "types")
        servers = _names(params, "servers")
        payload = params.get("payload", False)
        if not isinstance(payload, bool):
            raise RequestInvalid(
                "/params/payload: expected a boolean", [FieldError("/params/payload", "expected a boolean")]
            )
        last = params.get("lastEventId")
        if last is not None and not isinstance(last, str):
            raise RequestInvalid(
                "/params/lastEventId: expected a string", [FieldError("/params/lastEventId", "expected a string")]
            )
        event_filter = EventFilter.parse(types, servers, where="/params", key="types")
        name = f"sub-{next(self._names)}"
        return name, Follower(self._feed, self._principal, event_filter, payload=payload, last_event_id=last)

    def _unsubscribe(self, params: JSON) -> None:
        name = params.get("subscription")
        found = self._subscriptions.pop(name, None) if isinstance(name, str) else None
        if found is None:
            pointer = "/params/subscription"
            raise RequestInvalid(f"{pointer}: no such subscription on this socket", [FieldError(pointer, "unknown")])
        follower, task = found
        follower.close()
        task.cancel()

    async def _forward(self, name: str, follower: Follower) -> None:
        suffix = b',"subscription":' + orjson.dumps(name) + b"}}"
        head = b'{"jsonrpc":"2.0","method":"notifications/event","params":'
        async for first in follower:
            for item in (first, *follower.ready(BURST)):
                if isinstance(item, WireEvent):
                    document = item.json(follower.shows_payload(item))
                else:
                    document = orjson.dumps(_notice(item))
                await self._send_text(head + document[:-1] + suffix)

    # -- frames out ----------------------------------------------------------------------------

    async def notify(self, method: str, params: JSON) -> None:
        await self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _error(self, request_id: str | int | None, error: BridgeError) -> None:
        await self._send({"jsonrpc": "2.0", "id": request_id, "error": named_jsonrpc_error(error)})

    async def _send(self, message: JSON) -> None:
        await self._send_text(orjson.dumps(message))

    def close(self) -> None:
        self._closed = True
        for follower, task in self._subscriptions.values():
            follower.close()
            task.cancel()
        self._subscriptions.clear()
        for task in self._calls.values():
            task.cancel()

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    async def settle(self) -> None:
        """Return once no call on the socket is in flight (those sent meanwhile included)."""
        while self._calls:
            await asyncio.wait(tuple(self._calls.values()))


def _key(request_id: str | int) -> tuple[str, str | int]:
    """Ids 1 and "1" are different requests."""
    return (type(request_id).__name__, request_id)


def _names(params: JSON, member: str) -> list[str]:
    value = params.get(member, [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    pointer = f"/params/{member}"
    raise RequestInvalid(f"{pointer}: expected a list of names", [FieldError(pointer, "expected a list of strings")])


def _notice(notice: Notice) -> JSON:
    return notice.document()


def _not_json_rpc(pointer: str, detail: str) -> NotJsonRpc:
    return NotJsonRpc(detail, [FieldError(pointer, detail)])
