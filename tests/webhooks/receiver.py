"""A webhook endpoint for the tests, as a process of its own: each path prefix answers one way.

``/ok/…`` 200; ``/slow/…`` 200 after two seconds; ``/gone/…`` 410; ``/fail/…`` 500;
``/redirect/…`` 302 to ``/ok/…-redirected``; ``/retry-after/…`` 503 with ``Retry-After: 2`` to a
delivery's first attempt, 200 to the next; ``/endless/…`` 200 with a body that never ends (for
up to a minute, or until the client hangs up). ``GET /_received`` lists every POST heard (path,
headers, body, time), oldest first.

    python tests/webhooks/receiver.py PORT [CERT KEY]

With a certificate and its key it serves HTTPS.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_heard: list[dict[str, object]] = []
_lock = threading.Lock()


class _Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _lock:
            first = not any(h["headers"].get("webhook-id") == self.headers.get("webhook-id") for h in _heard)  # type: ignore[union-attr]
            _heard.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode(), "at": time.time()}
            )
        kind = self.path.split("/")[1]
        if kind == "endless":
            self._endless()
            return
        if kind == "slow":
            time.sleep(2)
        status, headers = {
            "ok": (200, {}),
            "slow": (200, {}),
            "gone": (410, {}),
            "fail": (500, {}),
            "redirect": (302, {"Location": "/ok/" + self.path.split("/", 2)[-1] + "-redirected"}),
            "retry-after": ((503, {"Retry-After": "2"}) if first else (200, {})),
        }.get(kind, (404, {}))
        self._answer(status, b'{"status": "received"}', headers)

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_heard).encode()
        self._answer(200, body, {})

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
        until = time.monotonic() + 60
        try:
            while time.monotonic() < until:
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:  # the client read what it wanted and hung up
            pass
        self.close_connection = True

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Endpoint)
    if len(sys.argv) == 4:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
