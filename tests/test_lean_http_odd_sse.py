"""Event streams framed unlike the SDK's, read by the lean HTTP channel as the SDK's client reads them.

The upstream is the lean test server behind ``tests/servers/odd_sse_server.py``, which re-frames
every event it sends in odd but valid SSE (a byte order mark, comments, CR, LF and CRLF line
ends, events the client skips, a field without a colon, data over many lines, each event in
pieces cut inside a CRLF and a UTF-8 character). Each call's outcome on the lean path (our own
parser) is compared with the same call through the SDK's session (httpx2's), on one session.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.config import ServerConfig
from bridge.errors import InputRequired
from bridge.upstream.lean_http import HttpChannel
from bridge.upstream.session import UpstreamSession
from harness import accepting, free_port, started
from tests.lean_sessions import lean_of
from tests.lean_sessions import outcome as _outcome
from tests.lean_sessions import run_session as _run
from tests.lean_sessions import sdk_call as _sdk_call
from tests.servers.launch import START_TIMEOUT
from tests.support import ROOT


@contextmanager
def odd_sse_server() -> Iterator[str]:
    """A 2025-11-25 server: at 2026-07-28 the lean server answers these calls with JSON bodies."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.servers.odd_sse_server", "--port", str(port), "--legacy"]
    with (
        tempfile.TemporaryDirectory(prefix="odd-sse-server-") as logs,
        started("odd SSE server", argv, cwd=ROOT, log=Path(logs) / "log") as server,
    ):
        server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"


CALLS = [
    ("chatty", {}),  # a log message on the call's stream before the answer
    ("big", {"size": 3000}),
    ("big", {"size": "wörld"}),  # a tool error whose text has a character of two bytes, cut on the wire
    ("big", {"size": 1_500_000}),  # one event past the bound: refused on both paths
]


def test_odd_but_valid_event_streams_give_the_same_outcomes_on_the_lean_and_sdk_paths() -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = lean_of(session, HttpChannel)
        for name, arguments in CALLS:
            sent = lean.sent
            by_lean = await _outcome(session.call_tool(name, arguments))
            assert lean.sent == sent + 1, f"{name} did not take the lean path"
            assert by_lean == await _outcome(_sdk_call(session, name, arguments)), name
        seen = await session.call_tool("request_id", {})
        assert seen["structuredContent"] == {"result": f"'lean-{lean.sent}'"}
        assert session.status().state == "ready"

    with odd_sse_server() as url:
        _run(ServerConfig(name="up", transport="streamable-http", url=url, call_timeout=10.0), scenario)


def test_a_question_on_an_oddly_framed_stream_is_answered_as_on_the_sdk_path() -> None:
    """Before 2026-07-28 the server asks on the call's own stream; the back channel refuses for a REST caller."""

    async def scenario(session: UpstreamSession) -> None:
        by_lean = await _outcome(session.call_tool("ask", {}))
        assert by_lean == await _outcome(_sdk_call(session, "ask", {}))
        assert by_lean.startswith(InputRequired.__name__)

    with odd_sse_server() as url:
        _run(ServerConfig(name="up", transport="streamable-http", url=url, call_timeout=10.0), scenario)
