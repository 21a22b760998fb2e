"""Start the rich test server over HTTP as a real process, and stop it by its PID."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

RICH_SERVER = Path(__file__).resolve().parent / "rich_server.py"
#: Bound on how long a server may take to accept connections.
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def running_http_server(
    kind: Literal["http", "sse"], *, legacy: bool = False, name: str = "rich", token: str | None = None
) -> Iterator[str]:
    """Yield the URL of a rich server on a free loopback port (``/mcp`` or ``/sse``)."""
    port = free_port()
    args = [sys.executable, str(RICH_SERVER), kind, "--port", str(port), "--name", name]
    args += ["--legacy"] if legacy else []
    args += ["--require-token", token] if token else []
    process = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not accepting(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rich server ({kind}) did not start on port {port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/{'mcp' if kind == 'http' else 'sse'}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
