"""Lean requests to a Streamable HTTP upstream: one POST each, beside the SDK's client session.

Through the SDK, a request to an HTTP upstream passes pydantic models, the dispatcher, anyio
streams, the streamable-http client's tasks and httpx2's request and response objects; that
was most of the bridge's CPU per tool call. ``HttpChannel`` sends the same POST the SDK would
(the negotiated revision's headers, the session id, the 2026-07-28 routing headers, the
config's static headers) written in one piece on ``LeanTransport``'s pooled connections, and
reads the answer, JSON or an event stream, where it arrives. An event stream (a 2025-era
server's answer) is read with the bridge's own parser (``bridge.upstream.sse_events``, which
says what httpx2's reader cost here); once its answer is in, the connection drops the rest of
the stream itself and goes back to the pool. The SDK session stays beside it for everything
else: the handshake, pings, listings, the GET stream, subscriptions, tasks.

Every outcome ends as it does on the SDK path:

- a JSON-RPC error answer, and each HTTP status the SDK turns into one (202, a redirect, a 4xx
  or 5xx; 404 on a 2025 session is "Session terminated"), raises ``MCPError``;
- a lost connection raises httpx2's ``TransportError``, so the session sees a connection loss,
  and once the session's connection is closed every request fails at once, as the SDK's do;
- but a 2025-era answer stream that ends or is cut before its answer, after an event with an
  id, is resumed with ``Last-Event-ID`` (``_events``), as the SDK's transport resumes it;
- what the server sends on the answer's stream before the answer goes where the SDK sends it:
  log messages to the back channel, other notifications to the session's message handler, and
  a 2025 session's questions (sampling, elicitation) to the back channel, whose answer is POSTed;
- a request given up (deadline, caller gone) is cancelled upstream as the SDK does it: at
  2026-07-28 by closing its stream, before that with a ``notifications/cancelled`` POST.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx2
import mcp_types as types
import orjson
from mcp.client.session import ClientSession, MessageHandlerFnT
from mcp.client.streamable_http import (
    DEFAULT_MAX_SSE_EVENT_SIZE,
    DEFAULT_RECONNECTION_DELAY_MS,
    MAX_RECONNECTION_ATTEMPTS,
)
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.telemetry import REQUEST_ID_HEADER, TRACEPARENT, current
from bridge.upstream.http import LeanTransport, PooledBody
from bridge.upstream.lean_calls import LeanRequests, cancellation, error_of
from bridge.upstream.relaying import BackChannel
from bridge.upstream.sse_events import EventParser, EventTooLarge
from bridge.upstream.wire import header, header_fields, request_line

__all__ = ["HttpChannel"]

log = logging.getLogger(__name__)

#: What the SDK's client advertises it takes (``StreamableHTTPTransport._prepare_headers``).
ACCEPT = "application/json, text/event-stream"
#: The largest event an answer's stream may carry (the SDK transport's default bound).
MAX_EVENT_SIZE = DEFAULT_MAX_SSE_EVENT_SIZE
#: Redirects within the endpoint's origin followed for one request at most (httpx2's own bound).
MAX_REDIRECTS = 20
#: How many stamps' written headers a channel keeps (``_stamp_fields``): more than a server's tools, mostly.
STAMPS_KEPT = 256
#: What the SDK's requests say they come from (httpx2's default, kept unless the config sets one).
USER_AGENT = f"python-httpx2/{httpx2.__version__}"
#: Bound on POSTing a cancellation or a question's answer; the SDK's abandon-write bound is alike.
SIDE_POST_TIMEOUT = 5.0
#: A cut answer stream is resumed after the server's ``retry``, or this long (ms), as the SDK's transport does.
RESUME_DELAY_MS = DEFAULT_RECONNECTION_DELAY_MS
#: Failed tries in a row to resume an answer stream before the request fails (the SDK's transport's bound).
RESUME_ATTEMPTS = MAX_RECONNECTION_ATTEMPTS


class HttpChannel(LeanRequests):
    """``LeanChannel`` over Streamable HTTP for one connected session; lives on the upstream loop.

    Each answer comes on its own POST, so the table of requests awaiting answers stays empty:
    of ``LeanRequests`` this takes the ids and the stamp."""

    def __init__(
        self,
        url: str,
        transport: LeanTransport,
        *,
        headers: Mapping[str, str],
        back: BackChannel,
        on_message: MessageHandlerFnT,
    ) -> None:
        super().__init__()
        parsed = httpx2.URL(url)
        self._key = (parsed.host, parsed.port or 80)
        self._endpoint = parsed
        self._target = parsed.raw_path
        self._transport = transport
        self._back = back
        self._on_message = on_message
        self._modern = False
        self._side_posts: set[asyncio.Task[None]] = set()
        # The headers every POST carries: the SDK transport's over the config's over httpx2's own
        # (as httpx2 merges them), but for Accept-Encoding: these bodies are read as they come.
        fixed = {"connection": "keep-alive", "user-agent": USER_AGENT}
        fixed |= {name.lower(): value for name, value in headers.items()}
        fixed |= {"accept": ACCEPT, "content-type": "application/json"}
        self._fixed = [
            (b"host", parsed.netloc),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in fixed.items()),
        ]
        #: Whether requests name the bridge's request they serve in headers: not when the
        #: configured headers set either field themselves (theirs go as configured).
        self._carries_context = not {TRACEPARENT, REQUEST_ID_HEADER} & fixed.keys()
        #: The request line and the fixed headers, as written (``_head``); None until first used.
        self._prefix: bytes | None = None
        #: Stamps' headers as written, by the stamp (``_stamp_fields``).
        self._stamps_written: dict[tuple[tuple[str, str], ...], bytes] = {}
        #: The session's header field as written, and the session id it was written for.
        self._session_field: tuple[str | None, bytes] = (None, b"")
        #: The negotiated version's header field as written (``bind``).
        self._version_field = b""

    def bind(self, session: ClientSession) -> None:
        super().bind(session)
        version = session.protocol_version or ""
        self._modern = version in MODERN_PROTOCOL_VERSIONS
        self._version_field = header_fields([(b"mcp-protocol-version", version.encode("ascii"))]) if version else b""

    async def request(
        self, method: str, params: dict[str, Any], on_progress: ProgressFnT | None = None
    ) -> dict[str, Any]:
        """The raw JSON ``result`` of one request (see the module docstring for every other ending)."""
        request_id = self.next_id()
        if on_progress is None:
            return await self._requested(method, params, request_id, False)
        self.listen(request_id, on_progress)
        try:
            result = await self._requested(method, params, request_id, True)
            await self.handed(request_id)
            return result
        finally:
            self.forget(request_id)

    async def _requested(self, method: str, params: dict[str, Any], request_id: str, tokened: bool) -> dict[str, Any]:
        # At 2026-07-28 the stamp is the ``_meta`` envelope and the routing headers (Mcp-Method,
        # Mcp-Name, the tool's Mcp-Param-*), before it the version header.
        stamped, headers = self.stamped(method, params)
        if tokened:
            stamped = self.tokened(stamped, request_id)
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": stamped})
        try:
            for _ in range(MAX_REDIRECTS):
                message = self._head(headers, len(body)) + body
                conn = await self._transport.exchange(
                    self._key, message, MCP_DEFAULT_TIMEOUT, MCP_DEFAULT_SSE_READ_TIMEOUT, body=True
                )
                stream = PooledBody(self._transport, self._key, conn, MCP_DEFAULT_SSE_READ_TIMEOUT)
                if not self._redirected(conn.status, conn.headers):
                    break
                stream.end()
            try:
                result = await self._answer(conn.status, conn.headers, stream, request_id)
            except BaseException:
                await stream.aclose()  # at 2026-07-28 a request given up is cancelled so
                raise
            stream.end()
            return result
        except asyncio.CancelledError:
            if not self._modern:  # at 2026-07-28 the closed stream was the signal
                self._side_post(cancellation(request_id))
            raise

    def _redirected(self, status: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """A 307 or 308 within the endpoint's origin (a trailing slash, say) is followed, as the
        SDK's transport follows it; here its target becomes the endpoint's for later requests too."""
        if status not in (307, 308) or not (location := header(headers, b"location")):
            return False
        there = self._endpoint.copy_with(raw_path=self._target).join(location)
        if (there.scheme, there.host, there.port or 80) != ("http", self._key[0], self._key[1]):
            return False
        self._target = there.raw_path
        self._prefix = None
        return True

    def _head(self, stamped: Mapping[str, str], length: int) -> bytes:
        """A POST's head; answers and notifications carry no stamp, only the negotiated version (as the SDK's).
        Each names the bridge's request it serves, as its ``_meta`` does (``RequestContext.header_fields``)."""
        prefix = self._prefix
        if prefix is None:  # made on first use: a bad configured header fails a request, as it always has
            prefix = self._prefix = request_line(b"POST", self._target) + header_fields(self._fixed)
        head = prefix + b"content-length: %d\r\n" % length + self._named()
        if stamped:
            head += self._stamp_fields(stamped)
        else:
            head += self._version_field
        return head + b"\r\n"

    def _named(self) -> bytes:
        """The fields that name the bridge's request and the session, as every request carries them."""
        fields = b""
        if self._carries_context and (context := current.get()) is not None:
            fields = context.header_fields()
        session = self._transport.session_id
        if session is not None:
            if self._session_field[0] != session:  # written once for each session the transport opens
                self._session_field = (session, header_fields([(b"mcp-session-id", session.encode("latin-1"))]))
            fields += self._session_field[1]
        return fields

    def _resuming(self, last_id: str) -> bytes:
        """The GET that resumes an answer's stream after the event ``last_id``, with the headers the
        SDK's transport sends on it (a POST's, and ``Last-Event-ID``)."""
        fields = [*self._fixed, (b"last-event-id", last_id.encode("utf-8"))]
        head = request_line(b"GET", self._target) + header_fields(fields) + self._named() + self._version_field
        return head + b"\r\n"

    def _stamp_fields(self, stamped: Mapping[str, str]) -> bytes:
        """The stamp's headers as written (checked as every field is). The same few stamps come
        again and again (a method, a tool's name): each is written once and kept, a bounded few."""
        key = tuple(stamped.items())
        fields = self._stamps_written.get(key)
        if fields is None:
            if len(self._stamps_written) >= STAMPS_KEPT:
                self._stamps_written.clear()
            fields = header_fields((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in key)
            self._stamps_written[key] = fields
        return fields

    async def _answer(
        self, status: int, headers: list[tuple[bytes, bytes]], stream: PooledBody, request_id: str
    ) -> dict[str, Any]:
        content_type = header(headers, b"content-type").lower()
        if status == 202:
            raise MCPError(INVALID_REQUEST, "server answered a request with 202 Accepted")
        if 300 <= status < 400 and (location := header(headers, b"location")):
            # Named as the SDK names it: no userinfo, query or fragment, which may carry secrets.
            there = self._endpoint.join(location).copy_with(userinfo=b"", query=None, fragment=None)
            raise MCPError(
                INVALID_REQUEST,
                f"Redirect to {there} not followed; use that URL as the endpoint if it is the intended server",
            )
        if status >= 400:
            raise await _status_error(status, content_type, stream, self._transport.session_id is not None)
        if content_type.startswith("application/json"):
            try:
                answer = orjson.loads(await _read(stream))
            except orjson.JSONDecodeError as exc:
                raise MCPError(PARSE_ERROR, f"Failed to parse JSON response: {exc}") from None
            return _outcome(answer)
        if content_type.startswith("text/event-stream"):
            return await self._events(stream, request_id)
        raise MCPError(INVALID_REQUEST, f"Unexpected content type: {content_type}")

    async def _events(self, stream: PooledBody, request_id: str) -> dict[str, Any]:
        """The answer on an event stream, read with the bridge's own parser (``bridge.upstream.sse_events``).

        A stream that ends, or is cut, before its answer but after an event with an id is resumed
        as the SDK's transport resumes it (``_resume``), again each time a resumed stream ends so:
        a 2025-11-25 server may end a long call's stream on purpose and answer on the next
        (SEP-1699). Failed tries in a row are counted, and ``RESUME_ATTEMPTS`` of them end it.
        At 2026-07-28, a revision without resuming, such a stream ends the request."""
        parser = EventParser(MAX_EVENT_SIZE)
        failed = 0
        current = stream
        try:
            while True:
                try:
                    answer = await self._answer_in(current, parser, request_id)
                    if answer is not None:
                        break
                    if current is not stream:
                        failed = 0  # a resumed stream that ended as streams end
                except httpx2.TransportError:
                    if self._modern or not parser.last_id:
                        raise  # nothing to resume from: the connection is lost, as for the SDK's session
                    failed += 1
                if self._modern or not parser.last_id:  # 2026-07-28 has no resuming
                    raise MCPError(CONNECTION_CLOSED, "SSE stream ended without a response")
                current, failed = await self._resume(parser, failed)
        except BaseException:
            if current is not stream:
                await current.aclose()
            raise
        if current is not stream:
            current.end()
        return answer

    async def _answer_in(self, stream: PooledBody, parser: EventParser, request_id: str) -> dict[str, Any] | None:
        """The answer, if it comes on ``stream`` before the stream ends (None if it does not)."""
        try:
            while chunk := await stream.receive():
                for event in parser.feed(chunk):
                    if event.type != "message" or not event.data:
                        continue  # a priming event (for resumption) or one the SDK only logs
                    answer = await self._message(event.data, request_id)
                    if answer is not None:
                        return answer
        except EventTooLarge as exc:  # the SDK's transport gives up so
            raise MCPError(CONNECTION_CLOSED, f"SSE stream failed: {exc}") from None
        return None

    async def _resume(self, parser: EventParser, failed: int) -> tuple[PooledBody, int]:
        """The stream after ``parser``'s last event, by a GET with ``Last-Event-ID`` each time the
        server's ``retry`` (or a second) has passed, until one answers with an event stream; it, and
        the failed tries in a row so far. When the last try could not reach the server at all, its
        error is raised: the connection is lost, as for the SDK's session."""
        lost: httpx2.TransportError | None = None
        while failed < RESUME_ATTEMPTS:
            await asyncio.sleep((RESUME_DELAY_MS if parser.retry is None else parser.retry) / 1000)
            try:
                wire = self._resuming(parser.last_id)
            except ValueError:  # an id no header field can carry
                break
            try:
                conn = await self._transport.exchange(
                    self._key, wire, MCP_DEFAULT_TIMEOUT, MCP_DEFAULT_SSE_READ_TIMEOUT, body=True
                )
            except httpx2.TransportError as exc:
                log.debug("could not resume an upstream's event stream: %s", exc)
                lost = exc
                failed += 1
                continue
            lost = None
            body = PooledBody(self._transport, self._key, conn, MCP_DEFAULT_SSE_READ_TIMEOUT)
            if conn.status == 200 and header(conn.headers, b"content-type").lower().startswith("text/event-stream"):
                return body, failed
            body.end()
            failed += 1
        if lost is not None:
            raise lost
        raise MCPError(CONNECTION_CLOSED, "SSE stream ended and reconnection attempts were exhausted")

    async def _message(self, data: str, request_id: str) -> dict[str, Any] | None:
        """The result if ``data`` is the answer; what else the server sends is handled as the SDK would."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MCPError(PARSE_ERROR, f"Failed to parse SSE message: {exc}") from None
        if not isinstance(message, dict):
            raise MCPError(PARSE_ERROR, "Failed to parse SSE message: not a JSON-RPC message")
        if "method" not in message:
            return _outcome(message) if message.get("id") == request_id else None
        if "id" in message:
            await self._asked(message)
        else:
            await self._notified(message)
        return None

    async def _notified(self, message: dict[str, Any]) -> None:
        """A notification on the answer's stream, handled as the SDK session would."""
        try:
            notification = types.server_notification_adapter.validate_python(message, by_name=False)
        except ValueError:
            log.debug("upstream sent an unknown notification %r on a call's stream", message.get("method"))
            return
        if isinstance(notification, types.LoggingMessageNotification):
            await self._back.on_log(notification.params)
        elif not isinstance(notification, types.ProgressNotification):
            await self._on_message(notification)
        else:  # on the request's own stream: handed over if it asked for progress
            self.progressed(message)

    async def _asked(self, message: dict[str, Any]) -> None:
        """A question from the server mid-call (before 2026-07-28): the back channel's answer is POSTed."""
        method, params = message["method"], message.get("params") or {}
        answer: dict[str, Any] | types.ErrorData
        if method == "ping":
            answer = {}
        elif method in ("sampling/createMessage", "elicitation/create"):
            answer = await self._back.ask(method, params)
        elif method == "roots/list":  # the bridge declares no roots: the SDK's default answer
            answer = types.ErrorData(code=INVALID_REQUEST, message="List roots not supported")
        else:
            answer = types.ErrorData(code=METHOD_NOT_FOUND, message="Method not found")
        if isinstance(answer, types.ErrorData):
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": answer.model_dump(mode="json", exclude_none=True)}
        else:
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer}
        await self._post(reply)

    def _side_post(self, message: dict[str, Any]) -> None:
        """POST ``message`` in a task of its own (the request that needs it is being cancelled)."""
        task = asyncio.get_running_loop().create_task(self._post(message))
        self._side_posts.add(task)
        task.add_done_callback(self._side_posts.discard)

    async def _post(self, message: dict[str, Any]) -> None:
        """POST a notification or an answer; the server's 202 (or anything else) is read and dropped."""
        body = orjson.dumps(message)
        wire = self._head({}, len(body)) + body
        try:
            conn = await self._transport.exchange(self._key, wire, SIDE_POST_TIMEOUT, SIDE_POST_TIMEOUT)
            stream = PooledBody(self._transport, self._key, conn, SIDE_POST_TIMEOUT)
            try:
                await _read(stream)
            finally:
                stream.end()
        except (httpx2.TransportError, OSError) as exc:
            log.debug("upstream did not take a message: %s", exc)


async def _read(stream: PooledBody) -> bytes:
    chunks = []
    while chunk := await stream.receive():
        chunks.append(chunk)
    return b"".join(chunks)


def _outcome(message: Any) -> dict[str, Any]:
    """The ``result`` of a JSON-RPC answer, or its error raised."""
    if isinstance(message, dict):
        result = message.get("result")
        if isinstance(result, dict):
            return result
        error = message.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            raise error_of(error)
    raise MCPError(PARSE_ERROR, "Failed to parse JSON response: not a JSON-RPC answer")


async def _status_error(status: int, content_type: str, stream: PooledBody, in_session: bool) -> MCPError:
    """The error the SDK's transport makes of an HTTP error status (``_handle_post_request``)."""
    if content_type.startswith("application/json"):
        try:
            answer = orjson.loads(await _read(stream))
        except (orjson.JSONDecodeError, httpx2.TransportError):
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            return error_of(error)
    if status == 404:
        if in_session:
            return MCPError(INVALID_REQUEST, "Session terminated")
        return MCPError(METHOD_NOT_FOUND, "Not Found")
    return MCPError(INTERNAL_ERROR, "Server returned an error response")
