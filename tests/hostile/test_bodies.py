"""Hostile bodies: deep nesting, huge numbers, duplicate keys, wrong and lying content types, JSON-RPC bombs."""

from __future__ import annotations

import socket

import orjson
import pytest

from tests.hostile.conftest import Target
from tests.hostile.wire import read_answer, request

JSON = {"Content-Type": "application/json"}
ECHO = "/servers/rich/tools/echo"

#: Bodies for the echo tool that are not a usable arguments object: (body, content type, status, type slug).
BAD_BODIES = {
    "nesting 100,000 arrays deep": (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "invalid-request"),
    "nesting 100,000 objects deep": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", 400,
                                     "invalid-request"),
    "an integer of 5,000 digits": (b'{"text": ' + b"9" * 5000 + b"}", "application/json", 400, "invalid-request"),
    "a float beyond double range": (b'{"text": 1e400}', "application/json", 400, "invalid-request"),
    "NaN": (b'{"text": NaN}', "application/json", 400, "invalid-request"),
    "invalid UTF-8": (b'{"text": "\xff\xfe"}', "application/json", 400,
                      "invalid-request"),
    "a lone surrogate escape": (b'{"text": "\\ud800"}', "application/json", 400, "invalid-request"),
    "a JSON array instead of an object": (b'["hi"]', "application/json", 400, "invalid-request"),
    "trailing garbage after the object": (b'{"text": "hi"} {"text": "again"}', "application/json", 400,
                                          "invalid-request"),
    "text/plain": (b'{"text": "hi"}', "text/plain", 415, "unsupported-media-type"),
    "form encoding": (b"text=hi", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    "JSON in UTF-16, declared so": ('{"text": "hi"}'.encode("utf-16"), "application/json; charset=utf-16", 400,
                                    "invalid-request"),
    "multipart with a boundary": (b"--x\r\n\r\nhi\r\n--x--", "multipart/form-data; boundary=x", 415,
                                  "unsupported-media-type"),
}  # fmt: skip


@pytest.mark.parametrize(("body", "media_type", "status", "slug"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_hostile_body_is_refused_with_the_right_problem(
    target: Target, body: bytes, media_type: str, status: int, slug: str
) -> None:
    answer = request(target.port, "POST", ECHO, {**target.use, "Content-Type": media_type}, body)
    assert answer.status == status, answer
    assert answer.problem()["type"].endswith("/" + slug)


def test_duplicate_keys_take_the_last_value_as_json_parse_does(target: Target) -> None:
    answer = request(target.port, "POST", ECHO, {**target.use, **JSON}, b'{"text": "first", "text": "last"}')
    assert answer.status == 200
    assert orjson.loads(answer.body)["structuredContent"] == {"result": "last"}


def test_a_chunked_body_over_the_limit_is_refused_413_without_being_read_whole(target: Target) -> None:
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(200)) + b"0\r\n\r\n"  # 12.5 MiB
    headers = {**target.use, **JSON, "Transfer-Encoding": "chunked"}
    answer = request(target.port, "POST", ECHO, headers, body)
    assert answer.status == 413
    assert answer.problem()["type"].endswith("/payload-too-large")


def test_a_client_still_sending_after_its_413_is_read_on_and_sees_the_answer_then_a_clean_close(
    target: Target,
) -> None:
    """The bridge answers 413 before the body is read whole. Closing then would make the kernel reset
    the connection over the unread bytes, and a client still sending could lose the answer: the
    bridge sends its FIN after the answer and drops what still comes, as nginx's lingering close."""
    chunk = b"a" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16))  # 1 MiB
    lines = [
        f"POST {ECHO} HTTP/1.1",
        f"Host: 127.0.0.1:{target.port}",
        "Transfer-Encoding: chunked",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in {**target.use, **JSON}.items()]
    with socket.create_connection(("127.0.0.1", target.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + chunks * 11)  # past the 10 MiB limit
        answer = read_answer(sock)
        assert answer.status == 413
        assert answer.problem()["type"].endswith("/payload-too-large")
        sock.sendall(chunks * 8)  # read and dropped: no reset while the client goes on sending
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(65536) == b""  # the bridge's FIN, after the answer
    assert request(target.port, "GET", "/servers/rich", target.use).status == 200  # and it keeps serving


@pytest.mark.parametrize(
    ("override", "method"),
    [("X-HTTP-Method-Override", "DELETE"), ("X-HTTP-Method", "DELETE"), ("X-Method-Override", "PUT")],
)
def test_method_override_headers_are_ignored(target: Target, override: str, method: str) -> None:
    answer = request(target.port, "POST", "/servers/rich", {**target.admin, **JSON, override: method}, b"{}")
    assert answer.status == 405
    assert answer.problem()["type"].endswith("/method-not-allowed")
    assert request(target.port, "GET", "/servers/rich", target.use).status == 200  # still there


def test_a_json_rpc_batch_bomb_on_mcp_is_refused_at_once(target: Target) -> None:
    call = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}
    batch = orjson.dumps([{**call, "id": i} for i in range(20_000)])
    answer = request(target.port, "POST", "/mcp", {**target.use, **JSON}, batch)
    assert answer.status == 400
    assert answer.problem()["type"].endswith("/invalid-request")


def test_a_json_rpc_request_with_a_traversal_method_is_a_json_rpc_error(target: Target) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "../../tools/call", "params": {}})
    answer = request(target.port, "POST", "/mcp", {**target.use, **JSON}, body)
    assert answer.status == 200  # JSON-RPC answers its own errors in a result envelope
    error = orjson.loads(answer.body)["error"]
    assert error["data"]["type"].endswith("/not-found")
    assert error["data"]["detail"] == "method '../../tools/call' is not supported by the plain JSON-RPC endpoint"


def test_a_method_the_api_does_not_have_is_405(target: Target) -> None:
    answer = request(target.port, "PROPFIND", "/servers", target.use)
    assert answer.status == 405
    assert answer.problem()["type"].endswith("/method-not-allowed")
