"""A lean HTTP/1.1 transport under the SDK's Streamable HTTP client, for plain-HTTP upstreams.

The SDK talks Streamable HTTP through an ``httpx2.AsyncClient``, whose default transport is
httpcore2 over h11 and anyio. Measured on the echo tool, that stack was half of the client's
CPU per call, more than the rest of the SDK together. This transport keeps httpx2 (and with it
the SDK's handling of sessions, SSE, redirects, auth and proxies) and replaces only the bytes
on the wire: a request is written in one piece on a pooled keep-alive connection, and the
response is parsed by httptools (llhttp, the parser uvicorn uses) in the connection's data
callback (``bridge.upstream.wire``), its body handed to httpx2 as it arrives, so event streams
flow as before.

Plain ``http://`` requests with a known body length take this path; anything else (``https``,
a streamed request body) goes to httpx2's own transport, and proxied URLs never reach here
(httpx2 routes them to its proxy transports first). Timeouts come from the request, as with
httpx2; failures are httpx2's own exceptions, so the SDK and the bridge see what they always did.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from bridge.upstream.wire import HttpConnection, header, request_head

__all__ = ["LeanTransport", "PooledBody"]

#: Idle keep-alive connections kept per upstream host and port.
MAX_IDLE = 64
#: How long the rest of a response no longer wanted may take to arrive before its connection is dropped.
DRAIN_TIMEOUT = 2.0


class PooledBody(httpx2.AsyncByteStream):
    """A response body as it arrives; the connection goes back to the pool once it is all read.

    Failures are httpx2's: ``ReadTimeout``, ``RemoteProtocolError`` for a connection lost mid-body."""

    def __init__(self, owner: LeanTransport, key: tuple[str, int], conn: HttpConnection, timeout: float | None) -> None:
        self._owner = owner
        self._key = key
        self._conn: HttpConnection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self.receive():
                yield chunk
        except BaseException:  # the reader gave up on the body (or it failed): its connection cannot be reused
            self._finish(keep=False)
            raise

    async def receive(self) -> bytes:
        """What has arrived of the body since the last call (at least a byte); b"" once it has all
        been read, its connection then back in the pool. A reader without an async generator to
        leave behind (``__aiter__``'s is closed by the loop when dropped unfinished)."""
        conn = self._conn
        if conn is None:
            return b""
        try:
            while not conn.chunks:
                if conn.complete:
                    self._finish(keep=True)
                    return b""
                if conn.lost:
                    raise _failure(conn, "the upstream closed the connection mid-response", httpx2.RemoteProtocolError)
                await conn.wait(self._timeout)
        except TimeoutError:
            raise httpx2.ReadTimeout("the upstream sent nothing within the read timeout") from None
        except BaseException:
            self._finish(keep=False)
            raise
        return conn.take_all()

    async def aclose(self) -> None:
        self._finish(keep=False)

    def end(self) -> None:
        """Done with the body, read or not, and what is left of it is not wanted: the connection
        goes back to the pool once the response has all arrived (``LeanTransport.drain``)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._owner.drain(self._key, conn)

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
        self._idle: dict[tuple[str, int], list[HttpConnection]] = {}
        #: The Streamable HTTP session the upstream assigned, if any (``bridge.upstream.lean_http``).
        self.session_id: str | None = None
        #: Connections dropping the rest of a response before they are pooled again (``drain``).
        self._draining: set[HttpConnection] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if not _lean(request):
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        body = await request.aread()
        try:
            message = request_head(request.method.encode("ascii"), url.raw_path, request.headers.raw) + body
        except ValueError as exc:
            raise httpx2.LocalProtocolError(str(exc)) from None
        key = (url.host, url.port or 80)
        conn = await self.exchange(key, message, timeouts.get("connect"), read_timeout)
        if self.session_id is None:  # assigned once, by the initialize answer
            self._note_session(conn.headers)
        return httpx2.Response(
            conn.status,
            headers=conn.headers,
            stream=PooledBody(self, key, conn, read_timeout),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def exchange(
        self,
        key: tuple[str, int],
        message: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
        *,
        body: bool = False,
    ) -> HttpConnection:
        """Send ``message`` (a whole request) to ``key`` on a pooled connection; it returns once the
        response's head has arrived (with ``body``, and the first of its body, or its end), its body
        still to read (then ``release`` it, or close it). An event stream's head comes well before
        its first event: a caller that reads the body anyway is woken once, not twice."""
        # An idle connection the upstream has closed is seen (and skipped) here: its FIN arrives
        # at once. One it closes at the very moment it is reused fails this request, as with
        # httpcore; a request is never sent twice, since a tool call must not run twice.
        conn = self._take_idle(key) or await self._connect(key, connect_timeout)
        try:
            await self._send(conn, message, read_timeout, body)
        except BaseException:
            conn.close()
            raise
        return conn

    def _note_session(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Keep the ``Mcp-Session-Id`` an answer assigns (the initialize answer's), for lean requests."""
        self.session_id = header(headers, b"mcp-session-id") or None

    async def _send(self, conn: HttpConnection, message: bytes, timeout: float | None, body: bool) -> None:
        assert conn.transport is not None
        conn.begin()
        conn.transport.write(message)
        try:
            # A connection lost after the head is the body's reader's to report.
            while not conn.head_done or (body and not (conn.chunks or conn.complete or conn.lost)):
                if conn.lost:
                    raise _failure(conn, "the upstream closed the connection without answering", httpx2.ReadError)
                await conn.wait(timeout, body=body)
        except TimeoutError:
            raise httpx2.ReadTimeout("the upstream did not answer within the read timeout") from None

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> HttpConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(HttpConnection, *key)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {timeout} s") from None
        except OSError as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn

    def _take_idle(self, key: tuple[str, int]) -> HttpConnection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.lost:
                return conn
        return None

    def drain(self, key: tuple[str, int], conn: HttpConnection) -> None:
        """Let the rest of a response arrive, unread, then pool its connection; closed instead if
        the rest takes longer than ``DRAIN_TIMEOUT`` (``PooledBody.end``). An event stream's end
        usually comes with its answer or just after it: the connection itself drops what still
        comes (``HttpConnection.discard_rest``), no task waits for it."""
        if conn.complete or conn.lost:
            _discard(conn)
            self._pool(key, conn)
            return
        self._draining.add(conn)
        conn.discard_rest(functools.partial(self._drained, key, conn), DRAIN_TIMEOUT)

    def _drained(self, key: tuple[str, int], conn: HttpConnection) -> None:
        self._draining.discard(conn)
        self._pool(key, conn)

    def _pool(self, key: tuple[str, int], conn: HttpConnection) -> None:
        if conn.reusable():
            self.release(key, conn)
        else:
            conn.close()

    def release(self, key: tuple[str, int], conn: HttpConnection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for conn in list(self._draining):
            conn.close()
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()


def _lean(request: httpx2.Request) -> bool:
    """Plain HTTP with a body of known length (or none); HEAD's bodiless answers are left to httpx2."""
    return request.url.scheme == "http" and request.method != "HEAD" and "transfer-encoding" not in request.headers


def _discard(conn: HttpConnection) -> None:
    while conn.chunks:
        conn.take()


def _failure(conn: HttpConnection, message: str, kind: type[httpx2.TransportError]) -> httpx2.TransportError:
    if conn.error is not None:
        return kind(f"{message}: {conn.error}")
    return kind(message)
