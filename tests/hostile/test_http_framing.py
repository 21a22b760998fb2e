"""Attacks on the HTTP layer itself: injected line breaks, oversized and slow heads, smuggling.

Each is written byte for byte and must get the right 4xx as problem+json (the HTTP layer's own
refusals included), never a 5xx; the bridge keeps serving after each (``still_serving``).
"""

from __future__ import annotations

import select
import socket
import time

import pytest

from bridge.endpoint.protocol import HEAD_TIMEOUT, MAX_HEAD_BYTES, MAX_HEADERS
from tests.hostile.conftest import KEY, Target
from tests.hostile.wire import answers, exchange, read_answer, request

HOST = "Host: 127.0.0.1\r\n"
CALL = b"POST /servers/rich/tools/echo HTTP/1.1\r\n" + HOST.encode() + b"X-API-Key: " + KEY.encode() + b"\r\n"
BODY = b'{"text": "hi"}'


def _raw(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


#: Requests the HTTP parser must refuse: 400, problem+json, connection closed.
MALFORMED = {
    "bare LF inside X-Request-Id": _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-Request-Id: a\nSet-Cookie: x=1"),
    "bare CR inside X-Request-Id": _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-Request-Id: a\rSet-Cookie: x=1"),
    "NUL in a header value": _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-Request-Id: a\x00b"),
    "space inside a header name": _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X Api Key: x"),
    "obs-fold continuation line": _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-A: 1", " folded: 2"),
    "Content-Length with Transfer-Encoding (CL.TE smuggling)": CALL
    + b"Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"0\r\n\r\nGET /servers HTTP/1.1\r\n\r\n",
    "two different Content-Lengths": CALL
    + b"Content-Type: application/json\r\nContent-Length: 14\r\nContent-Length: 3\r\n\r\n"
    + BODY,
    "negative Content-Length": CALL + b"Content-Type: application/json\r\nContent-Length: -14\r\n\r\n" + BODY,
    "chunk size that is not hex": CALL
    + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    + BODY
    + b"\r\n0\r\n\r\n",
    "Transfer-Encoding with chunked not last": CALL
    + b"Content-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
    + BODY,
    "request line with two spaces in the target": b"GET /ser vers HTTP/1.1\r\n" + HOST.encode() + b"\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_is_refused_400_as_a_problem(target: Target, data: bytes) -> None:
    answer = exchange(target.port, data)
    assert answer.status == 400, answer
    assert answer.problem()["type"].endswith("/invalid-request")
    assert answer.header("set-cookie") is None
    assert answer.header("connection") == "close"


def test_a_request_line_without_a_version_is_still_gated(target: Target) -> None:
    answer = exchange(target.port, b"GET /servers\r\n\r\n")
    assert answer.status == 401
    assert answer.problem()["type"].endswith("/unauthorized")


def test_a_percent_encoded_line_break_in_x_request_id_is_never_echoed_as_a_header(target: Target) -> None:
    answer = request(target.port, "POST", "/tools/rich.echo", {**target.use, "X-Request-Id": "a%0d%0aSet-Cookie:%20x=1",
                     "Content-Type": "application/json"}, BODY)  # fmt: skip
    assert answer.status == 200
    assert answer.header("set-cookie") is None


@pytest.mark.parametrize(
    ("what", "headers", "target_path"),
    [
        ("one header of 40 KiB", [("X-Padding", "a" * 40 * 1024)], "/healthz"),
        ("more header fields than allowed", [(f"X-H{i}", "1") for i in range(MAX_HEADERS + 20)], "/healthz"),
        ("a request target of 40 KiB", [], "/servers/" + "a" * 40 * 1024),
        ("an Authorization header of 40 KiB", [("Authorization", "Bearer " + "k" * 40 * 1024)], "/servers"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "",
)
def test_an_oversized_head_is_refused_431(
    target: Target, what: str, headers: list[tuple[str, str]], target_path: str
) -> None:
    answer = request(target.port, "GET", target_path, headers)
    assert answer.status == 431, what
    assert answer.problem()["type"].endswith("/headers-too-large")


def test_a_client_still_sending_its_head_after_its_431_sees_the_answer_then_a_clean_close(target: Target) -> None:
    """A head far over the limit, still coming after the refusal: closing at once would make the
    kernel reset the connection over the unread bytes, and the client could lose the 431. The
    bridge sends its FIN after the answer and drops what still comes, as after a 413."""
    padding = b"X-Padding-%d: " + b"a" * 8000 + b"\r\n"
    head = b"GET /healthz HTTP/1.1\r\n" + HOST.encode() + b"".join(padding % i for i in range(60))  # 480 KB
    with socket.create_connection(("127.0.0.1", target.port), timeout=15) as sock:
        sock.sendall(head)
        answer = read_answer(sock)
        assert answer.status == 431
        assert answer.problem()["type"].endswith("/headers-too-large")
        assert answer.header("connection") == "close"
        sock.sendall(b"".join(padding % i for i in range(60, 300)))  # 1.9 MB more: read and dropped, no reset
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(65536) == b""  # the bridge's FIN, after the answer
    assert request(target.port, "GET", "/healthz", []).status == 200  # and it keeps serving


def test_a_refused_request_keeps_the_callers_request_id_when_it_came_safe_before_the_refusal(target: Target) -> None:
    too_many = request(
        target.port,
        "GET",
        "/healthz",
        [("X-Request-Id", "head-1")] + [(f"X-H{i}", "1") for i in range(MAX_HEADERS + 1)],
    )
    malformed = exchange(
        target.port, _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-Request-Id: head-2", "X-A: a\x00b")
    )
    unsafe = exchange(target.port, _raw("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "X-Request-Id: a b", "X-A: a\x00b"))
    after = request(
        target.port,
        "GET",
        "/healthz",
        [(f"X-H{i}", "1") for i in range(MAX_HEADERS + 1)] + [("X-Request-Id", "head-3")],
    )
    bad_body = exchange(
        target.port,
        CALL + b"X-Request-Id: body-1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    )
    assert [(a.status, a.problem()["requestId"]) for a in (too_many, malformed, bad_body)] == [
        (431, "head-1"),
        (400, "head-2"),
        (400, "body-1"),  # refused while its body was read: the head named it
    ]
    made = [unsafe.problem()["requestId"], after.problem()["requestId"]]  # unsafe, or sent after the refusal
    assert "head-3" not in made
    assert len(set(made)) == 2
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)


def test_a_head_just_under_the_limit_is_served(target: Target) -> None:
    answer = request(target.port, "GET", "/healthz", [("X-Padding", "a" * (MAX_HEAD_BYTES - 1024))])
    assert answer.status == 200


def test_slow_and_silent_clients_are_answered_408_and_closed_within_the_head_timeout(target: Target) -> None:
    started = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", target.port), timeout=HEAD_TIMEOUT + 10) as silent,
        socket.create_connection(("127.0.0.1", target.port), timeout=HEAD_TIMEOUT + 10) as drip,
    ):
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 400
        for byte in head:  # a byte every 100 ms (40 s in all), never the end of the head
            if select.select([drip], [], [], 0.1)[0]:  # the bridge answered
                break
            drip.send(bytes([byte]))
        for sock in (silent, drip):
            answer = read_answer(sock)
            assert answer.status == 408
            assert answer.problem()["type"].endswith("/request-timeout")
            assert sock.recv(1) == b""  # closed
    assert time.monotonic() - started < HEAD_TIMEOUT + 8


def test_a_request_smuggled_after_a_complete_one_is_answered_as_its_own_request(target: Target) -> None:
    """Pipelined: the second request is judged on its own (no key: 401), not as part of the first."""
    first = CALL + b"Content-Type: application/json\r\nContent-Length: 14\r\n\r\n" + BODY
    second = b"DELETE /servers/rich HTTP/1.1\r\n" + HOST.encode() + b"Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", target.port), timeout=15) as sock:
        sock.sendall(first + second)
        data = b""
        while chunk := sock.recv(65536):  # both answers, then the close (they may come in one segment)
            data += chunk
    one, two = answers(data)
    assert one.status == 200
    assert two.status == 401
    assert two.problem()["type"].endswith("/unauthorized")
