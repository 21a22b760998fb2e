"""Requests answered inside the HTTP protocol (``GuardedHttpProtocol.answering``), over real sockets.

A real uvicorn server on a loopback port runs a small ASGI app with the protocol answering
``GET /quick...`` itself; the tests send raw HTTP/1.1 and read what comes back, so ordering on a
connection (keep-alive, pipelining) is seen as a client sees it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from bridge.endpoint import protocol
from bridge.endpoint.protocol import GuardedHttpProtocol
from harness import free_port

Answer = tuple[int, bytes, bytes]

#: Seconds the test server keeps an idle connection (uvicorn's default is 5).
KEEP_ALIVE = 1


class Quick:
    """Answers ``GET /quick/<text>`` with the text; counts what it was offered."""

    def __init__(self) -> None:
        self.offered: list[bytes] = []

    def __call__(self, url: bytes, headers: list[tuple[bytes, bytes]]) -> Answer | None:
        self.offered.append(url)
        if not url.startswith(b"/quick/"):
            return None
        if (b"if-none-match", b'"1"') in headers:
            return 304, b'etag: "1"\r\n', b""
        body = b'{"said":"%s"}' % url[len(b"/quick/") :]
        return 200, b'content-type: application/json\r\ncontent-length: %d\r\netag: "1"\r\n' % len(body), body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The application: ``/slow`` answers after 0.3 s, anything else at once, naming the path."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.3)
    body = b'{"app":"%s"}' % scope["path"].encode()
    if scope["path"] == "/echo":  # the body read, and the headers as the application saw them
        received = await receive()
        seen = b",".join(b"%s=%s" % pair for pair in scope["headers"] if pair[0].startswith(b"x-"))
        body = b'{"body":"%s","headers":"%s"}' % (received["body"], seen)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, Quick]]:
    quick = Quick()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=GuardedHttpProtocol.answering(quick),
        lifespan="off",
        log_level="error",
        timeout_keep_alive=KEEP_ALIVE,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield port, quick
    server.should_exit = True
    thread.join(10)


def _exchange(port: int, raw: bytes, answers: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``raw`` on one connection; read ``answers`` responses (Content-Length delimited, or 304)."""
    return _turns(port, [(raw, answers)])


def _turns(port: int, turns: list[tuple[bytes, int]]) -> list[tuple[int, dict[str, str], bytes]]:
    """On one connection, each turn's bytes sent once the answers to the turn before are read."""
    found: list[tuple[int, dict[str, str], bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for raw, answers in turns:
            sock.sendall(raw)
            found += _read(sock, answers)
    return found


def _read(sock: socket.socket, answers: int, buffer: bytes = b"") -> list[tuple[int, dict[str, str], bytes]]:
    """``answers`` responses read off ``sock`` (Content-Length delimited, or a 304 without a body),
    after those already in ``buffer``."""
    found: list[tuple[int, dict[str, str], bytes]] = []
    while len(found) < answers:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(found)} answers"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            buffer += sock.recv(65536)
        found.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return found


def _read_from(received: bytes, answers: int) -> list[tuple[int, dict[str, str], bytes]]:
    """``answers`` responses, all in ``received``."""
    sock, other = socket.socketpair()
    with sock, other:
        return _read(sock, answers, received)


def _get(path: str, *extra: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra]) + "\r\n\r\n").encode()


def test_a_quick_answer_is_a_whole_response_and_the_connection_serves_on(served: tuple[int, Quick]) -> None:
    port, _ = served
    answers = _turns(port, [(_get("/quick/one"), 1), (_get("/other"), 1), (_get("/quick/two"), 1)])
    assert [(status, body) for status, _, body in answers] == [
        (200, b'{"said":"one"}'),
        (200, b'{"app":"/other"}'),
        (200, b'{"said":"two"}'),
    ]
    headers = answers[0][1]
    assert headers["content-type"] == "application/json"
    assert headers["etag"] == '"1"'
    assert headers["server"] == "uvicorn"  # the server's default headers, as on every answer
    assert "date" in headers


def test_a_304_has_no_body(served: tuple[int, Quick]) -> None:
    port, _ = served
    answers = _exchange(port, _get("/quick/one", 'If-None-Match: "1"') + _get("/quick/two"), 2)
    status, headers, body = answers[0]
    assert (status, body) == (304, b"")
    assert "content-length" not in headers
    assert (answers[1][0], answers[1][2]) == (200, b'{"said":"two"}')


def test_pipelined_gets_are_answered_in_order(served: tuple[int, Quick]) -> None:
    port, quick = served
    quick.offered.clear()
    answers = _exchange(port, _get("/quick/one") + _get("/slow") + _get("/quick/after"), 3)
    assert [body for _, _, body in answers] == [b'{"said":"one"}', b'{"app":"/slow"}', b'{"app":"/quick/after"}']
    assert b"/quick/after" not in quick.offered  # queued behind /slow: the application answered it


