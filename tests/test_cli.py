"""``mcp-bridge serve`` as a real process on 127.0.0.1: production server, shutdown, secrets."""

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import pid_alive, poll
from tests.support import RICH_SERVER, bridge_process, problem

KEY = "tk-0123456789abcdef"


def _rich_config() -> dict[str, Any]:
    return {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}


def test_serve_refuses_a_broken_spec_with_a_clear_message(tmp_path: Path) -> None:
    broken = tmp_path / "openapi.yaml"
    broken.write_text("openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "serve", "--port", "0", "--spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing to start: spec" in result.stderr
    assert "version" in result.stderr  # what is missing from info


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text('{"servers": {}}')
    result = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert 'the config must be an object with an "mcpServers" object' in result.stderr


def test_serve_on_a_taken_port_says_so_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bridge.cli", "serve", "--port", str(port), "--registry", str(tmp_path / "r.db")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_served_by_the_production_server_with_keys_that_never_reach_the_log(tmp_path: Path) -> None:
    with bridge_process(tmp_path, _rich_config(), "--api-key", KEY, "--log-level", "debug") as bridge:
        ok = requests.post(
            bridge.url + "/servers/rich/tools/echo",
            json={"text": "hi"},
            headers={"X-API-Key": KEY},
            timeout=30,
        )
        assert ok.status_code == 200
        assert ok.headers["Server"] == "mcp-rest-bridge"
        wrong = requests.get(bridge.url + "/servers", headers={"Authorization": f"Bearer {KEY}x"}, timeout=30)
        assert wrong.status_code == 401
        assert requests.get(bridge.url + "/healthz", timeout=30).status_code == 200
        log = bridge.log()
    assert "API key required" in log
    assert KEY not in log


def test_api_keys_also_come_from_the_environment(tmp_path: Path) -> None:
    env = {"MCP_BRIDGE_API_KEYS": "env-key-1, env-key-2"}
    with bridge_process(tmp_path, _rich_config(), env=env) as bridge:
        assert requests.get(bridge.url + "/servers", timeout=30).status_code == 401
        headers = {"Authorization": "Bearer env-key-2"}
        assert requests.get(bridge.url + "/servers", headers=headers, timeout=30).status_code == 200


@contextmanager
def _sigint_ignored(ignored: bool) -> Iterator[None]:
    """What a non-interactive shell does to a job it starts with ``&``; its children inherit it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignored else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(
    ("sig", "background"), [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)]
)
def test_stopping_the_bridge_stops_its_stdio_children(tmp_path: Path, sig: int, background: bool) -> None:
    with _sigint_ignored(background), bridge_process(tmp_path, _rich_config()) as bridge:
        response = requests.post(bridge.url + "/servers/rich/tools/pid", json={}, timeout=30)
        child = int(response.json()["structuredContent"]["result"])
        assert pid_alive(child)
        assert bridge.process.stop(sig) == 0
        assert "mcp-bridge: stopped" in bridge.log()
        # Still inside the block: leaving it would have the harness kill a child the bridge left behind.
        poll(lambda: not pid_alive(child), timeout=10, what=f"the bridge's stdio child {child} ending")


def test_body_limit_holds_on_the_real_server(tmp_path: Path) -> None:
    with bridge_process(tmp_path, _rich_config(), "--max-body", "1000") as bridge:
        response = requests.post(bridge.url + "/servers/rich/tools/echo", json={"text": "x" * 2000}, timeout=30)
        assert response.status_code == 413
        assert response.headers["Content-Type"] == "application/problem+json"
        assert problem(response) == {
            "type": "https://mcp-rest-bridge.dev/problems/payload-too-large",
            "title": "Request body is too large",
            "status": 413,
            "detail": "the body is 2012 bytes; the limit is 1000",
            "instance": "/servers/rich/tools/echo",
        }
        assert requests.post(bridge.url + "/servers/rich/tools/echo", json={"text": "x"}, timeout=30).ok
