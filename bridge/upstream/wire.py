"""HTTP/1.1 client connections on asyncio, each response parsed by httptools as its bytes arrive.

httptools is llhttp, the C parser uvicorn uses; pure-Python HTTP stacks (h11 and what sits on
it) cost more per request than everything else a small exchange does. Two clients share this:
the upstream transport under the SDK's Streamable HTTP client (``bridge.upstream.http``), which
hands the body on as it arrives (reading pauses while too much is buffered), and the webhook
client, which reads at most a cap of an answer's body and then drops the connection.

A connection serves one request at a time; ``begin()`` readies it for the next response,
``wait()`` returns when more of it has arrived or the connection is gone, and ``reusable()``
says whether it may go back to a keep-alive pool. A response whose rest is not wanted (an event
stream whose answer has been read) is dropped by the connection itself as it arrives
(``discard_rest``), which then hands the connection back: no task waits for it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterable

import httptools

__all__ = ["HttpConnection", "header", "header_fields", "request_head", "request_line"]

#: Response bytes buffered unread before the connection stops reading from the socket.
READ_HIGH = 1 << 20


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; ``body_limit`` bytes of a body kept at most (then it closes)."""

    def __init__(self, body_limit: int | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body_limit = body_limit
        self.error: BaseException | None = None
        self.lost = False
        self._waiter: asyncio.Future[None] | None = None
        #: The waiter wants body bytes (or the end): a response's head alone does not wake it.
        self._want_body = False
        #: While the rest of a response is dropped: called once it has all come, or the connection is gone.
        self._then: Callable[[], None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self.begin()

    def begin(self) -> None:
        """Ready for the next response on this connection."""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        #: The body was longer than ``body_limit``: what is in ``chunks`` is its start.
        self.truncated = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = exc
            self.close()
        if not self._want_body or self.chunks or self.complete or self.lost:
            self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the connection; a response still being read ends with it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = self.error or exc
        self._wake()
        if self._then is not None:
            self._settle()

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))  # looked up by lowercase name (``header``)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        if self.truncated or self._then is not None:
            return
        limit = self.body_limit
        if limit is not None and self.buffered + len(body) > limit:
            body = body[: limit - self.buffered]
            self.truncated = True
            self.close()  # read no more of it; the connection cannot serve another request
        self.chunks.append(body)
        self.buffered += len(body)
        if not self.paused and self.buffered > READ_HIGH and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp answers this only inside the callback
        if self._then is not None:
            self._settle()

    # -- for the client ------------------------------------------------------------------------

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        self._resume()
        return chunk

    def take_all(self) -> bytes:
        """All of the body that has arrived unread, in one piece."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        self._resume()
        return data

    def discard_rest(self, then: Callable[[], None], timeout: float) -> None:
        """Drop what is left of this response (still arriving: not complete, not lost) as it comes,
        and call ``then()`` once it has all come, or the connection is gone; the connection closes
        if the response has not ended within ``timeout`` seconds (a stream kept open)."""
        self.chunks.clear()
        self.buffered = 0
        self._resume()
        self._then = then
        self._expiry = asyncio.get_running_loop().call_later(timeout, self.close)

    def _settle(self) -> None:
        then, self._then = self._then, None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if then is not None:
            then()

    def _resume(self) -> None:
        if self.paused and self.buffered <= READ_HIGH // 4 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    async def wait(self, timeout: float | None = None, *, body: bool = False) -> None:
        """Until more of the response has arrived (with ``body``, more of its body or its end: a
        head alone is not worth a wakeup), or the connection is gone (``timeout``: TimeoutError)."""
        if self.lost:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._want_body = body
        # The deadline fails the waiter itself: no task cancelled and taken back (asyncio.timeout's
        # way, a dozen steps dearer; this wait happens once or twice a request).
        expiry = None if timeout is None else loop.call_later(timeout, _expired, waiter)
        try:
            await waiter
        finally:
            if expiry is not None:
                expiry.cancel()
            self._waiter = None
            self._want_body = False

    def expire(self, error: BaseException) -> None:
        """Give up on this connection with ``error`` (a deadline passed): it closes, waiters wake."""
        self.error = self.error or error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.lost and not self.chunks

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.lost = True


def _expired(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The value of response header ``name`` (lowercase, as ``HttpConnection`` keeps names), or "" if absent."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def request_head(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A request's head, ready to be followed by its body. Callers give names and values that are
    already valid HTTP (no CR, LF or NUL): this is checked, not repaired."""
    return request_line(method, target) + header_fields(headers) + b"\r\n"


def request_line(method: bytes, target: bytes) -> bytes:
    """A request's first line (checked as ``request_head`` checks it)."""
    return _checked(b"%s %s HTTP/1.1\r\n" % (method, target))


def header_fields(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Header fields as a head holds them, each ``name: value`` and CRLF (checked as ``request_head`` checks them)."""
    head: list[bytes] = []
    for name, value in headers:
        head += (name, b": ", value, b"\r\n")
    return _checked(b"".join(head))


def _checked(lines: bytes) -> bytes:
    crlf = lines.count(b"\r\n")
    if b"\0" in lines or lines.count(b"\n") != crlf or lines.count(b"\r") != crlf:
        raise ValueError("a request head must not hold a bare CR, LF or NUL")
    return lines
