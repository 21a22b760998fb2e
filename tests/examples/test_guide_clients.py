"""The guide's client examples against a bridge started as ``make run`` starts it (the demo, no keys):
the Python client, the JavaScript client on the packed TypeScript package in Node 22, the REST
client, and the retry class, whose retries are also driven through a bridge with a server that
is down and against a port where nothing listens."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import free_port
from tests.examples.guide import GUIDE, load_example, ready_bridge, run_example, venv_path
from tests.generator.npm import NODE, PACKAGE, install, node, pack
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess

#: The guide's first call, process_data on "test data" with format json, as the demo answers it.
SUMMARY = {"kind": "text", "count": 1, "characters": 9, "words": 2, "lines": 1, "value": "test data"}
DEMO_TOOLS = ["process_data", "validate_data", "transform_data", "analyze_data", "generate_report"]


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """``make run``: ``mcp-bridge serve --host 127.0.0.1`` with the default config, the demo."""
    with ready_bridge(tmp_path_factory.mktemp("make-run"), None, "--host", "127.0.0.1") as running:
        yield running


def _tool_lines(output: str) -> list[str]:
    return [line.split(" - ")[0] for line in output.splitlines() if line.startswith("Tool: ")]


def test_python_client_lists_the_demos_tools_calls_process_data_and_reads_the_settings(bridge: BridgeProcess) -> None:
    ran = run_example("python_client.py", MCP_BRIDGE_URL=bridge.url + "/mcp")
    assert ran.returncode == 0, ran.stderr
    assert _tool_lines(ran.stdout) == [f"Tool: {name}" for name in DEMO_TOOLS]
    result = next(line for line in ran.stdout.splitlines() if line.startswith("Result: "))
    assert result.startswith('Result: content=[TextContent(type=\'text\', text=\'{\\n  "kind": "text",')
    assert f"structuredContent={SUMMARY!r} isError=False" in result
    settings = next(line for line in ran.stdout.splitlines() if line.startswith("Settings: "))
    assert settings.startswith(
        "Settings: contents=[TextResourceContents(uri='config://settings', mimeType='application/json'"
    )
    assert '\\n  "inputFormats": [\\n    "auto",' in settings


@pytest.fixture(scope="module")
def js_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh project with the packed client installed from its tarball, and the guide's example in it."""
    work = tmp_path_factory.mktemp("js")
    project = install(pack(PACKAGE, work), work / "app")
    shutil.copy(GUIDE / "javascript_client.mjs", project)
    return project


def test_javascript_client_runs_on_the_packed_client_in_node_22(bridge: BridgeProcess, js_project: Path) -> None:
    version = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v22.")
    ran = node(js_project / "javascript_client.mjs", js_project, {"MCP_BRIDGE_URL": bridge.url + "/mcp"})
    assert ran.returncode == 0, ran.stderr
    assert _tool_lines(ran.stdout) == [f"Tool: {name}" for name in DEMO_TOOLS]
    structured = "\n".join(
        [
            "  structuredContent: {",
            "    kind: 'text',",
            "    count: 1,",
            "    characters: 9,",
            "    words: 2,",
            "    lines: 1,",
            "    value: 'test data'",
            "  },",
            "  isError: false,",
        ]
    )
    assert "\nResult: {\n  content: [\n    {\n      type: 'text',\n" in ran.stdout
    assert structured in ran.stdout
    assert "\nSettings: {\n  contents: [\n    {\n      uri: 'config://settings',\n" in ran.stdout


def test_rest_client_posts_json_rpc_to_mcp_and_answers_the_result(bridge: BridgeProcess) -> None:
    ran = run_example("rest_client.py", MCP_BRIDGE_URL=bridge.url)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["content"] == [{"type": "text", "text": json.dumps(SUMMARY, indent=2)}]
    assert (result["structuredContent"], result["isError"]) == (SUMMARY, False)


def test_client_with_retry_makes_the_guides_call(bridge: BridgeProcess) -> None:
    ran = run_example("client_with_retry.py", MCP_BRIDGE_URL=bridge.url + "/mcp")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"Result: {SUMMARY!r}\n"


#: How long the bridge below waits for the slow server before it answers 504 (-32000 on /mcp).
SLOW_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def with_a_slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A keyless bridge with the demo and the rich test server, whose calls time out after half a second."""
    config = {
        "mcpServers": {
            "demo": {"command": "python", "args": ["-m", "bridge.demo"]},
            "rich": {"command": "python", "args": [str(RICH_SERVER), "stdio"], "timeout": SLOW_TIMEOUT},
        }
    }
    tmp = tmp_path_factory.mktemp("slow")
    with ready_bridge(tmp, config, ready=("demo", "rich"), env={"PATH": venv_path()}) as running:
        yield running


def test_client_with_retry_backs_off_exponentially_on_a_server_error_then_raises_it(
    with_a_slow_server: BridgeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example("client_with_retry.py", monkeypatch)
    waits: list[float] = []
    monkeypatch.setattr(example.time, "sleep", waits.append)
    client = example.MCPClientWithRetry(with_a_slow_server.url)
    with pytest.raises(example.MCPError) as raised:
        client.call_tool_with_retry("slow", {"seconds": 30})
    assert (type(raised.value).__name__, raised.value.status) == ("UpstreamTimeout", 504)
    assert waits == [1, 2]  # three attempts, 2 ** attempt seconds apart


def test_client_with_retry_raises_other_errors_at_once(
    with_a_slow_server: BridgeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example("client_with_retry.py", monkeypatch)
    waits: list[float] = []
    monkeypatch.setattr(example.time, "sleep", waits.append)
    client = example.MCPClientWithRetry(with_a_slow_server.url)
    with pytest.raises(example.MCPError) as raised:
        client.call_tool_with_retry("demo.nope", {})
    assert (raised.value.status, raised.value.detail) == (404, "no tool named 'demo.nope'")
    assert waits == []
    assert client.call_tool_with_retry("demo.process_data", {"input": "test data"}).structuredContent == SUMMARY


def test_client_with_retry_retries_a_bridge_that_does_not_answer_every_second(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example("client_with_retry.py", monkeypatch)
    waits: list[float] = []
    monkeypatch.setattr(example.time, "sleep", waits.append)
    client = example.MCPClientWithRetry(f"http://127.0.0.1:{free_port()}", max_retries=4)
    with pytest.raises(example.TransportError):
        client.call_tool_with_retry("process_data", {"input": "test data"})
    assert waits == [1, 1, 1]


def test_the_async_data_pipeline_chains_the_demos_tools_to_a_pdf_report(bridge: BridgeProcess) -> None:
    ran = run_example("data_pipeline.py", MCP_BRIDGE_URL=bridge.url + "/mcp")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["format"] == "pdf"
    assert report["uri"] == "report://analysis-report.pdf"
    assert report["count"] == 4  # None was rejected by validate_data, "14.1" kept as a number
    assert report["metrics"] == {"mean": 0.518518518519, "median": 0.537037037037, "std": 0.356210815957}
    assert report["size"] > 1000
