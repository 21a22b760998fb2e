"""A 127.0.0.1 HTTP proxy in front of a bridge that loses answers on purpose, after the bridge gave them.

Each request is forwarded whole; the proxy notes its path and ``Idempotency-Key``. When told to
(``lose``), it throws the bridge's answer to a tool call away once the tool has run, and answers
503 instead, or closes the connection without a word: what a flaky network or load balancer
does to a client. The generated clients then retry, and the tool must still run once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import requests

from harness.net import LOOPBACK, serving

__all__ = ["LossyProxy", "Seen", "lossy_proxy"]

How = Literal["503", "close"]
#: Request headers not passed on: about this hop, or set again by ``requests``.
_HOP = frozenset({"host", "content-length", "connection", "accept-encoding", "transfer-encoding"})


@dataclass(frozen=True)
class Seen:
    """One request the proxy forwarded: its path and the Idempotency-Key it carried (None: none)."""

    path: str
    key: str | None


class LossyProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.upstream = upstream
        self.seen: list[Seen] = []
        self._losses: dict[str, list[How]] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def lose(self, path: str, *hows: How) -> None:
        """Lose the next answers to ``path``, one per ``how``, in order."""
        with self._lock:
            self._losses.setdefault(path, []).extend(hows)

    def seen_at(self, path: str) -> list[str | None]:
        """The Idempotency-Keys of the requests to ``path`` so far, in order."""
        with self._lock:
            return [s.key for s in self.seen if s.path == path]

    def _loss(self, path: str) -> How | None:
        with self._lock:
            pending = self._losses.get(path)
            return pending.pop(0) if pending else None


class _Handler(BaseHTTPRequestHandler):
    server: LossyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads what it needs from seen
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path.partition("?")[0]
        with self.server._lock:
            self.server.seen.append(Seen(path, self.headers.get("Idempotency-Key")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        answer = requests.request(
            self.command, self.server.upstream + self.path, data=body, headers=headers, timeout=60
        )
        loss = self.server._loss(path)
        if loss == "close":
            self.close_connection = True
            return
        status, content = (503, b"lost on the way") if loss == "503" else (answer.status_code, answer.content)
        self.send_response(status)
        for name, value in answer.headers.items():
            if loss is None and name.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "content-encoding",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_DELETE = _forward


@contextmanager
def lossy_proxy(upstream: str) -> Iterator[LossyProxy]:
    with serving(LossyProxy(upstream)) as proxy:
        yield proxy
