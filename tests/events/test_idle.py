"""Many idle subscribers at once: 1,000 SSE streams and 1,000 WebSocket subscriptions are served,
and when their clients vanish (closed, or reset without a goodbye) nothing of them stays behind.

The bridge runs in this process here (uvicorn on the upstream loop, as ``serve`` runs it, on a
real loopback socket), so the test can count the feed's followers; the clients are raw sockets.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from bridge.config import ServerConfig
from bridge.endpoint import create_asgi_app, create_mcp_server
from bridge.endpoint.access import EventAccess
from bridge.endpoint.calls import ToolCalls
from bridge.endpoint.stream import EventStream
from bridge.endpoint.websocket import WebSocketEndpoint
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.runtime import Bridge
from harness import LOOPBACK, poll
from tests.events.conftest import EVENTS_SERVER, USER, servers
from tests.events.sse import SseClient
from tests.support import in_process_bridge

MANY = 1000


class Served:
    def __init__(self, bridge: Bridge, stream: EventStream, websocket: WebSocketEndpoint, port: int) -> None:
        self.bridge = bridge
        self.stream = stream
        self.websocket = websocket
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"


@contextmanager
def served(tmp_path: Any) -> Iterator[Served]:
    config = servers(tmp_path)["mcpServers"]["events"]
    events = ServerConfig(name="events", transport="stdio", command=config["command"], args=tuple(config["args"]))
    assert str(EVENTS_SERVER) in events.args
    with in_process_bridge([events], api_keys=(USER,)) as bridge:
        access = EventAccess(bridge.gate)
        stream = EventStream(bridge.feed, access, heartbeat=0.2)
        websocket = WebSocketEndpoint(JsonRpcDispatcher(bridge.gateway), bridge.feed, access)
        app = create_asgi_app(
            bridge.app,
            create_mcp_server(bridge.gateway),
            bridge.gate,
            host=LOOPBACK,
            calls=ToolCalls(bridge.gateway, bridge.gate),
            stream=stream,
            websocket=websocket,
        )
        listener = socket.socket()
        listener.bind((LOOPBACK, 0))
        listener.listen(4096)
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio", timeout_graceful_shutdown=5)
        )
        running = bridge.pool.run_forever(server.serve(sockets=[listener]))
        try:
            poll(lambda: server.started, 10, what="uvicorn started")
            yield Served(bridge, stream, websocket, listener.getsockname()[1])
        finally:
            server.should_exit = True
            running.result(timeout=30)
            listener.close()


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    sock.settimeout(timeout)  # blocking reads with a bound: select() cannot take descriptors past 1,023
    while marker not in seen:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}; got {seen[:200]!r}"
        seen += chunk
    return seen


def masked_text(payload: bytes) -> bytes:
    """One client-to-server text frame (clients must mask)."""
    mask = os.urandom(4)
    head = bytes([0x81])
    size = len(payload)
    head += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def open_streams(port: int, count: int) -> list[socket.socket]:
    request = (
        f"GET /mcp/stream?type=tool.call HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nX-API-Key: {USER}\r\n\r\n"
    ).encode()
    socks = [socket.create_connection((LOOPBACK, port)) for _ in range(count)]
    for sock in socks:
        sock.sendall(request)
    for sock in socks:
        read_until(sock, b"stream open")
    return socks


def open_sockets(port: int, count: int) -> list[socket.socket]:
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET /ws HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-API-Key: {USER}\r\n\r\n"
    ).encode()
    subscribe = masked_text(
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "events/subscribe", "params": {"types": ["tool.call"]}}
        ).encode()
    )
    socks = [socket.create_connection((LOOPBACK, port)) for _ in range(count)]
    for sock in socks:
        sock.sendall(handshake)
    for sock in socks:
        assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 101")
        sock.sendall(subscribe)
    for sock in socks:
        read_until(sock, b'"subscription"')
    return socks


def vanish(socks: list[socket.socket]) -> None:
    """Half close as a client does; half reset, as a client that crashed or lost its network."""
    for index, sock in enumerate(socks):
        if index % 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def test_a_thousand_idle_streams_and_sockets_are_served_then_cleaned_up_when_they_vanish(tmp_path: Any) -> None:
    with served(tmp_path) as bridge:
        feed = bridge.bridge.feed
        streams = open_streams(bridge.port, MANY)
        sockets = open_sockets(bridge.port, MANY)
        try:
            poll(lambda: feed.followers == 2 * MANY, 30, what=f"{2 * MANY} followers")
            assert (bridge.stream.open, bridge.websocket.open) == (MANY, MANY)
            with SseClient(bridge.url, "/mcp/stream?type=tool.call.finished", {"X-API-Key": USER}) as watcher:
                assert watcher.status == 200
                assert (
                    bridge.bridge.gateway.run(
                        bridge.bridge.gateway.call_tool("events", "echo", {"text": "busy"}, principal=_user(bridge))
                    )["isError"]
                    is False
                )
                assert watcher.next().data["tool"] == "echo"  # events flow with 2,000 idle subscribers
            vanish(streams)
            vanish(sockets)
            poll(lambda: feed.followers == 0, 15, what="every follower gone")
            poll(lambda: (bridge.stream.open, bridge.websocket.open) == (0, 0), 15, what="every stream and socket gone")
        finally:  # a failure above must not leave 2,000 sockets to the next test
            for sock in streams + sockets:
                sock.close()


def _user(bridge: Served) -> Any:
    from bridge.gate.keys import ApiKeyAuthenticator

    return ApiKeyAuthenticator([USER]).authenticate(_Key())


class _Key:
    def get(self, key: str, default: str) -> str:
        return USER if key == "x-api-key" else default


def test_an_idle_stream_gets_heartbeat_comments(tmp_path: Any) -> None:
    with served(tmp_path) as bridge, SseClient(bridge.url, "/mcp/stream", {"X-API-Key": USER}) as client:
        with pytest.raises(TimeoutError):
            client.next(timeout=0.9)
        assert client.comments.count("keep-alive") >= 3
