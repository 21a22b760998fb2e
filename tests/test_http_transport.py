"""The lean HTTP/1.1 transport under the SDK's Streamable HTTP client (``bridge/upstream/http.py``).

It is held to what httpx2's own transport gives the SDK, against a real HTTP peer on 127.0.0.1
whose bytes each test scripts: keep-alive reuse, a body streamed as it arrives, chunked and
gzip bodies, a server that closes (after a response, while idle, mid-response), timeouts, and
refused connections, each surfacing as httpx2's own exception.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

from bridge.upstream.http import DRAIN_TIMEOUT, LeanTransport, PooledBody
from bridge.upstream.wire import request_head
from harness import apoll, free_port


class _Peer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.client_ports: list[int] = []
        self.connections: list[socket.socket] = []  # the server side of each connection accepted
        self.hung_up: list[int] = []  # the client port of each connection the client closed
        self.release = threading.Event()  # lets /chunks send its second chunk, and /slow answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.StreamRequestHandler):
    server: _Peer

    def handle(self) -> None:
        self.server.connections.append(self.connection)
        try:
            self._serve()
        except ConnectionError:  # the client closed the connection while the peer was still sending
            self.server.hung_up.append(self.client_address[1])

    def _serve(self) -> None:
        while True:
            request = self.rfile.readline()
            if not request:
                self.server.hung_up.append(self.client_address[1])
                return
            headers: dict[str, str] = {}
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", "0")))
            self.server.client_ports.append(self.client_address[1])
            path = request.split()[1].decode()
            if not getattr(self, path.strip("/").replace("-", "_"))(body):
                return  # the handler closed the connection

    def _answer(self, body: bytes, *extra: str) -> None:
        head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def echo(self, body: bytes) -> bool:
        self._answer(body, "Content-Type: application/octet-stream")
        return True

    def chunks(self, body: bytes) -> bool:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n")
        self.wfile.write(b"16\r\ndata: one\n\n" + b" " * 11 + b"\r\n")
        self.wfile.flush()
        self.server.release.wait(10)
        self.wfile.write(b"b\r\ndata: two\n\n\r\n0\r\n\r\n")
        return True

    def close(self, body: bytes) -> bool:
        self._answer(b"bye", "Connection: close")
        return False

    def slow(self, body: bytes) -> bool:
        self.server.release.wait(10)  # answers only once the test is over (or far too late)
        self._answer(b"late")
        return True

    def cut(self, body: bytes) -> bool:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        return False

    def big(self, body: bytes) -> bool:
        self._answer(bytes(range(256)) * (5 * 4096))  # 5 MiB
        return True

    def gzipped(self, body: bytes) -> bool:
        self._answer(gzip.compress(b"squeezed " * 1000), "Content-Encoding: gzip")
        return True


@contextmanager
def peer() -> Iterator[_Peer]:
    server = _Peer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def run(test: Any) -> Any:
    async def main() -> Any:
        async with httpx2.AsyncClient(transport=LeanTransport(), timeout=httpx2.Timeout(5.0)) as client:
            return await test(client)

    return asyncio.run(main())


def test_requests_share_one_keep_alive_connection_and_bodies_round_trip() -> None:
    with peer() as server:

        async def test(client: httpx2.AsyncClient) -> list[bytes]:
            bodies = [b"first", b"x" * 300_000, b""]
            return [(await client.post(server.url + "/echo", content=body)).content for body in bodies]

        assert run(test) == [b"first", b"x" * 300_000, b""]
        assert len(set(server.client_ports)) == 1


def test_a_streamed_body_arrives_before_the_response_is_complete() -> None:
    with peer() as server:

        async def test(client: httpx2.AsyncClient) -> list[str]:
            lines: list[str] = []
            async with client.stream("GET", server.url + "/chunks") as response:
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line == "data: one":
                        server.release.set()  # only now does the peer send the rest
            return [line.strip() for line in lines if line.strip()]

        assert run(test) == ["data: one", "data: two"]


def test_connection_close_idle_close_and_large_and_gzip_bodies() -> None:
    with peer() as server:

        async def test(client: httpx2.AsyncClient) -> None:
            assert (await client.get(server.url + "/close")).content == b"bye"
            assert (await client.post(server.url + "/echo", content=b"again")).content == b"again"
            big = await client.get(server.url + "/big")
            assert big.content == bytes(range(256)) * (5 * 4096)
            assert (await client.get(server.url + "/gzipped")).text == "squeezed " * 1000

        run(test)
        assert len(set(server.client_ports)) == 2  # a new connection after "Connection: close", then reused


def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    with peer() as server:

        async def test(client: httpx2.AsyncClient) -> bytes:
            await client.post(server.url + "/echo", content=b"one")
            # What a keep-alive timeout does: the peer's FIN. Its read side stays open, to see the
            # client close the connection too: the sign that the client has noticed.
            server.connections[0].shutdown(socket.SHUT_WR)
            await apoll(lambda: server.hung_up, timeout=10, what="the client closing the idle connection")
            return (await client.post(server.url + "/echo", content=b"two")).content

        assert run(test) == b"two"
        assert len(set(server.client_ports)) == 2


def test_failures_are_httpx2_exceptions() -> None:
    with peer() as server:

        async def test(client: httpx2.AsyncClient) -> None:
            with pytest.raises(httpx2.ReadTimeout):
                await client.get(server.url + "/slow", timeout=httpx2.Timeout(5.0, read=0.3))
            with pytest.raises(httpx2.RemoteProtocolError):
                await client.get(server.url + "/cut")
            with pytest.raises(httpx2.ConnectError):
                await client.get(f"http://127.0.0.1:{free_port()}/echo")
            assert (await client.post(server.url + "/echo", content=b"still fine")).content == b"still fine"

        run(test)


def test_a_body_ended_before_its_end_is_drained_and_its_connection_reused() -> None:
    """What the lean HTTP channel does once an event stream has brought its answer (``PooledBody.end``)."""
    with peer() as server:

        async def test() -> bytes:
            transport = LeanTransport()
            key = ("127.0.0.1", server.server_address[1])
            try:
                conn = await transport.exchange(key, request_head(b"GET", b"/chunks", [(b"host", b"x")]), 5, 5)
                body = PooledBody(transport, key, conn, 5)
                async for chunk in body:
                    assert chunk.startswith(b"data: one")
                    break
                body.end()  # the rest, still to come, is not wanted
                server.release.set()
                await apoll(lambda: transport._idle.get(key), timeout=10, what="the drained connection pooled")
                echo = request_head(b"POST", b"/echo", [(b"host", b"x"), (b"content-length", b"5")]) + b"again"
                again = await transport.exchange(key, echo, 5, 5)
                rest = PooledBody(transport, key, again, 5)
                return b"".join([chunk async for chunk in rest])
            finally:
                await transport.aclose()

        assert asyncio.run(test()) == b"again"
        assert len(set(server.client_ports)) == 1


def test_a_request_that_wants_the_body_returns_once_it_has_begun() -> None:
    """The lean channel's POSTs (``exchange(body=True)``): an event stream's head alone is not an answer."""
    with peer() as server:

        async def test() -> bytes:
            transport = LeanTransport()
            key = ("127.0.0.1", server.server_address[1])
            try:
                conn = await transport.exchange(
                    key, request_head(b"GET", b"/chunks", [(b"host", b"x")]), 5, 5, body=True
                )
                first = PooledBody(transport, key, conn, 5)
                begun = await first.receive()
                first.end()
                return begun
            finally:
                await transport.aclose()

        assert asyncio.run(test()).startswith(b"data: one")


def test_a_body_ended_once_complete_puts_its_connection_back_at_once() -> None:
    with peer() as server:

        async def test() -> None:
            transport = LeanTransport()
            key = ("127.0.0.1", server.server_address[1])
            try:
                echo = request_head(b"POST", b"/echo", [(b"host", b"x"), (b"content-length", b"2")]) + b"hi"
                conn = await transport.exchange(key, echo, 5, 5, body=True)
                assert conn.complete
                PooledBody(transport, key, conn, 5).end()
                assert transport._idle[key] == [conn]
            finally:
                await transport.aclose()

        asyncio.run(test())


def test_a_body_ended_whose_rest_never_comes_is_closed_after_the_drain_timeout() -> None:
    """A stream kept open after its answer: its connection is not pooled, and not kept either."""
    with peer() as server:

        async def test() -> None:
            transport = LeanTransport()
            key = ("127.0.0.1", server.server_address[1])
            try:
                conn = await transport.exchange(
                    key, request_head(b"GET", b"/chunks", [(b"host", b"x")]), 5, 5, body=True
                )
                PooledBody(transport, key, conn, 5).end()
                started = asyncio.get_running_loop().time()
                await apoll(lambda: conn.lost, timeout=DRAIN_TIMEOUT + 10, what="the draining connection closed")
                assert asyncio.get_running_loop().time() - started >= DRAIN_TIMEOUT - 0.1
                server.release.set()  # the rest, far too late: the peer finds the connection closed
                await apoll(lambda: server.hung_up, timeout=10, what="the peer seeing the connection closed")
                assert not transport._idle.get(key)
            finally:
                await transport.aclose()

        asyncio.run(test())


def test_closing_the_transport_closes_the_connections_still_draining() -> None:
    with peer() as server:

        async def test() -> None:
            transport = LeanTransport()
            key = ("127.0.0.1", server.server_address[1])
            conn = await transport.exchange(key, request_head(b"GET", b"/chunks", [(b"host", b"x")]), 5, 5, body=True)
            PooledBody(transport, key, conn, 5).end()
            await transport.aclose()
            assert conn.lost
            server.release.set()
            await apoll(lambda: server.hung_up, timeout=10, what="the peer seeing the connection closed")

        asyncio.run(test())
