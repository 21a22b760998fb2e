"""Helpers for tests that run bridges: in-process (Flask test client) or as a real process."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config import BridgeSettings, ServerConfig
from bridge.model import ServerStatus
from bridge.runtime import Bridge
from harness import Proc, children, free_port, http_status, started
from tests.leaks import register_args, register_env, secret
from tests.servers.launch import RICH_SERVER

ROOT = Path(__file__).resolve().parent.parent
#: Bound on how long ``mcp-bridge serve`` may take to answer ``/healthz``: a Python start and the
#: imports, on a machine other suites keep busy.
START_TIMEOUT = 60.0


def problem(response: Any) -> dict[str, Any]:
    """A problem answer's body (``requests`` or ``httpx``) less its ``requestId``, which must be the
    id the answer's ``X-Request-Id`` header carries: what is left is the same on every request, so
    a test compares it whole."""
    return unnamed(response.json(), response.headers.get("X-Request-Id"))


def unnamed(found: Any, request_id: str | None) -> dict[str, Any]:
    """A problem (a body, or a JSON-RPC error's ``data``) less its ``requestId``, which must be
    ``request_id``: the id of the HTTP request it answers (on a WebSocket, its handshake's)."""
    assert isinstance(found, dict), found
    body = dict(found)
    named = body.pop("requestId", None)
    assert named is not None, found
    assert named == request_id, (named, request_id)
    return body


def rich_stdio(name: str = "rich", *, legacy: bool = False, timeout: float = 60.0) -> ServerConfig:
    args = [str(RICH_SERVER), "stdio", "--name", name, *(["--legacy"] if legacy else [])]
    return ServerConfig(name=name, transport="stdio", command=sys.executable, args=tuple(args), call_timeout=timeout)


def time_stdio(name: str = "time") -> ServerConfig:
    return ServerConfig(name=name, transport="stdio", command=sys.executable, args=("-m", "mcp_server_time"))


@contextmanager
def in_process_bridge(servers: Sequence[ServerConfig], **settings: Any) -> Iterator[Bridge]:
    for key in (*settings.get("api_keys", ()), *settings.get("admin_keys", ()), settings.get("webhook_secret") or ""):
        secret(key)
    bridge = Bridge.create(BridgeSettings(**settings), servers)
    try:
        yield bridge
    finally:
        bridge.close()


@dataclass
class BridgeProcess:
    url: str
    process: Proc

    def log(self) -> str:
        return self.process.log_text()

    def access_line(self, request_id: str) -> dict[str, Any] | None:
        """The access log line (``--log-format json``) of the request named ``request_id``, if written yet."""
        for line in self.log().splitlines():
            entry: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
            if entry.get("requestId") == request_id and entry.get("logger") == "bridge.access":
                return entry
        return None


def _healthy(port: int) -> bool:
    return http_status(port, "GET", "/healthz", timeout=1.0) == 200


@contextmanager
def bridge_process(
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    *args: str,
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    port: int | None = None,
) -> Iterator[BridgeProcess]:
    """``mcp-bridge serve`` as a real process on a free loopback port, healthy when yielded; stopped by its PID."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    register_args(args)
    register_env(env or {})
    for entry in (config or {}).get("mcpServers", {}).values():  # upstreams' credentials, as sent upstream
        for value in entry.get("headers", {}).values():
            secret(value.removeprefix("Bearer ").strip())
    port = port or free_port()
    cmd = [*list(command or [sys.executable, "-m", "bridge.cli"]), "serve", "--port", str(port), *args]
    if "--registry" not in args and "--store" not in args:  # never the user's own registry file
        cmd += ["--registry", str(tmp_path / f"registry-{port}.db")]
    if config is not None:
        config_path = tmp_path / f"servers-{port}.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        cmd += ["--config", str(config_path)]
    log = tmp_path / f"bridge-{port}.log"
    with started("bridge", cmd, cwd=cwd, log=log, env={**os.environ, **(env or {})}) as process:
        process.wait_until(lambda: _healthy(port), START_TIMEOUT, "healthy (/healthz 200)")
        yield BridgeProcess(f"http://127.0.0.1:{port}", process)


#: Holding a child to some CPUs can be tested: Linux, and at least one CPU left for everything else.
PINNABLE = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def cpus_of(pid: int) -> set[int]:
    """The CPU set of every thread of ``pid`` (they must agree)."""
    masks = {frozenset(os.sched_getaffinity(int(tid))) for tid in os.listdir(f"/proc/{pid}/task")}
    assert len(masks) == 1, masks
    return set(next(iter(masks)))


def children_running(script: Path, parent: int | None = None) -> list[int]:
    """PIDs of ``parent``'s children (this process's by default) whose command line names ``script``."""
    parent = os.getpid() if parent is None else parent
    found = []
    for kid in children(parent):
        try:
            argv = Path(f"/proc/{kid}/cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if str(script).encode() in argv:
            found.append(kid)
    return found


class HeardUpstream:
    """An ``UpstreamListener`` that writes down what it hears, in order."""

    def __init__(self) -> None:
        self.catalogs: list[str] = []
        self.states: list[tuple[str, ServerStatus]] = []
        self.updates: list[tuple[str, str]] = []

    def catalog_changed(self, server: str) -> None:
        self.catalogs.append(server)

    def state_changed(self, server: str, status: ServerStatus) -> None:
        self.states.append((server, status))

    def resource_updated(self, server: str, uri: str) -> None:
        self.updates.append((server, uri))
