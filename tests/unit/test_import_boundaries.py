"""What parts of the bridge import: read from the source, and loaded in a fresh interpreter where nothing is yet."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

#: Everything ``mcp-bridge`` runs: the CLI, the runtime, and every layer it serves from.
BRIDGE = ["bridge.cli", "bridge.runtime", "bridge.gateway", "bridge.rest", "bridge.endpoint"]


def _loaded_after_importing(*modules: str) -> set[str]:
    script = f"import importlib, json, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
    script += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_the_bridge_never_loads_fpdf_which_only_the_demos_pdf_reports_need() -> None:
    loaded = _loaded_after_importing(*BRIDGE)
    assert set(BRIDGE) <= loaded
    assert sorted(name for name in loaded if name.split(".")[0] == "fpdf") == []


def test_no_module_of_the_bridge_but_the_demo_imports_fpdf() -> None:
    def imports_fpdf(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "fpdf" for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fpdf":
                return True
        return False

    modules = [path for path in (ROOT / "bridge").rglob("*.py") if "demo" not in path.relative_to(ROOT).parts]
    assert modules
    assert [str(path.relative_to(ROOT)) for path in modules if imports_fpdf(path)] == []


def test_the_demo_server_starts_without_loading_fpdf() -> None:
    loaded = _loaded_after_importing("bridge.demo.__main__")
    assert "bridge.demo.server" in loaded
    assert "fpdf" not in loaded


@pytest.mark.parametrize(("edge", "other"), [("bridge.proxy", "bridge.endpoint"), ("bridge.endpoint", "bridge.proxy")])
def test_an_mcp_serving_edge_does_not_load_the_other(edge: str, other: str) -> None:
    loaded = _loaded_after_importing(edge)
    assert "bridge.mcpserver" in loaded
    assert sorted(name for name in loaded if name == other or name.startswith(other + ".")) == []
