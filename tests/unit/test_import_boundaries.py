"""What importing a part of the bridge loads: each checked in a fresh interpreter, so nothing is loaded already."""

import json
import subprocess
import sys

import pytest

from tests.support import ROOT


def _loaded_after_importing(*modules: str) -> set[str]:
    script = f"import importlib, json, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
    script += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(("edge", "other"), [("bridge.proxy", "bridge.endpoint"), ("bridge.endpoint", "bridge.proxy")])
def test_an_mcp_serving_edge_does_not_load_the_other(edge: str, other: str) -> None:
    loaded = _loaded_after_importing(edge)
    assert "bridge.mcpserver" in loaded
    assert sorted(name for name in loaded if name == other or name.startswith(other + ".")) == []
