"""Loopback ports for the processes the harness starts, and the probes that say one is up.

Every probe answers rather than raises: a process that is still starting refuses connections,
and that is an answer ("not yet") a readiness poll asks again.
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["LOOPBACK", "accepting", "free_port", "http_call", "http_status"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def accepting(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``port`` of the loopback interface."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5.0,
    headers: Mapping[str, str] | None = None,
) -> tuple[int | None, bytes]:
    """Status and body of one request to the loopback interface; ``(None, b"")`` if nothing answered."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body, {**sent, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None, b""
    finally:
        connection.close()


def http_status(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0) -> int | None:
    """The status of one request (``http_call``), or None if nothing answered."""
    return http_call(port, method, path, body, timeout)[0]


S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """``server`` answering on a thread of this process while the block runs; shut down and closed after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
