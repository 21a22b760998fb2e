"""What the limits tests share: a real Redis on a loopback port, bridges in front of the rich server."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from harness import accepting, free_port, poll, started
from tests.servers.launch import RICH_SERVER
from tests.support import START_TIMEOUT, BridgeProcess

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def rich_config() -> dict[str, Any]:
    return {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``redis-server`` of its own (Debian's package), nothing kept on disk; stopped by its PID."""
    server = shutil.which("redis-server")
    assert server is not None, "install Debian's redis-server (.ci/run does)"
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(workdir)]
    with started("redis", argv, log=workdir / "redis.log") as process:
        process.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting on {port}")
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def call(
    bridge: BridgeProcess, key: str, tool: str, arguments: dict[str, Any], timeout: float = 30
) -> requests.Response:
    """A tool call on the fast route (``POST /servers/rich/tools/{tool}``)."""
    return requests.post(
        f"{bridge.url}/servers/rich/tools/{tool}", json=arguments, headers={"X-API-Key": key}, timeout=timeout
    )


def answered(status: int, ask: Callable[[], requests.Response], timeout: float = 10) -> requests.Response:
    """The first answer with ``status`` among ``ask()``'s, asked until one has it (within ``timeout``).

    A response is falsy when it is an error, so it rides to ``poll`` in a tuple.
    """
    return poll(lambda: (r := ask()).status_code == status and (r,), timeout, what=f"an answer {status}")[0]


def limited(detail: str, policy: str, retry: int, instance: str) -> dict[str, Any]:
    """The whole 429 body the bridge answers."""
    return {
        "type": PROBLEMS + "rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": detail,
        "violated-policies": [policy],
        "retryAfterSeconds": retry,
        "instance": instance,
    }