def test_polls_sent_together_come_back_together_in_order(served: tuple[int, Quick]) -> None:
    port, _ = served
    names = [f"p{i}" for i in range(20)]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"".join(_get(f"/quick/{name}") for name in names))
        first = sock.recv(65536)  # the answers were written at once: one read has them all
        assert first.count(b"HTTP/1.1 200") == len(names)
        assert [body for _, _, body in _read_from(first, len(names))] == [
            b'{"said":"%s"}' % name.encode() for name in names
        ]


def test_polls_around_an_application_request_keep_their_order(served: tuple[int, Quick]) -> None:
    port, _ = served
    raw = _get("/quick/a") + _get("/quick/b") + _get("/slow") + _get("/quick/c") + _get("/quick/d")
    bodies = [body for _, _, body in _exchange(port, raw, 5)]
    assert bodies == [
        b'{"said":"a"}',
        b'{"said":"b"}',
        b'{"app":"/slow"}',
        b'{"app":"/quick/c"}',  # queued behind /slow, then the application's like any pipelined request
        b'{"app":"/quick/d"}',
    ]


def test_an_idle_connection_after_quick_answers_is_closed_after_the_keep_alive_time(served: tuple[int, Quick]) -> None:
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=KEEP_ALIVE + 5) as sock:
        sock.sendall(_get("/quick/one") + _get("/quick/two"))
        assert len(_read(sock, 2)) == 2
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not answered
        assert KEEP_ALIVE - 0.2 < time.monotonic() - started < KEEP_ALIVE + 3


def test_a_connection_polled_more_often_than_the_keep_alive_time_stays_open(served: tuple[int, Quick]) -> None:
    """One idle timer serves every answer: it closes a connection idle that long, not one busy that long."""
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=KEEP_ALIVE + 5) as sock:
        began = time.monotonic()
        answered = 0
        while time.monotonic() - began < KEEP_ALIVE * 2.5:
            sock.sendall(_get(f"/quick/n{answered}"))
            assert _read(sock, 1)[0][2] == b'{"said":"n%d"}' % answered
            answered += 1
            time.sleep(KEEP_ALIVE * 0.3)  # the client's own pace: well inside the keep-alive time
        assert answered >= 8


def test_a_head_left_unfinished_after_quick_answers_gets_408(
    served: tuple[int, Quick], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heads that arrive whole need no timer; one that stops half way still has its deadline."""
    monkeypatch.setattr(protocol, "HEAD_TIMEOUT", 0.3)
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_get("/quick/one") + b"GET /quick/two HTTP/1.1\r\nHost: 127")
        (status, _, _), (late, headers, body) = _read(sock, 2)
        assert (status, late) == (200, 408)
        assert headers["content-type"] == "application/problem+json"
        assert b"request-timeout" in body
        assert sock.recv(1) == b""


def test_the_application_sees_headers_as_uvicorn_gives_them_and_gets_its_100_continue(
    served: tuple[int, Quick],
) -> None:
    port, _ = served
    head = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Name: Value \t\r\nExpect: 100-continue\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + b"Content-Length: 5\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"  # asked for before the body is sent
        sock.sendall(b"hello")
        [(status, _, body)] = _read(sock, 1)
    assert (status, body) == (200, b'{"body":"hello","headers":"x-name=Value"}')


def test_only_keep_alive_http_1_1_gets_are_offered(served: tuple[int, Quick]) -> None:
    port, quick = served
    quick.offered.clear()
    closing = _exchange(port, _get("/quick/closing", "Connection: close"), 1)
    old = _exchange(port, b"GET /quick/old HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", 1)
    posted = _exchange(port, b"POST /quick/posted HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 1)
    assert [a[0][2] for a in (closing, old, posted)] == [
        b'{"app":"/quick/closing"}',
        b'{"app":"/quick/old"}',
        b'{"app":"/quick/posted"}',
    ]
    assert quick.offered == []


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_connection_closed_after_a_quick_answer_ends_cleanly(served: tuple[int, Quick]) -> None:
    """uvicorn tidies the last request's cycle when a connection ends: the stand-in takes that."""
    port, _ = served
    kept = _Kept()
    logging.getLogger("asyncio").addHandler(kept)
    try:
        assert _exchange(port, _get("/quick/last"), 1)[0][2] == b'{"said":"last"}'
        # the socket is closed by now; the server sees it go, then answers on another connection
        assert _exchange(port, _get("/other"), 1)[0][2] == b'{"app":"/other"}'
        time.sleep(0.2)
    finally:
        logging.getLogger("asyncio").removeHandler(kept)
    assert [r.getMessage() for r in kept.records] == []
