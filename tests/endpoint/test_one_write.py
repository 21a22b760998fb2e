"""A response's head and body go out in one write (``protocol._HeadHeld``), seen from a real socket.

A real uvicorn server on a loopback port runs a small ASGI app through ``GuardedHttpProtocol``;
the client counts the TCP segments that carried data to it (Linux ``TCP_INFO``,
``tcpi_data_segs_in``): uvicorn alone writes a head and its body as two segments. A head whose
body comes later (a stream) must not wait for it, and a large body must arrive whole.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from bridge.endpoint.protocol import GuardedHttpProtocol
from harness import free_port

#: Offset of ``tcpi_data_segs_in`` in Linux's ``struct tcp_info`` (since 4.6).
_DATA_SEGS_IN = 152
BIG = 300 * 1024


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = b"x" * BIG if path == "/big" else b'{"ok":true}'
    headers = [(b"content-type", b"application/json")]
    if path == "/stream":  # the head now, the body half a second later
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})
        return
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    chosen = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=chosen, http=GuardedHttpProtocol, lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield chosen
    server.should_exit = True
    thread.join(10)


def _get(sock: socket.socket, path: str, *extra: str) -> None:
    sock.sendall(("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra]) + "\r\n\r\n").encode())


def _until(sock: socket.socket, received: bytes, done: Any) -> bytes:
    while not done(received):
        chunk = sock.recv(65536)
        assert chunk, f"closed early after {received[:200]!r}"
        received += chunk
    return received


def _data_segments(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    segments: int = struct.unpack_from("I", info, _DATA_SEGS_IN)[0]
    return segments


def test_head_and_body_come_in_one_segment(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for n in range(1, 4):  # each answer on a keep-alive connection: one segment more
            _get(sock, "/json")
            answer = _until(sock, b"", lambda r: r.endswith(b'{"ok":true}'))
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"content-length: 11\r\n" in answer
            assert _data_segments(sock) == n


def test_a_head_whose_body_comes_later_is_not_held_for_it(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        _get(sock, "/stream")
        started = time.monotonic()
        head = _until(sock, b"", lambda r: b"\r\n\r\n" in r)
        assert time.monotonic() - started < 0.4  # the body comes 0.5 s after the head
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked\r\n" in head
        rest = _until(sock, head, lambda r: r.endswith(b"0\r\n\r\n"))
        assert rest.endswith(b"4\r\nlate\r\n0\r\n\r\n")


def test_a_large_body_arrives_whole_after_its_head(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        _get(sock, "/big", "Connection: close")
        received = _until(sock, b"", lambda r: b"\r\n\r\n" in r)
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"\r\ncontent-length: %d\r\n" % BIG in head + b"\r\n"
    assert b"\r\nconnection: close\r\n" in head + b"\r\n"
    assert body == b"x" * BIG
