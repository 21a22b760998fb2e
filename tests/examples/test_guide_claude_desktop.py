"""The guide's Claude Desktop configuration (examples/guide/claude_desktop_config.json) as the bridge's
``--config``: its one server starts with the key expanded into its environment, and answers the
guide's call; without the variable the bridge does not start, and says where it was needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness import free_port
from tests.examples.guide import GUIDE, ready_bridge, venv_path
from tests.support import BridgeProcess

CONFIG = GUIDE / "claude_desktop_config.json"
KEY = "desktop-key"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    env = {"PATH": venv_path(), "MCP_API_KEY": KEY}
    tmp = tmp_path_factory.mktemp("desktop")
    with ready_bridge(tmp, None, "--config", str(CONFIG), ready=("my-server",), env=env) as running:
        yield running


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


def test_the_config_starts_my_server_with_the_key_in_its_environment(bridge: BridgeProcess) -> None:
    servers = requests.get(f"{bridge.url}/servers", timeout=60).json()["servers"]
    assert [(s["name"], s["transport"], s["status"]) for s in servers] == [("my-server", "stdio", "ready")]
    (child,) = [
        pid
        for pid in bridge.process.children()
        if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"bridge.demo"]
    ]
    assert _environ(child)["MCP_API_KEY"] == KEY


def test_my_server_answers_the_guides_call(bridge: BridgeProcess) -> None:
    response = requests.post(
        f"{bridge.url}/servers/my-server/tools/process_data", json={"input": "test data", "format": "json"}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json()["structuredContent"] == {
        "kind": "text",
        "count": 1,
        "characters": 9,
        "words": 2,
        "lines": 1,
        "value": "test data",
    }


def test_without_the_variable_the_bridge_does_not_start_and_says_where_it_was_needed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MCP_API_KEY"}
    command = [sys.executable, "-m", "bridge.cli", "serve", "--port", str(free_port()), "--config", str(CONFIG)]
    command += ["--registry", str(tmp_path / "registry.db")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (
        1,
        "Error: mcpServers.my-server.env.MCP_API_KEY: environment variable MCP_API_KEY is not set\n",
    )
    assert json.loads(CONFIG.read_text())["mcpServers"]["my-server"]["env"] == {"MCP_API_KEY": "${MCP_API_KEY}"}
