"""The lean ``/mcp`` path's side of one exchange: its response, its relay, and the watch on its call.

``Exchange`` writes one request's answer as the SDK's Streamable HTTP server would: SSE events as
they come, then the response; or plain JSON for a call that sent nothing before it. The SDK's
server answers a 2025-era session's every request on SSE; the transport lets a server answer
JSON instead, and every client must take both. On SSE the SDK's client closes the response at
its answer, before the chunked end has been read, so the connection cannot be pooled: each 2025
call through the gateway would cost its client a new TCP connection (and the bridge an accept).
``LeanRelay`` is the call's way back to its client (``bridge.model.Relay``): progress and log
notifications as SSE events on that exchange; a question, for a 2025-era client that declared
it can answer it, as a request on that stream too, whose answer the client POSTs back
(``Questions``), and otherwise refused, as the SDK refuses a client that declared no capability
for it. ``Watches`` looks at every call in flight on one
timer: a call still running after ``WATCH_SECONDS`` has its client's going away watched for, and
a silent call is committed to SSE and pinged every ``PING_SECONDS``. A client gone is a call
given up, but for a 2025-era client whose answer had begun as an event stream: that stream's
events are kept (``bridge.endpoint.mcp_replay``), and the call runs on for the client to resume.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types import JSONRPCError, JSONRPCResponse, jsonrpc_message_adapter
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from pydantic import ValidationError

from bridge.mcpserver.relay import RelayBase, question_types, unanswerable
from bridge.model import JSON, RelayRefused

from .http import Receive, Send
from .mcp_replay import RETRY_MS, Raw, SessionEvents, Stream

__all__ = ["PING_SECONDS", "WATCH_SECONDS", "Exchange", "LeanRelay", "Questions", "Watch", "Watches", "sse"]

#: A silent 2026-07-28 call commits to SSE after this long and is pinged as often (the SDK's interval).
PING_SECONDS: Final = 15.0
#: A call running this long (twice it at most) has its client's going away watched for: a task per
#: call would cost every quick call more than the rest of its route, and 0.1 s late is soon enough
#: to cancel the upstream call of a client that has left.
WATCH_SECONDS: Final = 0.05
_QUESTIONS: Final = frozenset({"sampling/createMessage", "elicitation/create"})
#: Puts a question to the call's client and returns its answer (``Questions.asker``).
Ask = Callable[[str, JSON], Awaitable[JSON]]

SSE_HEAD: Final = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


def sse(message: JSON) -> bytes:
    return b"event: message\r\ndata: " + orjson.dumps(message) + b"\r\n\r\n"


#: A whole JSON answer at once, where the HTTP protocol serves the request (``Posted.answer``):
#: its status, its header fields beyond ``Content-Type`` and ``Content-Length``, its JSON body.
#: Written at once, it returns None; something to await when the connection must drain first.
Answer = Callable[[int, list[tuple[bytes, bytes]], bytes], Awaitable[None] | None]


class Exchange:
    """One request's response: SSE events as they come, then the answer (or JSON, when nothing came first).

    With ``events`` (a 2025-era session's record, ``bridge.endpoint.mcp_replay``) a stream once
    begun is resumable: each message on it gets an id and is kept, and with ``primes`` (2025-11-25
    and later) it begins with a priming event, so a client cut off anywhere can come back."""

    def __init__(
        self,
        send: Send,
        modern: bool,
        session_id: str,
        reply: Answer | None = None,
        events: SessionEvents | None = None,
        primes: bool = False,
    ) -> None:
        self._send = send
        self._reply = reply
        self._modern = modern
        self._session: list[tuple[bytes, bytes]] = [] if modern else [(b"mcp-session-id", session_id.encode("latin-1"))]
        self._events = events
        self._primes = primes
        #: The stream's record, once the stream began on a resumable exchange.
        self.stream: Stream | None = None
        self.started = False
        self.ended = False

    async def _start(self) -> None:
        if not self.started:
            self.started = True
            await self._send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEAD, *self._session]})
            if self._events is not None:
                self.stream = stream = self._events.open(None)
                if self._primes:
                    primer = b"id: " + stream.keep(None).encode() + b"\r\nretry: %d\r\ndata: \r\n\r\n" % RETRY_MS
                    await self._send({"type": "http.response.body", "body": primer, "more_body": True})

    def _event(self, message: JSON, last: bool = False) -> bytes:
        """``message`` as an SSE event, with its id on a resumable stream (kept there)."""
        stream = self.stream
        if stream is None:
            return sse(message)
        data = orjson.dumps(message)
        event_id = stream.keep(Raw(data.decode()), last)
        return b"event: message\r\nid: " + event_id.encode() + b"\r\ndata: " + data + b"\r\n\r\n"

    async def event(self, chunk: bytes) -> None:
        """Something that is no message (a ping): on the stream, never kept."""
        if self.ended:
            return
        await self._start()
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def message(self, message: JSON) -> None:
        """A message before the answer (a notification, a question): the answer becomes SSE."""
        if self.ended:
            return
        await self._start()
        await self._send({"type": "http.response.body", "body": self._event(message), "more_body": True})

    def abandon(self) -> None:
        """No answer will come (the bridge is stopping): whoever resumes the stream is let go."""
        if self.stream is not None:
            self.stream.end()

    async def finish(self, answer: JSON | None) -> int:
        """Send ``answer`` (None: end the stream with nothing more, a cancelled request); the status sent."""
        if self.ended:
            return 200
        self.ended = True
        if not self.started and answer is not None:
            error = answer.get("error")
            status = 200
            if self._modern and isinstance(error, dict):
                status = ERROR_CODE_HTTP_STATUS.get(error["code"], 200)
            body = orjson.dumps(answer)
            if self._reply is not None:
                if (draining := self._reply(status, self._session, body)) is not None:
                    await draining
                return status
            head = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *self._session,
            ]
            await self._send({"type": "http.response.start", "status": status, "headers": head})
            await self._send({"type": "http.response.body", "body": body})
            return status
        await self._start()
        if answer is None:
            self.abandon()
        await self._send({"type": "http.response.body", "body": b"" if answer is None else self._event(answer, True)})
        return 200


class LeanRelay(RelayBase):
    """The caller's side of a call served here (``bridge.model.Relay``), as ``CallerRelay`` is on the SDK's path."""

    def __init__(
        self,
        exchange: Exchange,
        token: Any,
        level: str | None,
        modern: bool,
        stop: Callable[[], object],
        declared: JSON,
        ask: Ask | None = None,
    ) -> None:
        super().__init__(token, level, modern)
        self.declared = declared
        self._exchange = exchange
        self._stop = stop
        self._ask = ask
        #: Set when a question ended the request (2026-07-28: -32021, as a held call is refused).
        self.refusal: MCPError | None = None

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self._token is not None:
            params: JSON = {"progressToken": self._token, "progress": progress}
            if total is not None:
                params["total"] = total
            if message is not None:
                params["message"] = message
            await self._notify("notifications/progress", params)

    async def log(self, params: JSON) -> None:
        sent = {k: params.get(k) for k in ("level", "logger", "data") if params.get(k) is not None}
        await self._notify("notifications/message", sent)

    async def _notify(self, method: str, params: JSON) -> None:
        await self._sending(self._exchange.message({"jsonrpc": "2.0", "method": method, "params": params}))

    async def ask(self, method: str, params: JSON) -> JSON:
        if method not in _QUESTIONS:
            raise RelayRefused(f"{method} is not relayed", METHOD_NOT_FOUND)
        if self._ask is not None:
            return await self._ask(method, params)
        if self.takes_input_required:  # 2026-07-28: the request ends with -32021, as the SDK's held call is refused
            self.refusal = unanswerable(method)
            self._stop()
        raise RelayRefused(f"the client did not declare the capability {method} needs")


class Questions:
    """Questions put to 2025-era clients of the lean path, each on its call's own stream as the SDK
    puts them, and the answers those clients POST back, by session and question id.

    The ids are strings (``lean-q-N``): the SDK's session numbers its own requests, so an answer
    is never taken for the other's.
    """

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], asyncio.Future[JSON]] = {}
        self._ids = itertools.count(1)

    def asker(self, exchange: Exchange, session_id: str, declared: JSON) -> Ask:
        """How a call on ``exchange`` puts a question to its client, which declared ``declared``."""

        async def ask(method: str, params: JSON) -> JSON:
            request_type, result_type, _ = question_types(method, params)
            if declared.get("sampling" if method == "sampling/createMessage" else "elicitation") is None:
                raise RelayRefused(f"the client did not declare the capability {method} needs")
            request = request_type.model_validate({"method": method, "params": params})
            key = (session_id, f"lean-q-{next(self._ids)}")
            answered = self._waiting[key] = asyncio.get_running_loop().create_future()
            try:
                sent = request.model_dump(mode="json", by_alias=True, exclude_none=True)
                await exchange.message({"jsonrpc": "2.0", "id": key[1], **sent})
                answer = await answered
            finally:
                self._waiting.pop(key, None)
            error = answer.get("error")
            if isinstance(error, dict):
                raise RelayRefused(str(error.get("message", "")), int(error.get("code", 0)))
            result: JSON = result_type.model_validate(answer.get("result")).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            return result

        return ask

    def answered(self, session_id: str, message: Any) -> bool:
        """Whether ``message`` answers a question put here (then it is taken). An answer the SDK's
        transport would refuse (not a JSON-RPC response or error: an error's code not an integer,
        say) is not taken: the SDK's app answers it 400, as it would any, and the question waits on."""
        if not isinstance(message, dict) or "method" in message or not isinstance(message.get("id"), str):
            return False
        waiting = self._waiting.get((session_id, message["id"]))
        if waiting is None or not _well_formed_answer(message):
            return False
        if not waiting.done():
            waiting.set_result(message)
        return True


def _well_formed_answer(message: JSON) -> bool:
    """Whether the SDK's transport reads ``message`` as a response or an error (its own check of
    every message POSTed to it)."""
    try:
        parsed = jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValidationError:
        return False
    return isinstance(parsed, JSONRPCResponse | JSONRPCError)


async def disconnect(receive: Receive) -> None:
    """Return when the client goes away (the request's body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Watch:
    """One call as ``Watches`` looks at it: past ``WATCH_SECONDS`` its client's going away is watched
    for (a task that cancels the call, unless its client can resume the stream); a call still
    silent at ``PING_SECONDS`` is committed to SSE and pinged as often."""

    def __init__(self, exchange: Exchange, receive: Receive, call: asyncio.Task[Any]) -> None:
        self._exchange = exchange
        self._receive = receive
        self._call = call
        self.loop = call.get_loop()
        self._since = self.loop.time()
        self._ping_at = self._since + PING_SECONDS
        self._gone: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None

    def look(self, now: float) -> None:
        if self._gone is None and now - self._since >= WATCH_SECONDS:
            self._gone = self.loop.create_task(disconnect(self._receive))
            self._gone.add_done_callback(self._left)
        if now >= self._ping_at:
            self._ping_at = now + PING_SECONDS
            self._sending = self.loop.create_task(self._exchange.event(b": ping\r\n\r\n"))

    def _left(self, gone: asyncio.Task[None]) -> None:
        """The client went away: its call is cancelled, unless it can come back for the answer (a
        resumable stream, which is kept meanwhile) and cancel it itself if it wants it stopped."""
        if not gone.cancelled() and self._exchange.stream is None:
            self._call.cancel()

    def stop(self) -> None:
        if self._gone is not None:
            self._gone.cancel()


class Watches:
    """The lean path's calls in flight, looked at every ``WATCH_SECONDS`` while there are any: one
    timer for them all (a timer per call cost a quick call about as much as its header checks)."""

    def __init__(self) -> None:
        self._calls: dict[Watch, None] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, watch: Watch) -> None:
        self._calls[watch] = None
        if self._timer is None:
            self._timer = watch.loop.call_later(WATCH_SECONDS, self._sweep, watch.loop)

    def remove(self, watch: Watch) -> None:
        self._calls.pop(watch, None)
        watch.stop()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for watch in list(self._calls):
            watch.look(now)
        self._timer = loop.call_later(WATCH_SECONDS, self._sweep, loop) if self._calls else None
