"""Real bridges and a real webhook endpoint, each a process of its own, for the webhook tests."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import accepting, free_port, poll, started
from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, BridgeProcess, bridge_process

ADMIN = "admin-key-of-the-webhook-tests"
USER = "user-key-of-the-webhook-tests"
RECEIVER = Path(__file__).resolve().parent / "receiver.py"
#: Attempts in all: the first, then one after each of these delays (seconds).
DELAYS = "0.3,0.3"
RICH = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio", "--name", "rich"]}}}


@dataclass
class Receiver:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def heard(self, prefix: str = "/") -> list[dict[str, Any]]:
        heard: list[dict[str, Any]] = requests.get(self.url("/_received"), timeout=5).json()
        return [h for h in heard if h["path"].startswith(prefix)]


@dataclass
class Api:
    """The bridge's REST API as its admin calls it; ``made`` are the subscriptions to delete after."""

    bridge: BridgeProcess
    made: list[str] = field(default_factory=list)

    def __call__(self, method: str, path: str, body: Any = None, key: str = ADMIN) -> requests.Response:
        return requests.request(
            method, self.bridge.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def subscribe(self, **body: Any) -> dict[str, Any]:
        answer = self("POST", "/webhooks", body)
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        self.made.append(made["id"])
        return made

    def call(self, text: str = "hello") -> None:
        answer = self("POST", "/servers/rich/tools/echo", {"text": text}, key=USER)
        assert answer.status_code == 200, answer.text

    def deliveries(self, webhook: str) -> list[dict[str, Any]]:
        answer = self("GET", f"/webhooks/{webhook}/deliveries")
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["deliveries"]
        return found

    def settled(self, webhook: str, count: int, status: str, timeout: float = 20) -> list[dict[str, Any]]:
        """The subscription's deliveries once ``count`` of them have ``status``."""

        def done() -> list[dict[str, Any]] | None:
            found = self.deliveries(webhook)
            return found if sum(d["status"] == status for d in found) >= count else None

        return poll(done, timeout, what=f"{count} deliveries {status}")


def start_receiver(tmp: Path) -> Iterator[Receiver]:
    port = free_port()
    with started("receiver", [sys.executable, str(RECEIVER), str(port)], log=tmp / "receiver.log") as process:
        process.wait_until(lambda: accepting(port), 30, "accepting")
        yield Receiver(port)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    yield from start_receiver(tmp_path_factory.mktemp("receiver"))


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    args = ["--admin-key", ADMIN, "--api-key", USER, "--allow-private-webhooks", "--webhook-retry-delays", DELAYS]
    with bridge_process(tmp_path_factory.mktemp("bridge"), RICH, *args) as running:
        yield running


@pytest.fixture
def api(bridge: BridgeProcess) -> Iterator[Api]:
    api = Api(bridge)
    yield api
    for webhook in api.made:
        api("DELETE", f"/webhooks/{webhook}")


@pytest.fixture(scope="module")
def python_client() -> Iterator[Any]:
    """``mcp_bridge_client`` from generated/python, as its users import it."""
    sys.path.insert(0, str(ROOT / "generated" / "python"))
    try:
        yield importlib.import_module("mcp_bridge_client")
    finally:
        sys.path.remove(str(ROOT / "generated" / "python"))
