"""The Go client: generated/go is what the spec generates, and the generated modules build.

Built with the Go on PATH (Debian's golang-go 1.19 in CI) offline: no module proxy, a fresh build
cache. The checked-in module runs its offline tests (tests/generator/go/offline) against httptest
servers; a module generated from a live bridge's /openapi.json, typed tool methods and all, runs
tests/generator/go/live against that bridge; and the integration guide's Go example
(examples/guide/go) is built against generated/go and run against a bridge of its own.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bridge.cli import main
from generator.go_target import DEFAULT_MODULE
from generator.pipeline import generate_files, write
from harness import free_port
from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, BridgeProcess, bridge_process

GO = shutil.which("go") or "go"
GOFMT = shutil.which("gofmt") or str(Path(GO).resolve().with_name("gofmt"))
FIXTURES = Path(__file__).resolve().parent / "go"
SPEC = ROOT / "openapi" / "openapi.yaml"
CHECKED_IN = ROOT / "generated" / "go"
EXAMPLE = ROOT / "examples" / "guide" / "go"
KEY = "go-client-key"
#: How long one go command may take: a cold build cache compiles net/http first.
GO_TIMEOUT = 100
#: APIs and builtins newer than Go 1.19, which the module must not use (it promises 1.19).
NEWER_THAN_1_19 = re.compile(
    r"\berrors\.Join\b|\bcontext\.(WithoutCancel|AfterFunc|WithCancelCause|WithDeadlineCause|WithTimeoutCause)\b"
    r'|"(slices|maps|cmp|iter|log/slog|unique)"|(?<![\w.])(min|max|clear)\(|\bstrings\.(CutPrefix|CutSuffix)\b'
    r"|\bbytes\.Clone\b|\bsync\.(OnceFunc|OnceValue)\b|\bhttp\.NewResponseController\b|\btime\.(DateTime|DateOnly)\b"
    r"|\breflect\.TypeFor\b|\bfor \w+ := range \d"
)


@pytest.fixture(scope="module")
def go_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every go command: offline, local toolchain, caches in a temporary folder."""
    home = tmp_path_factory.mktemp("go-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO")) or k == "GOROOT"}
    return env | {
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "GOTELEMETRY": "off",
        "GOCACHE": str(home / "cache"),
        "GOPATH": str(home / "path"),
        "CGO_ENABLED": "0",  # no C compiler needed: the pure-Go resolver
    }


def go(
    env: dict[str, str], cwd: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GO, *args], cwd=cwd, env=env | (extra or {}), capture_output=True, text=True, timeout=GO_TIMEOUT, check=False
    )


def gofmt_vet_build(env: dict[str, str], module: Path) -> None:
    formatted = subprocess.run([GOFMT, "-l", "."], cwd=module, capture_output=True, text=True, check=False)
    assert (formatted.returncode, formatted.stdout, formatted.stderr) == (0, "", "")
    for command in (["vet", "./..."], ["build", "./..."]):
        result = go(env, module, *command)
        assert result.returncode == 0, result.stdout + result.stderr


def module_with(tmp_path: Path, source: Path, fixture: str) -> Path:
    """A copy of the module at ``source`` with the Go test files of ``tests/generator/go/<fixture>``."""
    module = tmp_path / "client"
    shutil.copytree(source, module)
    for test in (FIXTURES / fixture).glob("*_test.go"):
        shutil.copy(test, module / test.name)
    return module


def passed(output: str) -> list[str]:
    """The tests ``go test -v`` reports passed."""
    return sorted(re.findall(r"^--- PASS: (\w+)", output, re.M))


def declared(fixture: Path) -> list[str]:
    """The tests a fixture folder's Go files declare."""
    return sorted(n for f in fixture.glob("*_test.go") for n in re.findall(r"^func (Test\w+)", f.read_text(), re.M))


def undocumented(source: str) -> list[str]:
    """Exported types, functions, methods, constants and variables without a doc comment."""
    missing, block, previous = [], False, ""
    for line in source.splitlines():
        if line in ("const (", "var ("):
            block = True
        elif line == ")":
            block = False
        name = re.match(r"^(?:func (?:\([^)]*\) )?|type |const |var )([A-Z]\w*)", line)
        spec = re.match(r"^\t([A-Z]\w*)\b", line) if block else None
        found = name or spec
        if found and not previous.lstrip().startswith("//"):
            missing.append(found.group(1))
        previous = line
    return missing


