"""uvicorn's HTTP/1.1 protocol (httptools) with bounds on a request's head, and its refusals as problems.

As shipped, uvicorn's httptools protocol waits for a request's headers as long as the client
cares to send them (its keep-alive timer runs only between requests, and not at all on a fresh
connection), takes any number of headers of any size, and answers a malformed request with a
``text/plain`` 400. Here:

- the request line and headers must arrive within ``HEAD_TIMEOUT`` seconds of the connection
  or of the request's first byte, else 408 and the connection is closed (slowloris);
- they may hold at most ``MAX_HEAD_BYTES`` bytes and ``MAX_HEADERS`` fields, else 431 (counted
  as the parser reports them, and in raw bytes while a head is still arriving);
- a request the parser refuses (bad framing, ``Content-Length`` with ``Transfer-Encoding``,
  control characters in a header) gets 400; each of these is problem+json, then closed. A
  protocol made ``naming_requests()`` (the bridge's telemetry is on) gives each such answer an
  ``X-Request-Id``, the caller's when it came safe in the refused head, else a new one, and
  names it in the problem's ``requestId`` as every other problem the bridge writes does.

What the application sees is unchanged; the checks cost a counter per header and a timer per
request head.

A protocol made ``answering(quick)`` first offers each keep-alive HTTP/1.1 ``GET`` with nothing
in flight before it on its connection to ``quick`` (``CallResources.quick_answer``: a poll of an
asynchronous call). An answer is written at once, in one write, and no ASGI cycle is made for
the request; None leaves the request to the application as usual. Polls come by the thousand a
second, and the cycle (a task, its messages, two writes) was most of what one cost. Answers made
while one read's bytes are parsed are written together when the parsing ends: a client that
pipelines its polls pays one segment each way for all of them, not one each. What the parser
hands over per request is kept to what ``quick`` needs: the ASGI scope is built only for a
request that goes on to the application, and one idle timer per connection, not one per answer,
closes a connection left idle after quick answers.

Every response the application writes goes out with its head and (first) body in one write
(``_HeadHeld``): one system call and one segment, where uvicorn makes two.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from bridge.errors import BridgeError, HeadersTooLarge, RequestInvalid, RequestTimeout
from bridge.telemetry.context import REQUEST_ID_HEADER, request_id_of

if TYPE_CHECKING:
    from bridge.endpoint.lean_post import LeanPosts, Posted

__all__ = ["HEAD_TIMEOUT", "MAX_HEADERS", "MAX_HEAD_BYTES", "GuardedHttpProtocol", "QuickAnswer"]

#: Given a GET's target and headers, its whole answer, or None: its status, its header fields as
#: written (``name: value\r\n`` each, ``Content-Type`` and ``Content-Length`` among them when it
#: has a body; the server's own ``Server`` and ``Date`` go before them), and its body.
QuickAnswer = Callable[[bytes, list[tuple[bytes, bytes]]], tuple[int, bytes, bytes] | None]


class _Answered:
    """Stands in for the ASGI cycle of a request answered in the protocol: its response is complete,
    and what uvicorn does to a cycle when the connection ends (``connection_lost``, ``shutdown``)
    does nothing to it."""

    response_complete = True
    keep_alive = True
    disconnected = False
    message_event = asyncio.Event()  # set by connection_lost; nothing ever waits on it


log = logging.getLogger(__name__)

_ANSWERED: Any = _Answered()
#: The target of the requests offered to ``posts``.
_MCP_TARGET: Final = b"/mcp"
_REQUEST_ID: Final = REQUEST_ID_HEADER.encode()

#: Seconds for a request line and its headers: ample for any client on any link, short enough
#: that a client trickling bytes cannot hold a connection (nginx allows 60, Node.js 60).
HEAD_TIMEOUT: Final = 10.0
#: Bytes of request line and headers: nginx's default (4 buffers of 8 KiB) is enough for every
#: real client, bearer tokens included.
MAX_HEAD_BYTES: Final = 32 * 1024
#: Header fields in one request: real clients send a dozen or two.
MAX_HEADERS: Final = 100
#: How long, and how many more bytes, a connection answered before its request's body was read
#: reads on before it closes (``close_answered``).
LINGER_SECONDS: Final = 5.0
LINGER_BYTES: Final = 64 * 1024 * 1024
#: Bodies up to this size are joined to their head for one write (a copy); larger ones follow it.
_JOINED_BODY: Final = 64 * 1024


class _HeadHeld:
    """The transport as one response's ASGI cycle sees it: the first thing it writes (the head) is
    held until the next (the body), and both go out in one write: one system call, one segment,
    one read for the client.

    uvicorn writes a response's head and body as two writes: two system calls here, two segments,
    and for the client two reads, often two wake-ups of its loop. A head whose body has not come
    by the end of the loop's turn (a stream whose first event comes later) goes out then alone.
    """

    __slots__ = ("_first", "_held", "_loop", "_protocol", "_transport")

    def __init__(self, protocol: GuardedHttpProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._loop = protocol.loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        held = self._held
        if held is None:
            self._transport.write(data)
        elif len(data) <= _JOINED_BODY:
            self._held = None
            self._transport.write(held + data)
        else:  # a large body is not copied to join it
            self._held = None
            self._transport.write(held)
            self._transport.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._flush()
        self._protocol.close_answered()


class GuardedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a deadline and size limits on each request's head."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_parsed = 0
    _reading_head = True
    _in_head = False
    _refusal: BridgeError | None = None
    #: Offered each plain GET before the application (see ``answering``); empty: everything goes to it.
    quick: ClassVar[tuple[QuickAnswer, ...]] = ()
    #: The quick answers made while the bytes received are parsed, written together after (then emptied).
    _answers: list[bytes]
    #: The server's default headers (Server, Date) as written, and the list they were made from.
    _defaults = b""
    _defaults_of: list[tuple[bytes, bytes]] | None = None
    #: Loop time the connection last fell idle after quick answers, and the timer that closes it
    #: once it has been idle ``timeout_keep_alive`` seconds (see ``_idle_too_long``).
    _idle_since = 0.0
    _idle_timer: asyncio.TimerHandle | None = None
    #: Whether its refusals carry a request id, as the application's answers do (``naming_requests``).
    request_ids: ClassVar[bool] = False
    #: Offered each plain POST /mcp before the application (see ``posting``); empty: everything goes to it.
    posts: ClassVar[tuple[LeanPosts, ...]] = ()
    #: The POST being read for ``posts`` (its head admitted), until its body is whole.
    _posted: Posted | None = None
    #: Set once an answer went out before its request's body was read (``close_answered``): what
    #: still comes is read and dropped, LINGER_BYTES at most, until LINGER_SECONDS have passed.
    _lingering: asyncio.TimerHandle | None = None
    _lingered = 0

    @classmethod
    def answering(cls, quick: QuickAnswer) -> type[GuardedHttpProtocol]:
        """This protocol, offering each plain keep-alive GET to ``quick`` before the application."""
        return type("AnsweringHttpProtocol", (cls,), {"quick": (quick,)})

    @classmethod
    def posting(cls, posts: LeanPosts) -> type[GuardedHttpProtocol]:
        """This protocol, offering each plain keep-alive ``POST /mcp`` to ``posts`` (``bridge.endpoint.lean_post``)."""
        return type("PostingHttpProtocol", (cls,), {"posts": (posts,)})

    @classmethod
    def naming_requests(cls) -> type[GuardedHttpProtocol]:
        """This protocol, its refusals naming their request (``X-Request-Id``, the problem's ``requestId``)."""
        return type("NamingHttpProtocol", (cls,), {"request_ids": True})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._answers = []
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def close_answered(self) -> None:
        """Close the connection after an answer that says so (``Connection: close``).

        When the request's body is still coming (a 413 answered before it was read whole, say),
        closing at once would make the kernel reset the connection over the unread bytes, and
        a client still sending may then lose the answer before it reads it. So, as nginx's
        lingering close does, the answer is followed by a FIN alone, and what the client still
        sends is read and dropped until it stops, for LINGER_SECONDS and LINGER_BYTES at most.
        """
        cycle = self.cycle
        if cycle is None or not cycle.more_body:
            self.transport.close()
        else:
            self._linger()

    def _linger(self) -> None:
        """Send a FIN after what was written, then read and drop what still comes until it stops
        (LINGER_SECONDS, LINGER_BYTES at most), and close; at once where the transport cannot half-close."""
        transport = self.transport
        if transport.is_closing() or not transport.can_write_eof():
            transport.close()
            return
        self._lingering = self.loop.call_later(LINGER_SECONDS, transport.close)
        self.pipeline.clear()  # requests read after this one are not begun: nothing more is parsed
        transport.write_eof()
        self.flow.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self.transport.close()
            return
        if self._reading_head:
            self._head_bytes += len(data)
        try:
            super().data_received(data)
        finally:
            self._flush_answers()
        if self._lingering is not None:  # refused on the way (``_refuse``): nothing more is read
            return
        if self._in_head and self._head_timer is None and not self.transport.is_closing():
            # A head begun and not yet whole: it has HEAD_TIMEOUT from now. (A head that arrives
            # whole, as nearly all do, never needs a timer.)
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_too_slow)
        if self._reading_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(HeadersTooLarge(f"the request line and headers are over {MAX_HEAD_BYTES} bytes"))

    def handle_websocket_upgrade(self) -> None:
        self._flush_answers()  # the handshake's answer comes after those to the requests before it
        super().handle_websocket_upgrade()

    def _flush_answers(self) -> None:
        """Write the quick answers made since bytes came in, in one write: a client that pipelines
        its polls gets them back in one segment, as it sent them."""
        answers = self._answers
        if not answers:
            return
        self.transport.write(b"".join(answers))
        answers.clear()
        if self.cycle is _ANSWERED and not self.transport.is_closing():
            # The last request read was answered here, and nothing is in flight after it: the
            # connection waits for the next one as after any response, closed when idle too long.
            # One timer serves every answer: it reads when the connection fell idle when it fires.
            self._idle_since = self.loop.time()
            if self._idle_timer is None:
                self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_too_long)

    def _idle_too_long(self) -> None:
        """uvicorn's keep-alive timeout, for a connection whose last request was answered here."""
        self._idle_timer = None
        if self.cycle is not _ANSWERED or self._in_head or self.transport.is_closing():
            return  # a request in hand since: its own timers apply (the head's, uvicorn's keep-alive)
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self._idle_timer = self.loop.call_later(left, self._idle_too_long)
        else:
            self.timeout_keep_alive_handler()

    def on_message_begin(self) -> None:
        # uvicorn's scope waits for the head (``_scope``): a request answered here never needs one.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._in_head = True

    def _scope(self) -> None:
        """The request's ASGI scope, as uvicorn makes it when a message begins, with the head read so far."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    # The parser's callbacks run for every request (polls by the thousand a second): the counts
    # are kept inline, each limit checked where it grows.

    def on_url(self, url: bytes) -> None:
        self._head_parsed += len(url)
        if self._head_parsed > MAX_HEAD_BYTES:
            self._too_large()
        self.url += url  # as uvicorn's: the target may come in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        # The fields are counted here, their bytes once the head is whole (``_head_size``): one read
        # holds at most a few hundred KiB, so what the parser takes before then is bounded.
        headers = self.headers
        if len(headers) >= MAX_HEADERS:
            self._refusal = HeadersTooLarge(f"the request has over {MAX_HEADERS} header fields")
            raise ValueError("too many header fields")  # the parser stops; send_400_response answers
        # What uvicorn's does, without a second call per header: names in lower case, values
        # without the trailing blanks llhttp keeps (RFC 9110 §5.5). ``Expect`` is looked for only
        # where it matters: by the application's cycle (``_to_application``), and by the lean path,
        # which leaves a request that has one to it.
        headers.append((name.lower(), value.rstrip(b" \t")))

    def _head_size(self) -> int:
        """The bytes of the head just parsed: its target, and each field as ``name: value\r\n``."""
        headers = self.headers
        return self._head_parsed + sum(map(len, itertools.chain.from_iterable(headers))) + 4 * len(headers)

    def _too_large(self) -> None:
        """The parsed head is past the limit: the parser is stopped (one chunk may hold it all)."""
        self._refusal = HeadersTooLarge(f"the request line and headers are over {MAX_HEAD_BYTES} bytes")
        raise ValueError("request head too large")

    def on_headers_complete(self) -> None:
        if self._head_size() > MAX_HEAD_BYTES:
            self._too_large()
        self._reading_head = self._in_head = False
        if self._head_timer is not None:
            self._stop_head_timer()
        if (
            (self.quick or self.posts)
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and self.parser.get_http_version() == "1.1"
            and self.parser.should_keep_alive()
            and not self.parser.should_upgrade()
        ):
            method = self.parser.get_method()
            if method == b"GET" and self.quick:
                answer = self.quick[0](self.url, self.headers)
                if answer is not None:
                    self._write_answer(answer)
                    return
            elif method == b"POST" and self.posts and self.url == _MCP_TARGET:
                posted = self.posts[0].admit(self, self.headers)
                if posted is not None:  # its body is kept as it comes; it stands for the request's cycle
                    self._posted = self.cycle = posted  # type: ignore[assignment]
                    return
        self._to_application()

    def _to_application(self) -> None:
        """Hand the request whose head was just read to uvicorn: a cycle and the application's task."""
        for name, value in self.headers:
            if name == b"expect" and value.lower() == b"100-continue":
                self.expect_100_continue = True  # uvicorn's cycle answers 100 when the body is first read
        self._scope()
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:  # a new cycle (an upgrade makes none)
            self.cycle.transport = _HeadHeld(self)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        if self._posted is not None:
            self._posted.body += body  # within the Content-Length admit allowed
        else:
            super().on_body(body)

    def default_head(self) -> bytes:
        """The server's default header fields (``Server``, ``Date``) as written."""
        defaults = self.server_state.default_headers  # a new list each second (its Date changes)
        if defaults is not self._defaults_of:
            self._defaults_of = defaults
            self._defaults = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        return self._defaults

    def _write_answer(self, answer: tuple[int, bytes, bytes]) -> None:
        """A request's whole answer, queued to be written with the others this read brought."""
        status, fields, body = answer
        self.cycle = _ANSWERED
        self.server_state.total_requests += 1
        # Only ever called while data_received parses: written with the others, in one join, when it ends.
        self._answers += (STATUS_LINE[status], self.default_head(), fields, b"\r\n", body)

    def _taken(self, posted: Posted) -> bool:
        """Whether ``posts`` serves ``posted``. A failure of its own is logged and leaves the request
        to the application (raised here, the parser would answer it as malformed HTTP)."""
        try:
            return self.posts[0].take(self, posted)
        except Exception:
            log.exception("the lean path could not take a POST %s; the application answers it", _MCP_TARGET.decode())
            return False

    def on_message_complete(self) -> None:
        posted = self._posted
        if posted is not None:
            self._posted = None
            if not self._taken(posted):  # the application's after all: uvicorn gets it as it came, head then body
                self.cycle = None  # type: ignore[assignment]
                self._to_application()
                if not posted.keep_alive:  # the server began to stop meanwhile (``shutdown``)
                    self.cycle.keep_alive = False
                if posted.body:
                    super().on_body(bytes(posted.body))
                super().on_message_complete()
        elif self.cycle is not _ANSWERED:  # uvicorn's does nothing more to a complete response
            super().on_message_complete()
        self._reading_head = True  # bytes from here on are the next request's head
        self._head_bytes = self._head_parsed = 0

    def send_400_response(self, msg: str) -> None:
        self._refuse(self._refusal or RequestInvalid("the request is not valid HTTP/1.1"))

    def _start_head(self) -> None:
        self._reading_head = True
        self._head_bytes = self._head_parsed = 0
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(
                RequestTimeout(f"the request line and headers did not arrive within {HEAD_TIMEOUT:g} s"), linger=False
            )

    def _refuse(self, error: BridgeError, *, linger: bool = True) -> None:
        """``error`` as problem+json, then the connection closed: after a bad head nothing on it can be
        trusted. A client may still be sending the rest of it (a head over the limit, say): unless
        ``linger`` is False (a client too slow to wait for) or an answer to a request before it is
        still to be written, the close lingers as ``close_answered``'s."""
        self._stop_head_timer()
        self._flush_answers()  # answers to the requests before this one go first
        problem = error.to_problem()
        head = [STATUS_LINE[error.status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        if self.request_ids:
            request_id = request_id_of(self._given_request_id())
            problem["requestId"] = request_id.decode("latin-1")
            head.append(_REQUEST_ID + b": " + request_id + b"\r\n")
        body = orjson.dumps(problem)
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if linger and (self.cycle is None or self.cycle.response_complete):
            self._linger()
        else:
            self.transport.close()

    def _given_request_id(self) -> bytes | None:
        """The ``X-Request-Id`` of the request being refused (its head, or its body, being read), if
        it came before the refusal."""
        if (self._reading_head and not self._in_head) or not self.headers:  # none begun, or an earlier one's
            return None
        return next((value for name, value in self.headers if name == _REQUEST_ID), None)
