"""The README's pipeline example, run for real against `mcp-bridge serve` with the demo server."""

import runpy
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, bridge_process

EXAMPLE = ROOT / "examples" / "pipeline.py"


def test_pipeline_chains_validate_transform_analyze_report_over_rest(tmp_path: Path) -> None:
    with bridge_process(tmp_path, None, "--api-key", "pipeline-key") as bridge:
        pipeline = runpy.run_path(str(EXAMPLE))
        report = pipeline["run_pipeline"](bridge.url, [3, "4", 5, None, 8], api_key="pipeline-key")
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
    assert report, "run_pipeline returned nothing"
    assert completed.returncode == 0, completed.stderr
    assert out.read_bytes().startswith(b"%PDF")
