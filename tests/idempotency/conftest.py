"""A real bridge process in front of the ledger server (its tools count their runs in a file)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import BridgeProcess, bridge_process

LEDGER_SERVER = Path(__file__).resolve().parents[1] / "servers" / "ledger_server.py"
ALICE = "alice-key-of-the-idempotency-tests"
BOB = "bob-key-of-the-idempotency-tests"
KEYS = ("--api-key", ALICE, "--api-key", BOB)


def ledger_config(ledger: Path) -> dict[str, Any]:
    return {"mcpServers": {"ledger": {"command": sys.executable, "args": [str(LEDGER_SERVER), str(ledger)]}}}


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


@dataclass
class Ledger:
    """The ledger server's file: one line per tool run."""

    path: Path

    def runs(self, tool: str, argument: object) -> int:
        if not self.path.exists():
            return 0
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return lines.count(f"{tool} {argument}")


@dataclass
class Caller:
    """One caller of a bridge: its API key, and the calls it makes with an Idempotency-Key."""

    bridge: BridgeProcess
    api_key: str = ALICE

    def call(
        self, path: str, body: Any, key: str | None = None, *, headers: dict[str, str] | None = None
    ) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        if key is not None:
            sent["Idempotency-Key"] = key
        return requests.post(self.bridge.url + path, json=body, headers=sent, timeout=60)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return Ledger(tmp_path_factory.mktemp("ledger") / "ledger.txt")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, ledger: Ledger) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("bridge"), ledger_config(ledger.path), *KEYS) as bridge:
        yield bridge


@pytest.fixture
def alice(served: BridgeProcess) -> Caller:
    return Caller(served, ALICE)


@pytest.fixture
def bob(served: BridgeProcess) -> Caller:
    return Caller(served, BOB)
