"""A raw HTTP/1.1 client for hostile tests: bytes out exactly as written, the answer parsed plainly.

``requests`` and ``http.client`` refuse or normalize much of what an attacker sends (CR/LF in
values, dot segments, conflicting framing), so these tests write their requests byte for byte.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Answer", "answers", "exchange", "read_answer", "request"]


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def problem(self) -> dict[str, Any]:
        """The body as a problem, checked to be one: problem+json with type, title, status and detail,
        naming its request (``requestId``) as the answer's ``X-Request-Id`` does (the HTTP layer's own
        refusals too)."""
        assert self.header("content-type") == "application/problem+json", (self.status, self.headers, self.body[:300])
        found = orjson.loads(self.body)
        assert isinstance(found, dict)
        assert {"type", "title", "status", "detail", "requestId"} <= set(found), found
        assert found["status"] == self.status
        assert found["requestId"] == self.header("x-request-id"), (found, self.headers)
        return found


def exchange(port: int, data: bytes, timeout: float = 15.0) -> Answer:
    """Send ``data`` on a new connection and read one answer (the bridge closes or says its length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> Answer:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed without an answer (got {received[:200]!r})")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status, headers = _head(head)
    length = next((int(v) for k, v in headers if k == "content-length"), None)
    while length is not None and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, body if length is None else body[:length])


def answers(received: bytes) -> list[Answer]:
    """Every answer in ``received``, all a connection brought until it closed: pipelined answers may
    come in one segment, so a reader of one answer at a time would drop those after the first."""
    found = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        status, headers = _head(head)
        length = next((int(v) for k, v in headers if k == "content-length"), len(rest))
        found.append(Answer(status, headers, rest[:length]))
        received = rest[length:]
    return found


def _head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    return status, [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]


def request(
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    host: str | None = None,
) -> Answer:
    """One request, written as given (``target`` is not normalized or quoted)."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}", "Connection: close"]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in items):
        items.append(("Content-Length", str(len(body))))
    lines += [f"{k}: {v}" for k, v in items]
    return exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
