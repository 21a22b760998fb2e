"""Start the rich test server (or the conformance fixture) over HTTP as a real process (with ``harness``),
and stop it by its PID."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from harness import accepting, free_port, started

__all__ = [
    "CONFORMANCE_SERVER",
    "RICH_SERVER",
    "START_TIMEOUT",
    "free_port",
    "running_conformance_server",
    "running_http_server",
]

RICH_SERVER = Path(__file__).resolve().parent / "rich_server.py"
CONFORMANCE_SERVER = Path(__file__).resolve().parent / "conformance_server.py"
#: Bound on how long a server may take to accept connections.
START_TIMEOUT = 30.0


@contextmanager
def running_http_server(
    kind: Literal["http", "sse"],
    *,
    legacy: bool = False,
    name: str = "rich",
    token: str | None = None,
    json_response: bool = False,
) -> Iterator[str]:
    """Yield the URL of a rich server on a free loopback port (``/mcp`` or ``/sse``); ``json_response``:
    Streamable HTTP answers are JSON bodies, not event streams."""
    port = free_port()
    args = [sys.executable, str(RICH_SERVER), kind, "--port", str(port), "--name", name]
    args += ["--legacy"] if legacy else []
    args += ["--require-token", token] if token else []
    args += ["--json-response"] if json_response else []
    with (
        tempfile.TemporaryDirectory(prefix="rich-server-") as logs,
        started(f"rich server ({kind})", args, log=Path(logs) / "server.log") as server,
    ):
        server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/{'mcp' if kind == 'http' else 'sse'}"


@contextmanager
def running_conformance_server(log: Path, kind: Literal["http", "sse"] = "http") -> Iterator[str]:
    """The conformance suite's fixture as a Streamable HTTP server (or a legacy SSE one) on a free
    port, its output in ``log``; yields its URL (``/mcp``, or ``/sse``)."""
    port = free_port()
    command = [sys.executable, str(CONFORMANCE_SERVER), kind, "--port", str(port)]
    with started("conformance fixture", command, log=log) as fixture:
        fixture.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/{'mcp' if kind == 'http' else 'sse'}"
