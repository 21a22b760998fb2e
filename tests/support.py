"""Helpers for tests that run bridges: in-process (Flask test client) or as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bridge.config import BridgeSettings, ServerConfig
from bridge.model import ServerStatus
from bridge.runtime import Bridge
from tests.servers.launch import RICH_SERVER, free_port

ROOT = Path(__file__).resolve().parent.parent
#: Upper bound for anything a test waits on; polling stops as soon as the condition holds.
WAIT = 30.0


def rich_stdio(name: str = "rich", *, legacy: bool = False, timeout: float = 60.0) -> ServerConfig:
    args = [str(RICH_SERVER), "stdio", "--name", name, *(["--legacy"] if legacy else [])]
    return ServerConfig(name=name, transport="stdio", command=sys.executable, args=tuple(args), call_timeout=timeout)


def time_stdio(name: str = "time") -> ServerConfig:
    return ServerConfig(name=name, transport="stdio", command=sys.executable, args=("-m", "mcp_server_time"))


@contextmanager
def in_process_bridge(servers: Sequence[ServerConfig], **settings: Any) -> Iterator[Bridge]:
    bridge = Bridge.create(BridgeSettings(**settings), servers)
    try:
        yield bridge
    finally:
        bridge.close()


def poll(condition: Any, timeout: float = WAIT, interval: float = 0.05) -> Any:
    """Call ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class BridgeProcess:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


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
    """``mcp-bridge serve`` as a real process on a free loopback port; stopped by its PID."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    cmd = [*list(command or [sys.executable, "-m", "bridge.cli"]), "serve", "--port", str(port), *args]
    if "--registry" not in args:  # never the user's own registry file
        cmd += ["--registry", str(tmp_path / f"registry-{port}.db")]
    if config is not None:
        config_path = tmp_path / f"servers-{port}.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        cmd += ["--config", str(config_path)]
    log_path = tmp_path / f"bridge-{port}.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    running = BridgeProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        poll(lambda: _healthy(running.url) or process.poll() is not None, timeout=60)
        if process.poll() is not None:
            raise AssertionError(f"bridge exited with {process.returncode}:\n{running.log()}")
        yield running
    finally:
        stop(process)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)
    return process.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


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
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if ppid == parent and str(script).encode() in argv:
            found.append(int(entry.name))
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
