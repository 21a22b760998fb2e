"""schemathesis runs the spec against a live bridge (real HTTP, real servers): no failures.

Tool and prompt arguments are checked against each tool's own schema, which the static spec
cannot know (it declares "any object", and the per-tool live spec is what narrows it), so for
those four operations the one check that assumes the static schema is the whole truth,
``positive_data_acceptance``, is left out; every other check runs on every operation.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

KEY = "schemathesis-key"
PER_TARGET = ["callTool", "callServerTool", "getPrompt", "getServerPrompt"]


def _schemathesis(url: str, *selection: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        url + "/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "30",
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--seed",
        "20261125",
        "-H",
        f"Authorization: Bearer {KEY}",
        *selection,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {
        "mcpServers": {
            "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
            "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
        }
    }
    with bridge_process(Path(tmp_path_factory.mktemp("st")), config, "--api-key", KEY) as bridge:
        yield bridge


def test_every_check_passes_on_the_fixed_operations(live: BridgeProcess) -> None:
    exclude = [arg for op in PER_TARGET for arg in ("--exclude-operation-id", op)]
    result = _schemathesis(live.url, *exclude)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout


def test_every_check_but_static_acceptance_passes_on_tool_and_prompt_calls(live: BridgeProcess) -> None:
    include = [arg for op in PER_TARGET for arg in ("--include-operation-id", op)]
    result = _schemathesis(live.url, "--exclude-checks", "positive_data_acceptance", *include)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
