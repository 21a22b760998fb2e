"""Real bridges in front of the calls test server (``tests/servers/calls_server.py``).

Upstreams: ``modern`` (stdio, 2026-07-28), ``legacy`` (stdio, 2025-11-25 handshake only) and
``http`` (Streamable HTTP, 2026-07-28: questions come back as input-required results). Two
callers, each with its own API key. ``Api`` is the REST API as one caller calls it.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import accepting, free_port, poll, started
from tests.support import ROOT, BridgeProcess, bridge_process

ALICE = "alice-key-of-the-calls-tests"
BOB = "bob-key-of-the-calls-tests"
UPSTREAMS = ["modern", "legacy", "http"]
ASYNC = {"Prefer": "respond-async"}


@contextmanager
def calls_upstream(kind: str) -> Iterator[dict[str, Any]]:
    """The ``mcpServers`` entry of the calls server, running as ``kind`` says."""
    module = ["-m", "tests.servers.calls_server"]
    if kind != "http":
        args = [*module, "stdio", *(["--legacy"] if kind == "legacy" else [])]
        yield {"command": sys.executable, "args": args, "cwd": str(ROOT)}
        return
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="calls-server-") as logs,
        started(
            "calls server (http)",
            [sys.executable, *module, "http", "--port", str(port)],
            cwd=ROOT,
            log=Path(logs) / "server.log",
        ) as server,
    ):
        server.wait_until(lambda: accepting(port), 30, f"accepting connections on port {port}")
        yield {"url": f"http://127.0.0.1:{port}/mcp", "type": "streamable-http"}


@contextmanager
def calls_bridge(tmp: Path, kind: str, *args: str, **options: Any) -> Iterator[BridgeProcess]:
    with (
        calls_upstream(kind) as entry,
        bridge_process(
            tmp, {"mcpServers": {"calls": entry}}, "--api-key", ALICE, "--api-key", BOB, *args, **options
        ) as bridge,
    ):
        yield bridge


@dataclass
class Api:
    """The REST API as one caller (``key``) calls it."""

    url: str
    key: str = ALICE

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.key}", **{k.replace("_", "-"): v for k, v in headers.items()}}
        return requests.request(method, self.url + path, json=body, headers=sent, timeout=30)

    def start(self, tool: str, arguments: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        """An asynchronous call of ``tool``, started: its resource (202)."""
        answer = self("POST", f"/servers/calls/tools/{tool}", arguments or {}, Prefer="respond-async", **headers)
        assert answer.status_code == 202, answer.text
        call: dict[str, Any] = answer.json()
        return call

    def get(self, call_id: str) -> dict[str, Any]:
        answer = self("GET", f"/calls/{call_id}")
        assert answer.status_code == 200, answer.text
        call: dict[str, Any] = answer.json()
        return call

    def until(self, call_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
        """The call once it is in ``state`` (polled, bounded)."""

        def reached() -> dict[str, Any] | None:
            call = self.get(call_id)
            return call if call["state"] == state else None

        return poll(reached, timeout, what=f"call {call_id} {state}")

    def says(self, tool: str) -> Any:
        """The answer of one of the calls server's argument-less counters, called synchronously."""
        answer = self("POST", f"/servers/calls/tools/{tool}", {})
        assert answer.status_code == 200, answer.text
        return answer.json()["structuredContent"]["result"]


@pytest.fixture(scope="module", params=UPSTREAMS)
def upstream(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="module")
def bridge(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with calls_bridge(tmp_path_factory.mktemp(f"calls-{upstream}"), upstream) as running:
        yield running


@pytest.fixture
def alice(bridge: BridgeProcess) -> Api:
    return Api(bridge.url, ALICE)


@pytest.fixture
def bob(bridge: BridgeProcess) -> Api:
    return Api(bridge.url, BOB)
