"""The README's pipeline example, run for real against `mcp-bridge serve` with the demo server."""

import math
import runpy
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, bridge_process

EXAMPLE = ROOT / "examples" / "pipeline.py"


def test_pipeline_chains_validate_transform_analyze_report_over_rest(tmp_path: Path) -> None:
    with bridge_process(tmp_path, None, "--api-key", "pipeline-key") as bridge:
        pipeline = runpy.run_path(str(EXAMPLE))
        result = pipeline["run_pipeline"](bridge.url, [3, "4", 5, None, 8], api_key="pipeline-key")
        out = tmp_path / "report.pdf"
        completed = subprocess.run(
            [
                sys.executable,
                str(EXAMPLE),
                "--url",
                bridge.url,
                "--api-key",
                "pipeline-key",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result["validated"]["data"] == [3.0, 4.0, 5.0, 8.0]
    assert result["transformed"]["data"] == [0.0, 0.2, 0.4, 1.0]
    metrics = result["analysis"]["metrics"]
    assert metrics["mean"] == 0.4
    assert metrics["median"] == 0.3
    assert metrics["min"] == 0.0
    assert metrics["max"] == 1.0
    assert metrics["count"] == 4
    assert abs(metrics["std"] - math.sqrt(0.56 / 4)) < 1e-9  # population std of [0, .2, .4, 1]
    assert result["pdf"].startswith(b"%PDF")
    assert "validated: kept 6, rejected 2" in completed.stdout
    assert completed.returncode == 0, completed.stderr
    assert out.read_bytes().startswith(b"%PDF")
