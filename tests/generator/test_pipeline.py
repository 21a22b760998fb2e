"""The generator as a pipeline: deterministic, stamped, checked for drift, problems reported together."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bridge.cli import main
from generator.pipeline import check, generate_files, write
from generator.problems import GenerationFailed
from tests.support import ROOT

SPEC = ROOT / "openapi" / "openapi.yaml"


def test_checked_in_output_matches_the_spec() -> None:
    result = CliRunner().invoke(main, ["generate", "--check", "--spec", str(SPEC)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for target in ("python", "typescript", "server"):
        assert f"{target}: generated/{target} is up to date" in result.output


@pytest.mark.parametrize("target", ["python", "typescript", "server"])
def test_output_is_deterministic_and_stamped_with_the_specs_digest(target: str) -> None:
    first, _ = generate_files(target, str(SPEC), "pkg")  # type: ignore[arg-type]
    second, _ = generate_files(target, str(SPEC), "pkg")  # type: ignore[arg-type]
    assert first == second
    import hashlib

    digest = hashlib.sha256(SPEC.read_bytes()).hexdigest()
    stamped = [content for name, content in first.items() if name.endswith((".py", ".ts"))]
    assert stamped
    assert all(f"sha256 {digest}. Do not edit." in content.splitlines()[0] for content in stamped)


def test_check_reports_drift_as_a_diff(tmp_path: Path) -> None:
    files, _ = generate_files("python", str(SPEC), "pkg")
    write(files, tmp_path)
    assert check(files, tmp_path) == ""
    client = tmp_path / "pkg" / "client.py"
    client.write_text(client.read_text() + "# a hand edit\n")
    (tmp_path / "pkg" / "stray.py").write_text("x = 1\n")
    diff = check(files, tmp_path)
    assert "-# a hand edit" in diff
    assert "a/pkg/stray.py" in diff
    result = CliRunner().invoke(
        main, ["generate", "python", "--check", "--spec", str(SPEC), "--out", str(tmp_path), "--package", "pkg"]
    )
    assert result.exit_code == 1
    assert "-# a hand edit" in result.output


def test_spec_problems_are_reported_together_with_their_place(tmp_path: Path) -> None:
    document = yaml.safe_load(SPEC.read_text())
    del document["paths"]["/servers"]["get"]["operationId"]
    document["paths"]["/tools"]["get"]["operationId"] = "getServer"
    document["paths"]["/resources"]["get"]["parameters"] = [{"$ref": "other.yaml#/p"}]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(GenerationFailed) as failed:
        generate_files("python", str(broken), "pkg")
    messages = [str(p) for p in failed.value.problems]
    assert "error: /paths/~1servers/get: operation has no operationId; every generated method needs one" in messages
    assert any(m.startswith("error: /paths/~1tools/get: operationId 'getServer' is also used at") for m in messages)
    assert any("/paths/~1resources/get/parameters/0: only local references are supported" in m for m in messages)
    result = CliRunner().invoke(main, ["generate", "python", "--spec", str(broken), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "problem(s); nothing written" in result.output
    assert not (tmp_path / "o").exists()


def test_a_spec_that_is_not_openapi_is_refused_with_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n")
    with pytest.raises(GenerationFailed) as failed:
        generate_files("typescript", str(bad), "pkg")
    assert "not valid OpenAPI" in str(failed.value)
