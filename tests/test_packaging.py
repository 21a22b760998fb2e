"""The wheel installs into a fresh venv with today's releases and serves from there, PDFs only with the demo extra."""

import json
import subprocess
import sys
import venv
from pathlib import Path

import requests
from packaging.requirements import Requirement

from tests.support import ROOT, bridge_process


def test_wheel_installs_in_a_fresh_venv_and_serves_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("mcp_rest_bridge-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    versions = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('mcp'), m.version('flask'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert versions[0].startswith("2.")
    assert versions[1].startswith("3.")
    # fpdf2 is the demo extra's, not the bridge's: a plain install goes without it.
    probe = "import importlib.metadata as m, importlib.util as u, json; "
    probe += "print(json.dumps([m.requires('mcp-rest-bridge'), u.find_spec('fpdf') is None]))"
    requires, without_fpdf = json.loads(
        subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    (fpdf2,) = [req for req in map(Requirement, requires) if req.name == "fpdf2"]
    assert fpdf2.marker is not None
    assert (fpdf2.marker.evaluate({"extra": "demo"}), fpdf2.marker.evaluate({"extra": "dev"})) == (True, False)
    assert without_fpdf

    mcp_bridge = env_dir / "bin" / "mcp-bridge"
    # Run outside the checkout, so `python -m bridge.demo` can only find the installed copy.
    with bridge_process(tmp_path, None, command=[str(mcp_bridge)], cwd=tmp_path) as bridge:
        servers = requests.get(bridge.url + "/servers", timeout=30).json()["servers"]
        assert [(s["name"], s["status"]) for s in servers] == [("demo", "ready")]
        result = requests.post(
            bridge.url + "/servers/demo/tools/analyze_data",
            json={"data": [1, 2, 3, 4], "metrics": ["mean", "median"]},
            timeout=30,
        ).json()
        assert result["structuredContent"]["metrics"] == {"mean": 2.5, "median": 2.5}
        pdf = requests.post(
            bridge.url + "/servers/demo/tools/generate_report",
            json={"analysis": {"metrics": {"mean": 2.5}}, "format": "pdf"},
            timeout=30,
        )
        why = "Error executing tool generate_report: PDF reports need fpdf2: pip install 'mcp-rest-bridge[demo]'"
        assert pdf.status_code == 422
        assert pdf.json()["detail"] == f"tool 'demo.generate_report' failed: {why}"
        assert pdf.json()["content"] == [{"type": "text", "text": why}]
        spec = requests.get(bridge.url + "/openapi.json", timeout=30).json()
        assert spec["openapi"].startswith("3.1")