def test_checked_in_go_module_is_what_the_spec_generates() -> None:
    args = ["generate", "go", "--check", "--spec", str(SPEC), "--out", str(CHECKED_IN)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"go: {CHECKED_IN} is up to date" in result.output


def test_go_output_is_deterministic_and_every_file_is_stamped_with_the_specs_digest() -> None:
    first, problems = generate_files("go", str(SPEC), DEFAULT_MODULE)
    second, _ = generate_files("go", str(SPEC), DEFAULT_MODULE)
    assert first == second
    assert problems.items == []
    digest = hashlib.sha256(SPEC.read_bytes()).hexdigest()
    stamp = f"// Code generated by mcp-bridge generate from a spec with sha256 {digest}. DO NOT EDIT."
    assert sorted(first) == sorted(p.name for p in CHECKED_IN.iterdir())
    assert all(content.splitlines()[0] == stamp for content in first.values())


def test_the_module_option_names_the_go_module(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["generate", "go", "--spec", str(SPEC), "--out", str(tmp_path), "--module", "example.com/bridge"]
    )
    assert result.exit_code == 0, result.output
    assert "\nmodule example.com/bridge\n\ngo 1.19\n" in (tmp_path / "go.mod").read_text()
    assert (tmp_path / "doc.go").read_text().rstrip().endswith("package mcpbridge")
    refused = CliRunner().invoke(main, ["generate", "python", "--out", str(tmp_path), "--module", "x"])
    assert refused.exit_code == 2
    assert "--module is for the go target" in refused.output


def test_go_check_reports_a_stray_file_in_the_module(tmp_path: Path) -> None:
    files, _ = generate_files("go", str(SPEC), DEFAULT_MODULE)
    write(files, tmp_path)
    (tmp_path / "extra.go").write_text("package mcpbridge\n")
    result = CliRunner().invoke(main, ["generate", "go", "--check", "--spec", str(SPEC), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "a/extra.go" in result.output


def test_every_exported_name_of_the_go_module_has_a_doc_comment() -> None:
    missing = {path.name: undocumented(path.read_text()) for path in CHECKED_IN.glob("*.go")}
    assert {name: names for name, names in missing.items() if names} == {}
    assert undocumented("type Bare struct{}\n\n// Told is documented.\nfunc Told() {}\n") == ["Bare"]


def test_the_go_module_uses_nothing_newer_than_go_1_19() -> None:
    code = "\n".join(path.read_text() for path in CHECKED_IN.glob("*.go"))
    assert NEWER_THAN_1_19.findall(code) == []
    assert NEWER_THAN_1_19.search("x := min(a, b)")
    assert NEWER_THAN_1_19.search("return errors.Join(a, b)")


def test_checked_in_go_module_is_gofmt_clean_vets_builds_and_passes_its_offline_tests(
    tmp_path: Path, go_env: dict[str, str]
) -> None:
    module = module_with(tmp_path, CHECKED_IN, "offline")
    gofmt_vet_build(go_env, module)
    result = go(go_env, module, "test", "-count=1", "-v", "./...")
    assert result.returncode == 0, result.stdout + result.stderr
    assert passed(result.stdout) == declared(FIXTURES / "offline")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """demo, time, two rich test servers (both offer echo) and one that never answers, behind a key."""

    def rich(name: str) -> dict[str, object]:
        return {"command": sys.executable, "args": [str(RICH_SERVER), "stdio", "--name", name]}

    config = {
        "mcpServers": {
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
            "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
            "alpha": rich("alpha"),
            "beta": rich("beta"),
            "dead": {"url": f"http://127.0.0.1:{free_port()}/mcp", "type": "streamable-http"},
        }
    }
    with bridge_process(tmp_path_factory.mktemp("go-live"), config, "--api-key", KEY) as bridge:
        yield bridge


@pytest.fixture(scope="module")
def live_module(live: BridgeProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, problems = generate_files("go", live.url + "/openapi.json", DEFAULT_MODULE)
    assert [str(p) for p in problems.items] == []
    generated = tmp_path_factory.mktemp("go-live-generated")
    write(files, generated)
    return module_with(tmp_path_factory.mktemp("go-live-module"), generated, "live")


def test_go_client_from_a_live_spec_has_typed_tool_methods_and_is_gofmt_clean_and_vets(
    live_module: Path, go_env: dict[str, str]
) -> None:
    tools = (live_module / "tools.go").read_text()
    assert "func (t *Tools) CallDemoAnalyzeData(args CallDemoAnalyzeDataInput) " in tools
    assert "(*ToolOutcome[CallDemoAnalyzeDataOutput], error)" in tools
    assert "func (p *Prompts) PromptDemoSummarizeAnalysis(args PromptDemoSummarizeAnalysisArguments)" in tools
    gofmt_vet_build(go_env, live_module)
    assert undocumented("\n".join(p.read_text() for p in live_module.glob("*.go") if "_test" not in p.name)) == []


def test_go_client_from_a_live_spec_calls_every_kind_of_operation_and_types_the_errors(
    live: BridgeProcess, live_module: Path, go_env: dict[str, str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    extra = {"MCP_BRIDGE_URL": live.url, "MCP_BRIDGE_KEY": KEY, "MCP_CLOSED_URL": closed}
    result = go(go_env, live_module, "test", "-count=1", "-v", "./...", extra=extra)
    assert result.returncode == 0, result.stdout + result.stderr + live.log()[-3000:]
    assert passed(result.stdout) == declared(FIXTURES / "live")


def test_the_guides_go_example_lists_the_tools_and_calls_process_data(tmp_path: Path, go_env: dict[str, str]) -> None:
    tree = tmp_path / "repo"  # the example's replace directive reaches generated/go by a relative path
    shutil.copytree(EXAMPLE, tree / "examples" / "guide" / "go")
    shutil.copytree(CHECKED_IN, tree / "generated" / "go")
    built = go(go_env, tree / "examples" / "guide" / "go", "build", "-o", str(tmp_path / "guide"), ".")
    assert built.returncode == 0, built.stdout + built.stderr
    with bridge_process(tmp_path / "bridge") as bridge:  # the default configuration: the demo server
        tools = requests.get(bridge.url + "/tools", timeout=60).json()["tools"]
        env = go_env | {"MCP_BRIDGE_URL": bridge.url + "/mcp"}
        ran = subprocess.run(
            [str(tmp_path / "guide")], env=env, capture_output=True, text=True, timeout=GO_TIMEOUT, check=False
        )
    assert (ran.returncode, ran.stderr) == (0, "")
    listing = "".join(f"Tool: {tool['name']} - {tool.get('description', '')}\n" for tool in tools)
    assert "Tool: process_data - " in listing
    assert ran.stdout.startswith(listing)
    result = ran.stdout[len(listing) :]
    # The result's content block prints as its JSON: the demo's summary of "test data" as JSON.
    assert result.startswith('Result: &{[{"type":"text","text":"{\\n  \\"kind\\": \\"text\\"')
    assert "map[characters:9 count:1 kind:text lines:1 value:test data words:2] false" in result


def test_the_guides_go_example_keeps_every_line_of_the_guide_but_the_import_and_the_url() -> None:
    guide = (ROOT / "examples" / "guide" / "integration-guide.md").read_text(encoding="utf-8")
    found = re.search(r"^### Go Client\n+```go\n(.*?)^```", guide, re.DOTALL | re.MULTILINE)
    assert found is not None
    block, ours = found.group(1).splitlines(), (EXAMPLE / "main.go").read_text(encoding="utf-8").splitlines()
    opcodes = difflib.SequenceMatcher(a=block, b=ours, autojunk=False).get_opcodes()
    missing = [line for tag, i1, i2, _, _ in opcodes if tag in ("replace", "delete") for line in block[i1:i2]]
    assert missing == ['    "github.com/mcp/go-client"', '    client := mcp.NewClient("http://localhost:8000/mcp")']
    assert "changed from the guide, and why" in "\n".join(ours[:20]).lower()
