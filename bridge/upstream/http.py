"""A lean HTTP/1.1 transport under the SDK's Streamable HTTP client, for plain-HTTP upstreams.

The SDK talks Streamable HTTP through an ``httpx2.AsyncClient``, whose default transport is
httpcore2 over h11 and anyio. Measured on the echo tool, that stack was half of the client's
CPU per call, more than the rest of the SDK together. This transport keeps httpx2 (and with it
the SDK's handling of sessions, SSE, redirects, auth and proxies) and replaces only the bytes
on the wire: a request is written in one piece on a pooled keep-alive connection, and the
response is parsed by httptools (llhttp, the parser uvicorn uses) in the connection's data
callback, its body handed to httpx2 as it arrives, so event streams flow as before.

Plain ``http://`` requests with a known body length take this path; anything else (``https``,
a streamed request body) goes to httpx2's own transport, and proxied URLs never reach here
(httpx2 routes them to its proxy transports first). Timeouts come from the request, as with
httpx2; failures are httpx2's own exceptions, so the SDK and the bridge see what they always did.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx2

__all__ = ["LeanTransport"]

#: Idle keep-alive connections kept per upstream host and port.
MAX_IDLE = 64
#: Response bytes buffered unread before the connection stops reading from the socket.
READ_HIGH = 1 << 20


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, parsing each response as its bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.error: Exception | None = None
        self.lost = False
        self._waiter: asyncio.Future[None] | None = None
        self.begin()

    def begin(self) -> None:
        """Ready for the next response on this connection."""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
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
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the connection; a response still being read ends with it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = self.error or exc
        self._wake()

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if not self.paused and self.buffered > READ_HIGH and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp answers this only inside the callback

    # -- for the transport ---------------------------------------------------------------------

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= READ_HIGH // 4 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk

    async def wait(self, timeout: float | None) -> None:
        """Until more of the response has arrived, or the connection is gone."""
        if self.lost:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        finally:
            self._waiter = None

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


class _Body(httpx2.AsyncByteStream):
    """A response body as it arrives; the connection goes back to the pool once it is all read."""

    def __init__(self, owner: LeanTransport, key: tuple[str, int], conn: _Connection, timeout: float | None) -> None:
        self._owner = owner
        self._key = key
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                while conn.chunks:
                    yield conn.take()
                if conn.complete:
                    break
                if conn.lost:
                    raise _failure(conn, "the upstream closed the connection mid-response", httpx2.RemoteProtocolError)
                await conn.wait(self._timeout)
        except TimeoutError:
            raise httpx2.ReadTimeout("the upstream sent nothing within the read timeout") from None
        except BaseException:
            self._finish(keep=False)
            raise
        self._finish(keep=True)

    async def aclose(self) -> None:
        self._finish(keep=False)

    def _finish(self, *, keep: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if keep and conn.reusable():
            self._owner.release(self._key, conn)
        else:
            conn.close()


class LeanTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport API over pooled httptools connections; ``fallback`` for everything else."""

    def __init__(self, fallback: httpx2.AsyncBaseTransport | None = None) -> None:
        self._fallback = fallback if fallback is not None else httpx2.AsyncHTTPTransport()
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if not _lean(request):
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        body = await request.aread()
        head = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        message = b"".join(head) + body
        key = (url.host, url.port or 80)
        # An idle connection the upstream has closed is seen (and skipped) here: its FIN arrives
        # at once. One it closes at the very moment it is reused fails this request, as with
        # httpcore; a request is never sent twice, since a tool call must not run twice.
        conn = self._take_idle(key) or await self._connect(key, timeouts.get("connect"))
        try:
            await self._send(conn, message, read_timeout)
        except BaseException:
            conn.close()
            raise
        return httpx2.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(self, key, conn, read_timeout),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _send(self, conn: _Connection, message: bytes, timeout: float | None) -> None:
        assert conn.transport is not None
        conn.begin()
        conn.transport.write(message)
        try:
            while not conn.head_done:
                if conn.lost:
                    raise _failure(conn, "the upstream closed the connection without answering", httpx2.ReadError)
                await conn.wait(timeout)
        except TimeoutError:
            raise httpx2.ReadTimeout("the upstream did not answer within the read timeout") from None

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Connection, *key)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {timeout} s") from None
        except OSError as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.lost:
                return conn
        return None

    def release(self, key: tuple[str, int], conn: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()


def _lean(request: httpx2.Request) -> bool:
    """Plain HTTP with a body of known length (or none); HEAD's bodiless answers are left to httpx2."""
    return request.url.scheme == "http" and request.method != "HEAD" and "transfer-encoding" not in request.headers


def _failure(conn: _Connection, message: str, kind: type[httpx2.TransportError]) -> httpx2.TransportError:
    if conn.error is not None:
        return kind(f"{message}: {conn.error}")
    return kind(message)
