"""One live bridge for the hostile tests; after every attack it must still be serving."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import http_status
from tests.leaks import secret
from tests.servers.launch import RICH_SERVER
from tests.support import bridge_process

KEY = secret("hostile-plain-key-7f3a")
ADMIN = secret("hostile-admin-key-91c2")
ALLOWED_ORIGIN = "https://app.example"


@dataclass
class Target:
    port: int
    audit_log: Path

    @property
    def use(self) -> dict[str, str]:
        return {"X-API-Key": KEY}

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="package")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("hostile")
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    audit = tmp / "audit.jsonl"
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--audit-log", str(audit), "--allowed-origin", ALLOWED_ORIGIN)
    with bridge_process(tmp, config, *args) as bridge:
        yield Target(int(bridge.url.rpartition(":")[2]), audit)


@pytest.fixture(autouse=True)
def still_serving(target: Target) -> Iterator[None]:
    """Each attack leaves the bridge answering."""
    yield
    assert http_status(target.port, "GET", "/healthz", timeout=10.0) == 200
