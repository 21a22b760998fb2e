"""An MCP client's ``POST /mcp`` served from the HTTP protocol (``bridge.endpoint.lean_post``), over real sockets.

A bridge runs in this process behind a real uvicorn server on a loopback port (the protocol and
the draining server ``mcp-bridge serve`` uses), in front of the real rich and meta stdio servers.
What the protocol offered to ``LeanPosts.take``, and what it answered, is recorded, so a path that
took nothing, or took what it must leave to the application, fails. Requests go as raw HTTP/1.1,
so keep-alive and pipelining are seen as a client sees them. What the lean path answers is held
equal to the SDK's elsewhere (``tests/test_mcp_lean_path.py``); here, what serving it outside an
ASGI cycle must keep: the request's id (on the answer and upstream), its measured time, the
connection's reuse, the application's answers for what is not taken, and the drain.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pytest
import requests
import uvicorn

from bridge.config import BridgeSettings, Limit, LimitSettings, ServerConfig, parse_rate
from bridge.endpoint.draining import DrainingServer
from bridge.endpoint.lean_post import LeanPosts, Posted
from bridge.endpoint.protocol import GuardedHttpProtocol
from bridge.runtime import Bridge
from harness import free_port, poll
from tests.support import rich_stdio, unnamed
from tests.telemetry.test_tracing import META_SERVER

KEY = "key-for-lean-post-tests"
MODERN = "2026-07-28"
ORIGIN = "http://app.example"
PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


@dataclass
class Served:
    url: str
    port: int
    bridge: Bridge
    server: DrainingServer
    #: What ``take`` was offered, in order: whether it served it.
    taken: list[bool] = field(default_factory=list)
    #: The server's ``serve()``, running on the bridge's loop.
    running: Future[None] | None = None

    def own_count(self) -> int:
        """Requests whose own time the metrics measured."""
        assert self.bridge.metrics is not None
        return sum(self.bridge.metrics.own.counts)

    def settled_count(self) -> int:
        """``own_count`` once a request answered before (the fixture's polls) has been measured too:
        the count is taken after the answer is written."""

        def steady() -> tuple[int] | None:
            before = self.own_count()
            time.sleep(0.1)
            return (before,) if self.own_count() == before else None

        found = poll(steady, 5, what="the requests before measured")
        assert found is not None
        return found[0]


def _serve(bridge: Bridge, **config: Any) -> Served:
    app = bridge.asgi_app()
    posts = bridge.lean_posts
    assert isinstance(posts, LeanPosts)
    port = free_port()
    uv = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="error",
        http=bridge.http_protocol(),
        server_header=False,
        headers=[("server", "mcp-rest-bridge")],
        **config,
    )
    assert bridge.drain is not None
    server = DrainingServer(uv, bridge.drain)
    served = Served(f"http://127.0.0.1:{port}", port, bridge, server)
    take = posts.take

    def recorded(protocol: GuardedHttpProtocol, posted: Posted) -> bool:
        served.taken.append(took := take(protocol, posted))
        return took

    posts.take = recorded  # type: ignore[method-assign]
    return served


@contextmanager
def _started(bridge: Bridge, **config: Any) -> Iterator[Served]:
    served = _serve(bridge, **config)
    served.running = bridge.pool.run_forever(served.server.serve())
    try:
        poll(lambda: served.server.started, 15, what="the bridge serving")
        poll(lambda: _ready(served.url), 30, what="both upstreams ready")
        yield served
    finally:
        served.server.should_exit = True
        served.running.result(30)


def _ready(url: str) -> bool:
    ready = requests.get(f"{url}/readyz", timeout=5).json()
    return ready["status"] == "ready" and len(ready["servers"]) == 2


def _bridge(**settings: Any) -> Bridge:
    meta = ServerConfig(name="meta", transport="stdio", command=sys.executable, args=(str(META_SERVER),))
    return Bridge.create(BridgeSettings(api_keys=(KEY,), **settings), [rich_stdio(), meta])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    bridge = _bridge(allowed_origins=(ORIGIN,))
    try:
        with _started(bridge) as running:
            yield running
    finally:
        bridge.close()


def _call(name: str, arguments: dict[str, Any], rid: Any = 1, **headers: str) -> tuple[dict[str, str], bytes]:
    """A 2026-07-28 ``tools/call`` as an MCP client sends it: its headers and body."""
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    body["params"]["_meta"] = meta
    sent = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
        "X-API-Key": KEY,
        **headers,
    }
    return sent, json.dumps(body).encode()


def _request(port: int, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"]
    head += [f"{name}: {value}\r\n" for name, value in headers.items()]
    return "".join(head).encode() + b"\r\n" + body


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _read(reader: BinaryIO) -> Answer:
    """One HTTP/1.1 response from ``reader``: its status, headers (lowercase names) and body
    (``Content-Length`` or chunked), leaving what follows it unread."""
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        assert name.lower() not in headers, f"{name} given twice"
        headers[name.lower()] = value.strip()
    if "content-length" in headers:
        return Answer(status, headers, reader.read(int(headers["content-length"])))
    assert headers.get("transfer-encoding") == "chunked", headers
    chunks = []
    while size := int(reader.readline().strip(), 16):
        chunks.append(reader.read(size))
        assert reader.readline() == b"\r\n"
    assert reader.readline() == b"\r\n"
    return Answer(status, headers, b"".join(chunks))


class Connection:
    """One client connection, raw: requests written as given, answers read in order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = self.sock.makefile("rb")

    def send(self, *requests_: tuple[dict[str, str], bytes]) -> None:
        """Write every request in one go (more than one: pipelined)."""
        self.sock.sendall(b"".join(_request(self.port, headers, body) for headers, body in requests_))

    def answer(self) -> Answer:
        return _read(self.reader)

    def closed_by_server(self) -> bool:
        return self.reader.read(1) == b""

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _text(answer: Answer) -> str:
    assert answer.status == 200, answer
    assert answer.headers["content-type"] == "application/json"
    message = answer.json()
    assert message["result"]["isError"] is False, message
    text: str = message["result"]["content"][0]["text"]
    return text


def test_a_call_is_served_from_the_protocol_named_measured_and_its_connection_kept(served: Served) -> None:
    taken, measured = len(served.taken), served.settled_count()
    connection = Connection(served.port)
    try:
        connection.send(_call("meta.meta", {}, **{"X-Request-Id": "lean-post-1"}))
        first = connection.answer()
        upstream_meta = json.loads(_text(first))
        assert first.headers["x-request-id"] == "lean-post-1"
        assert first.headers["server"] == "mcp-rest-bridge"
        assert "date" in first.headers
        # The request's context reached the upstream call: its id, and a trace of its own.
        assert upstream_meta["mcp-rest-bridge/requestId"] == "lean-post-1"
        assert upstream_meta["traceparent"].startswith("00-")

        connection.send(_call("rich.echo", {"text": "again"}, rid="two"))  # the same connection, kept alive
        second = connection.answer()
        assert _text(second) == "again"
        assert second.json()["id"] == "two"
        made = second.headers["x-request-id"]  # none given: one made, as every answer has
        assert len(made) == 32
        assert made != "lean-post-1"
    finally:
        connection.close()
    assert served.taken[taken:] == [True, True]
    poll(lambda: served.own_count() == measured + 2, 5, what="both requests' own time measured")


def test_pipelined_calls_are_answered_in_order_on_their_connection(served: Served) -> None:
    connection = Connection(served.port)
    try:
        connection.send(
            _call("rich.slow", {"seconds": 0.3}, rid="slow"),
            _call("rich.echo", {"text": "after"}, rid="quick"),
            _call("rich.echo", {"text": "last"}, rid="last"),
        )
        answers = [connection.answer() for _ in range(3)]
    finally:
        connection.close()
    assert [a.json()["id"] for a in answers] == ["slow", "quick", "last"]
    assert [_text(a) for a in answers] == ["slept 0.3", "after", "last"]


def test_what_the_protocol_does_not_take_is_answered_by_the_application(served: Served) -> None:
    url = served.url + "/mcp"
    headers, body = _call("rich.echo", {"text": "cors"}, Origin=ORIGIN)
    before = len(served.taken)
    cross = requests.post(url, headers=headers, data=body, timeout=30)  # CORS: the application's routes answer it
    assert cross.headers["access-control-allow-origin"] == ORIGIN
    assert cross.json()["result"]["content"][0]["text"] == "cors"
    assert served.taken[before:] == []  # never offered: its head alone sent it to the application

    headers, body = _call("rich.echo", {"text": "x"}, **{"X-API-Key": "not-the-key"})
    refused = requests.post(url, headers=headers, data=body, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert unnamed(refused.json(), refused.headers["X-Request-Id"])["type"] == PROBLEMS + "unauthorized"

    headers, _ = _call("rich.echo", {"text": "x"})
    malformed = requests.post(url, headers=headers, data=b'{"jsonrpc": "2.0", "id": 1,', timeout=30)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == -32700  # the SDK's parse error

    handshake = {"jsonrpc": "2.0", "id": 0, "method": "initialize"}
    handshake["params"] = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    plain = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", "X-API-Key": KEY}
    opened = requests.post(url, headers=plain, json=handshake, timeout=30)  # no session yet: never offered
    assert opened.status_code == 200
    assert opened.headers["mcp-session-id"]
    # Offered and declined: the bad key and the malformed body; the CORS request and the handshake never were.
    assert served.taken[before:] == [False, False]


def test_a_call_that_expects_100_continue_is_the_application_s_and_gets_its_100(served: Served) -> None:
    headers, body = _call("rich.echo", {"text": "continued"}, Expect="100-continue")
    before = len(served.taken)
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(_request(served.port, headers, body)[: -len(body)])  # the head alone
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"  # asked for before the body is sent
        sock.sendall(body)
        answer = _read(sock.makefile("rb"))
    assert answer.status == 200
    assert _text(answer) == "continued"
    assert served.taken[before:] == []  # its head sent it to the application, which answers the 100


def test_the_drain_lets_a_lean_call_finish_within_its_grace_and_cuts_off_one_past_it() -> None:
    bridge = _bridge(shutdown_grace=2.0)
    try:
        with _started(bridge) as served, ThreadPoolExecutor(2) as pool:
            url = served.url + "/mcp"
            short = pool.submit(_post, url, *_call("rich.slow", {"seconds": 1.0}, rid="short"))
            long = pool.submit(_post, url, *_call("rich.slow", {"seconds": 30.0}, rid="long"))
            poll(lambda: served.taken == [True, True], 10, what="both calls taken")
            stopping = time.monotonic()
            served.server.stop()  # as SIGTERM does
            finished, cut_off = short.result(20), long.result(20)
            assert served.running is not None
            served.running.result(20)  # the server returns once drained
            took = time.monotonic() - stopping
    finally:
        bridge.close()
    assert finished.status_code == 200
    assert finished.json()["result"]["content"][0]["text"] == "slept 1.0"
    assert cut_off.status_code == 503
    assert cut_off.headers["content-type"] == "application/problem+json"
    assert unnamed(cut_off.json(), cut_off.headers["X-Request-Id"]) == {
        "type": PROBLEMS + "call-cut-off",
        "title": "The call was cut off when the bridge stopped",
        "status": 503,
        "detail": "the bridge is stopping and the request did not finish within its 2 s shutdown grace;"
        " whether a call it made finished upstream is unknown",
        "instance": "/mcp",
    }
    assert 2.0 <= took < 10


def _post(url: str, headers: dict[str, str], body: bytes) -> requests.Response:
    return requests.post(url, headers=headers, data=body, timeout=60)


def test_with_a_rate_kept_here_calls_within_it_are_served_from_the_protocol_and_the_rest_refused_429() -> None:
    bridge = _bridge(limits=LimitSettings(caller=Limit(rate=parse_rate("3/minute"))))
    try:
        with _started(bridge) as served:
            url = served.url + "/mcp"
            within = [_post(url, *_call("rich.echo", {"text": f"call {n}"}, rid=n)) for n in range(3)]
            past = _post(url, *_call("rich.echo", {"text": "one too many"}, rid=3))
            assert served.taken == [True, True, True, False]  # the fourth left to the application, which refuses it
            # A rate spent between the look and the charge (by a REST request on a worker thread):
            # the protocol has taken the call, so it answers the 429 itself, as the application would.
            rate = bridge.gate.rate
            assert rate is not None
            rate.allows = lambda principal: True  # type: ignore[method-assign]
            raced = _post(url, *_call("rich.echo", {"text": "raced"}, rid=4))
            assert served.taken[-1] is True
    finally:
        bridge.close()
    assert [answer.json()["result"]["content"][0]["text"] for answer in within] == ["call 0", "call 1", "call 2"]
    for refused in (past, raced):
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
        problem = unnamed(refused.json(), refused.headers["X-Request-Id"])
        assert problem["type"] == PROBLEMS + "rate-limited"
        assert problem["instance"] == "/mcp"
    assert (
        unnamed(raced.json(), raced.headers["X-Request-Id"]).keys()
        == unnamed(past.json(), past.headers["X-Request-Id"]).keys()
    )
