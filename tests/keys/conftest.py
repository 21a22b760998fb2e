"""One real bridge for the key tests: the demo, the time server and the rich test server behind
it, an admin key from the command line, and its store file where the tests (and the CLI) can
reach it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

#: The operator's key from the command line; stored keys are made with it.
ADMIN = "keys-admin-key-from-the-command-line"
SERVERS = {
    "mcpServers": {
        "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
        "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
        "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
    }
}


@dataclass
class KeyedBridge:
    bridge: BridgeProcess
    registry: Path

    @property
    def url(self) -> str:
        return self.bridge.url

    def make_key(self, **body: Any) -> dict[str, Any]:
        """A stored key made over the admin API; its answer (with the key)."""
        response = requests.post(f"{self.url}/keys", json=body, headers={"X-API-Key": ADMIN}, timeout=30)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedBridge]:
    folder = tmp_path_factory.mktemp("keys-bridge")
    registry = folder / "registry.db"
    with bridge_process(folder, SERVERS, "--admin-key", ADMIN, "--registry", str(registry)) as bridge:
        yield KeyedBridge(bridge, registry)


def get(live: KeyedBridge, path: str, key: str, **options: Any) -> requests.Response:
    return requests.get(f"{live.url}{path}", headers={"X-API-Key": key}, timeout=30, **options)


def post(live: KeyedBridge, path: str, key: str, body: Any = None) -> requests.Response:
    return requests.post(f"{live.url}{path}", json=body, headers={"X-API-Key": key}, timeout=30)
