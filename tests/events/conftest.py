"""One real bridge for the event tests: the events test server and the demo behind it, three keys."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import BridgeProcess, bridge_process

EVENTS_SERVER = Path(__file__).resolve().parent.parent / "servers" / "events_server.py"
USER = "user-key"
OTHER = "other-key"
ADMIN = "admin-key"
KEYS = ("--api-key", USER, "--api-key", OTHER, "--admin-key", ADMIN)


def servers(witness: Path) -> dict[str, Any]:
    return {
        "mcpServers": {
            "events": {"command": sys.executable, "args": [str(EVENTS_SERVER), str(witness)]},
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
        }
    }


@pytest.fixture(scope="package")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the events server writes down the calls it saw cancelled."""
    return tmp_path_factory.mktemp("witness")


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, witness: Path) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("events-bridge"), servers(witness), *KEYS) as bridge:
        yield bridge


def call(bridge: BridgeProcess, tool: str, arguments: dict[str, Any], key: str = USER, server: str = "events") -> Any:
    """A tool call over REST; its answer's JSON."""
    response = requests.post(
        f"{bridge.url}/servers/{server}/tools/{tool}", json=arguments, headers={"X-API-Key": key}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()
