"""schemathesis runs the live spec against a live bridge (real HTTP, real servers): no failures.

The live spec has the static operations plus one per tool and prompt. A tool may refuse
arguments its schema allows (an empty CSV, one value to standardize): that is the tool's own
422, declared in the spec, not a contract breach. So for calls of tools and prompts, the one
check that reads every 4xx on schema-valid input as a failure, ``positive_data_acceptance``, is
left out; every other check runs on every operation.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import BridgeProcess, bridge_process

KEY = "schemathesis-key"
#: Calls of tools and prompts: the generic ones and the live spec's call_*/prompt_* per target.
CALLS = "^(callTool|callServerTool|getPrompt|getServerPrompt|call_.*|prompt_.*)$"
#: Left out with the calls: the event stream answers a response that ends only when its client
#: leaves, which a checker waiting for whole responses would wait on forever (tests/events has it).
CALLS_AND_STREAM = CALLS[:-2] + "|streamEvents)$"


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
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
            "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
        }
    }
    with bridge_process(Path(tmp_path_factory.mktemp("st")), config, "--api-key", KEY) as bridge:
        yield bridge


def test_every_check_passes_on_the_fixed_operations(live: BridgeProcess) -> None:
    result = _schemathesis(live.url, "--exclude-operation-id-regex", CALLS_AND_STREAM)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout


def test_every_check_but_static_acceptance_passes_on_tool_and_prompt_calls(live: BridgeProcess) -> None:
    result = _schemathesis(
        live.url, "--exclude-checks", "positive_data_acceptance", "--include-operation-id-regex", CALLS
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
