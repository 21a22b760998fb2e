"""Two real bridges behind no balancer: one SQLite store file, one redis-server, the calls server behind each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.calls.conftest import ALICE, BOB, Api, calls_upstream
from tests.events.sse import SseClient
from tests.limits.conftest import redis_url  # noqa: F401  (the fixture: a redis-server of its own)
from tests.support import BridgeProcess, bridge_process

__all__ = ["ALICE", "Api", "instance", "stream"]


@contextmanager
def instance(where: Path, redis: str, *args: str) -> Iterator[BridgeProcess]:
    """One more bridge on the shared store (``where/shared.db``) and Redis."""
    with (
        calls_upstream("modern") as entry,
        bridge_process(
            where,
            {"mcpServers": {"calls": entry}},
            "--api-key",
            ALICE,
            "--api-key",
            BOB,
            "--registry",
            str(where / "shared.db"),
            "--redis-url",
            redis,
            *args,
        ) as bridge,
    ):
        yield bridge


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instances")


@pytest.fixture(scope="module")
def pair(shared: Path, redis_url: str) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:  # noqa: F811
    with instance(shared, redis_url) as a, instance(shared, redis_url) as b:
        yield a, b


def stream(bridge: BridgeProcess, query: str = "type=tool.call", **headers: str) -> SseClient:
    return SseClient(bridge.url, f"/mcp/stream?{query}", {"X-API-Key": ALICE, **headers})
