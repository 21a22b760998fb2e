"""Two real ``mcp-bridge serve`` processes on one store file, as several instances behind a
load balancer run, and helpers to call either of them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process
from tests.webhooks.conftest import Receiver, start_receiver

ADMIN = "admin-key-of-the-instance-tests"
USER = "user-key-of-the-instance-tests"
RICH = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio", "--name", "rich"]}}}
#: What every instance is started with: the same keys, and the test's loopback endpoints allowed.
ARGS = (
    "--admin-key", ADMIN, "--api-key", USER, "--allow-private-upstreams", "--allow-private-webhooks",
    "--webhook-retry-delays", "0.5,0.5,0.5,0.5,0.5",
)  # fmt: skip
#: How soon a change made through one instance must hold on the other (the issue's bound).
LIVE_WITHIN = 1.0


@dataclass
class Instance:
    """One bridge process of the pair, called over its REST API."""

    bridge: BridgeProcess

    @property
    def url(self) -> str:
        return self.bridge.url

    def __call__(self, method: str, path: str, body: Any = None, key: str = ADMIN) -> requests.Response:
        return requests.request(method, self.url + path, json=body, headers={"X-API-Key": key}, timeout=30)

    def call(self, text: str, server: str = "rich", key: str = USER) -> requests.Response:
        return self("POST", f"/servers/{server}/tools/echo", {"text": text}, key=key)


@dataclass
class Pair:
    a: Instance
    b: Instance
    registry: Path


@contextmanager
def instances(folder: Path, *extra: str, count: int = 2) -> Iterator[list[Instance]]:
    """``count`` bridges started one after the other on one store file in ``folder``."""
    registry = folder / "registry.db"
    with ExitStack() as stack:
        yield [
            Instance(
                stack.enter_context(bridge_process(folder / f"i{n}", RICH, *ARGS, *extra, "--registry", str(registry)))
            )
            for n in range(count)
        ]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("instances")
    with instances(folder, "--delivery-lease", "2") as (a, b):
        yield Pair(a, b, folder / "registry.db")


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    yield from start_receiver(tmp_path_factory.mktemp("receiver"))


def seconds_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> float:
    """How long ``condition`` took to hold, from now, looking every few milliseconds."""
    began = time.monotonic()
    poll(condition, timeout, interval=0.01, what=what)
    return time.monotonic() - began
