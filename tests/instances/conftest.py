"""Two real ``mcp-bridge serve`` processes on one store, as several instances behind a load
balancer run, and helpers to call either of them. Every test runs on a SQLite file and on a
PostgreSQL database (a private cluster, ``tests.harness.postgres``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.harness.postgres import PostgresCluster, postgres_cluster  # noqa: F401  (fixtures)
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
ENGINES = ("sqlite", "postgresql")
#: Makes a new store for a test's own instances (``store_of``), its files in the folder given.
StoreOf = Callable[[Path], AbstractContextManager[str]]
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
    #: The store both serve: a SQLite file or a PostgreSQL URL.
    registry: str


@contextmanager
def instances(store: str, folder: Path, *extra: str, count: int = 2) -> Iterator[list[Instance]]:
    """``count`` bridges started one after the other on one store, their files in ``folder``."""
    with ExitStack() as stack:
        yield [
            Instance(stack.enter_context(bridge_process(folder / f"i{n}", RICH, *ARGS, *extra, "--registry", store)))
            for n in range(count)
        ]


@contextmanager
def a_store(engine: str, folder: Path, cluster: Callable[[], PostgresCluster]) -> Iterator[str]:
    """A new store on ``engine``: a file in ``folder``, or a database in the session's cluster."""
    if engine == "sqlite":
        yield str(folder / "registry.db")
        return
    with cluster().database() as url:
        yield url


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine of the store the instances share: each test runs on both."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def store_of(request: pytest.FixtureRequest, engine: str) -> StoreOf:
    """Makes a new store, on the module's engine, for a test's own instances."""
    return lambda folder: a_store(engine, folder, lambda: request.getfixturevalue("postgres_cluster"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, store_of: StoreOf) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("instances")
    with store_of(folder) as store, instances(store, folder, "--delivery-lease", "2") as (a, b):
        yield Pair(a, b, store)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    yield from start_receiver(tmp_path_factory.mktemp("receiver"))


def seconds_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> float:
    """How long ``condition`` took to hold, from now, looking every few milliseconds."""
    began = time.monotonic()
    poll(condition, timeout, interval=0.01, what=what)
    return time.monotonic() - began
