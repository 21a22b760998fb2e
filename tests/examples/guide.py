"""What the tests of examples/ share: where the examples are, a bridge that is ready, and running one.

Python examples run as their own processes, as a reader runs them, with the generated Python
client on their path (``PYTHONPATH=generated/python``, as the examples' headers say); a test that
needs to reach inside one (to pause its retries) loads it as a module instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness import http_call
from tests.support import ROOT, START_TIMEOUT, BridgeProcess, bridge_process

__all__ = ["GUIDE", "PYTHON_CLIENT", "SERVERS", "load_example", "ready_bridge", "run_example", "venv_path"]

GUIDE = ROOT / "examples" / "guide"
SERVERS = ROOT / "examples" / "servers"
#: The generated Python client's folder: what the examples import as ``mcp_bridge_client``.
PYTHON_CLIENT = ROOT / "generated" / "python"
#: Bound on one example's run: a few calls through a bridge, or a few seconds of its own backoff.
RUN_TIMEOUT = 120


def venv_path() -> str:
    """A PATH whose ``python`` is this interpreter, as the examples' configs expect of the project's venv."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def _port(bridge: BridgeProcess) -> int:
    return int(bridge.url.rsplit(":", 1)[1])


def _servers_ready(bridge: BridgeProcess, names: Sequence[str]) -> bool:
    status, body = http_call(_port(bridge), "GET", "/readyz")
    if status is None or not body:
        return False
    states = {server["name"]: server["status"] for server in json.loads(body)["servers"]}
    return all(states.get(name) == "ready" for name in names)


@contextmanager
def ready_bridge(
    tmp_path: Path,
    config: dict[str, Any] | None,
    *args: str,
    ready: Sequence[str] = ("demo",),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[BridgeProcess]:
    """``mcp-bridge serve`` as ``tests.support.bridge_process`` starts it, yielded once the servers
    named in ``ready`` have answered (``/readyz``, which needs no key, lists each server's state)."""
    with bridge_process(tmp_path, config, *args, env=env, cwd=cwd) as bridge:
        bridge.process.wait_until(lambda: _servers_ready(bridge, ready), START_TIMEOUT, f"{', '.join(ready)} ready")
        yield bridge


def run_example(name: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run examples/guide/NAME (Python, or a shell script) with ``env`` added; whatever its exit status.

    ``MCP_API_KEY`` is left out unless given, so a key in the test's own environment never leaks in.
    """
    path = GUIDE / name
    command = ["sh", str(path)] if path.suffix == ".sh" else [sys.executable, str(path)]
    inherited = {k: v for k, v in os.environ.items() if k not in {"MCP_API_KEY", "MCP_BRIDGE_URL"}}
    return subprocess.run(
        [*command, *argv],
        env={**inherited, "PYTHONPATH": str(PYTHON_CLIENT), **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """examples/guide/NAME imported as a module (its ``__main__`` block does not run)."""
    monkeypatch.syspath_prepend(str(PYTHON_CLIENT))
    spec = importlib.util.spec_from_file_location(f"guide_{Path(name).stem}", GUIDE / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
