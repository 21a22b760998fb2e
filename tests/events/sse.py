"""A plain Server-Sent Events client for the tests: a raw socket, HTTP/1.1 chunks, one line at a time.

It reads exactly what a browser's ``EventSource`` would parse (fields ``id``, ``event``,
``data``, ``retry``, comment lines), so the tests hold the wire format, not a library's view
of it.
"""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Message", "SseClient"]


@dataclass
class Message:
    """One dispatched message: ``event`` is None for plain events (what ``onmessage`` sees)."""

    data: Any
    id: str | None = None
    event: str | None = None


@dataclass
class SseClient:
    """``GET path`` on the bridge at ``url``, read as Server-Sent Events."""

    url: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)
    #: A small receive buffer makes a client that stops reading push back on the bridge soon.
    receive_buffer: int | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.sock = socket.socket()
        if self.receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        self.sock.settimeout(self.timeout)
        self.sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        head = f"GET {self.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        self.sock.sendall((head + "\r\n").encode())
        self._raw = b""  # bytes read, not yet de-chunked
        self._text = b""  # the body, de-chunked, not yet parsed
        while b"\r\n\r\n" not in self._raw:
            self._fill(self.timeout)
        head_bytes, self._raw = self._raw.split(b"\r\n\r\n", 1)
        status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in lines:
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        if self.status != 200:
            length = int(self.response_headers.get("content-length", "0"))
            while len(self._raw) < length:
                self._fill(self.timeout)
            self.body = self._raw[:length]

    def _fill(self, timeout: float) -> None:
        poller = select.poll()  # not select(): a test with many sockets open has descriptors past 1,023
        poller.register(self.sock, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise TimeoutError("nothing arrived in time")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the connection was closed")
        self._raw += chunk

    def _line(self, timeout: float) -> bytes:
        """The next line of the body, chunked transfer coding taken off."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._text:
            while True:  # move whole chunks from _raw to _text
                size_line, sep, rest = self._raw.partition(b"\r\n")
                if not sep:
                    break
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    if b"\n" in self._text:  # the last chunk's lines first
                        break
                    raise EOFError("the stream ended")
                if len(rest) < size + 2:
                    break
                self._text += rest[:size]
                self._raw = rest[size + 2 :]
            if b"\n" in self._text:
                break
            self._fill(max(deadline - time.monotonic(), 0.001))
        line, _, self._text = self._text.partition(b"\n")
        return line

    def problem(self) -> Any:
        return json.loads(self.body)

    def next(self, timeout: float | None = None) -> Message:
        """The next message; ``TimeoutError`` when none arrives in ``timeout`` seconds."""
        fields: dict[str, str] = {}
        data: list[str] = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            line = self._line(max(deadline - time.monotonic(), 0.001)).decode().rstrip("\r")
            if not line:
                if data:
                    return Message(json.loads("\n".join(data)), fields.get("id"), fields.get("event"))
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value

    def take(self, count: int, timeout: float | None = None) -> list[Message]:
        return [self.next(timeout) for _ in range(count)]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SseClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
