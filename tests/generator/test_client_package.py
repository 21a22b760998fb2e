"""The generated Python client is a package a team can publish: its wheel installs into a fresh
venv with only its declared dependencies, and both clients make a first call against a live bridge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support import ROOT, bridge_process

FIRST_CALLS = """
import asyncio, importlib.metadata as metadata, json, sys
import mcp_bridge_client
from mcp_bridge_client import AsyncClient, Client

url = sys.argv[1]
with Client(url + "/mcp") as client:
    tools = sorted(t.qualifiedName for t in client.list_tools())
    words = client.call_tool("process_data", {"input": "test data", "format": "text"}).structuredContent["words"]

async def first_async_call():
    async with AsyncClient(url) as client:
        result = await client.call_tool(server="demo", tool="analyze_data", params={"data": [1, 2, 3, 4]})
        return result.structuredContent["metrics"]["mean"]

print(json.dumps({
    "tools": tools,
    "words": words,
    "mean": asyncio.run(first_async_call()),
    "installed": "site-packages" in mcp_bridge_client.__file__,
    "version": metadata.version("mcp-bridge-client"),
    "requires": sorted(r.split(">")[0].split("<")[0] for r in metadata.requires("mcp-bridge-client")),
}))
"""


@pytest.mark.timeout(900)
def test_the_client_wheel_installs_in_a_fresh_venv_and_both_clients_call_a_live_bridge(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "generated" / "python", source, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("mcp_bridge_client-1.0.0-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    with bridge_process(tmp_path / "bridge") as bridge:
        ran = subprocess.run(
            [str(python), "-c", FIRST_CALLS, bridge.url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=clean,
            check=False,
        )
    assert ran.returncode == 0, ran.stderr[-3000:]
    out = json.loads(ran.stdout)
    assert "demo.process_data" in out.pop("tools")
    assert out == {
        "words": 2,
        "mean": 2.5,
        "installed": True,
        "version": "1.0.0",
        "requires": ["anyio", "httpx2", "pydantic", "requests"],
    }
