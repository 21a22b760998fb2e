"""The official MCP conformance suite against the bridge's ``/mcp``, with our fixture behind it.

Only the tools, resources and prompts scenarios count: they are what a gateway relays; the rest
test a server's own lifecycle and transport. The suite lists them at test time, so a new
release's scenarios are covered without editing this file. A control test runs the same
scenarios against the fixture alone, so a failure through the bridge is the bridge's. The suite
runs on the Node installed beside it in tests/npm, never fetched.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client, StdioServerParameters

from harness import accepting, free_port, poll, started
from tests.support import ROOT, bridge_process

NPM = ROOT / "tests" / "npm" / "node_modules"
NODE = NPM / "node" / "bin" / "node"
SUITE = NPM / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
FIXTURE = ROOT / "tests" / "servers" / "conformance_server.py"
SPEC_VERSIONS = ("2025-06-18", "2025-11-25")
RELAYED = ("tools-", "resources-", "prompts-")
#: A whole run takes about a second; the bound only keeps a hung scenario from hanging the test.
RUN_TIMEOUT = 60.0
#: Bound on how long the fixture may take to accept connections.
START_TIMEOUT = 30.0
#: The suite saves each scenario's checks in ``server-<scenario>-<timestamp>/checks.json``.
RESULT_FOLDER = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


@dataclass(frozen=True)
class Outcome:
    """One scenario's verdict: what its failing checks said, nothing when it passed."""

    scenario: str
    failures: tuple[str, ...] = ()


def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    missing = [str(path) for path in (NODE, SUITE) if not path.is_file()]
    assert not missing, f"not installed: {missing}; run npm install --prefix tests/npm"
    command = [str(NODE), str(SUITE), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def relayed_scenarios(version: str) -> list[str]:
    """The suite's tools, resources and prompts server scenarios at ``version``."""
    listed = _suite("list", "--server", "--spec-version", version)
    assert listed.returncode == 0, listed.stderr
    entries = [line.strip().removeprefix("- ") for line in listed.stdout.splitlines() if line.startswith("  - ")]
    names = [entry.split(" [")[0] for entry in entries]
    return [name for name in names if name.startswith(RELAYED)]


def _verdict(scenario: str, checks: list[dict[str, Any]]) -> Outcome:
    if not checks:
        return Outcome(scenario, ("the scenario recorded no checks",))
    failed = [check for check in checks if check["status"] == "FAILURE"]
    return Outcome(scenario, tuple(f"{check['name']}: {check.get('errorMessage', '')}" for check in failed))


def run_suite(url: str, version: str, out: Path) -> list[Outcome]:
    """Every relayed scenario at ``version`` against ``url``, from one run of the whole suite."""
    scenarios = relayed_scenarios(version)
    assert "tools-call-elicitation" in scenarios, scenarios
    # "all" adds the scenarios still marked pending, which `list` names as well.
    run = _suite("server", "--url", url, "--suite", "all", "--spec-version", version, "-o", str(out))
    recorded: dict[str, list[dict[str, Any]]] = {}
    for folder in out.iterdir() if out.exists() else ():
        found = RESULT_FOLDER.match(folder.name)
        if found and (folder / "checks.json").is_file():
            recorded[found["scenario"]] = json.loads((folder / "checks.json").read_text(encoding="utf-8"))
    not_run = (f"not run; the suite's last words: {(run.stdout + run.stderr)[-1000:]}",)
    return [_verdict(name, recorded[name]) if name in recorded else Outcome(name, not_run) for name in scenarios]


def summarize(outcomes: list[Outcome], label: str) -> str:
    """Print the pass count; return one line per failing scenario (empty when all passed)."""
    passed = sum(not outcome.failures for outcome in outcomes)
    print(f"conformance {label}: {passed}/{len(outcomes)} passed")
    return "".join(
        f"\n  {label} {outcome.scenario}: {' | '.join(outcome.failures)}" for outcome in outcomes if outcome.failures
    )


@contextmanager
def fixture_over_http(log: Path) -> Iterator[str]:
    """The fixture as a Streamable HTTP server on a free port, its output in ``log``; yields its ``/mcp`` URL."""
    port = free_port()
    command = [sys.executable, str(FIXTURE), "http", "--port", str(port)]
    with started("conformance fixture", command, log=log) as fixture:
        fixture.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"


def _ready(url: str) -> bool:
    return requests.get(url + "/readyz", timeout=1).status_code == 200


def test_the_fixture_alone_passes_every_relayed_scenario(tmp_path: Path) -> None:
    with fixture_over_http(tmp_path / "fixture.log") as url:
        report = "".join(summarize(run_suite(url, v, tmp_path / v), f"fixture {v}") for v in SPEC_VERSIONS)
    if report:
        pytest.fail(f"the fixture failed conformance scenarios:{report}")


async def _round_trips(mode: str) -> dict[str, Any]:
    seen: dict[str, list[Any]] = {"asked": [], "logs": [], "progress": []}

    async def sampling(_ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        seen["asked"].append(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        said = types.TextContent(type="text", text="sampled")
        return types.CreateMessageResult(role="assistant", content=said, model="m", stop_reason="endTurn")

    async def elicitation(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        # 2026-07-28 does not carry the schema's title, so only what the user is asked for is compared.
        fields, required = params.requested_schema["properties"], params.requested_schema["required"]
        seen["asked"].append({"message": params.message, "fields": fields, "required": required})
        return types.ElicitResult(action="accept", content={"username": "lin", "email": "lin@example.com"})

    async def logged(params: types.LoggingMessageNotificationParams) -> None:
        seen["logs"].append((params.level, params.data))

    async def progressed(progress: float, total: float | None, _message: str | None) -> None:
        seen["progress"].append((progress, total))

    fixture = StdioServerParameters(command=sys.executable, args=[str(FIXTURE), "stdio"])
    async with Client(
        fixture,
        mode=mode,
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        logging_callback=logged,
        log_level="info",  # 2026-07-28 sends log messages only to requests that opt in
    ) as client:
        calls = [
            ("test_sampling", {"prompt": "Say hi"}),
            ("test_elicitation", {"message": "Who are you?"}),
            ("test_tool_with_logging", {}),
            ("test_tool_with_progress", {}),
        ]
        results = [await client.call_tool(name, arguments, progress_callback=progressed) for name, arguments in calls]
        texts = [block.text for result in results for block in result.content if isinstance(block, types.TextContent)]
        return {"version": client.protocol_version, "texts": texts, **seen}


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_the_fixture_asks_and_reports_in_both_protocol_eras(mode: str, version: str) -> None:
    """The suite's client only speaks the handshake era; the bridge's "auto" upstream speaks 2026-07-28."""
    got = asyncio.run(_round_trips(mode))
    assert got == {
        "version": version,
        "texts": [
            "LLM response: sampled",
            'User response: action=accept, content={"username": "lin", "email": "lin@example.com"}',
            "Tool with logging executed successfully",
            "Tool with progress executed successfully",
        ],
        "asked": [
            {"messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}], "maxTokens": 100},
            {
                "message": "Who are you?",
                "fields": {
                    "username": {"type": "string", "title": "Username", "description": "User's response"},
                    "email": {"type": "string", "title": "Email", "description": "User's email address"},
                },
                "required": ["username", "email"],
            },
        ],
        "logs": [
            ("info", "Tool execution started"),
            ("info", "Tool processing data"),
            ("info", "Tool execution completed"),
        ],
        "progress": [(0.0, 100.0), (50.0, 100.0), (100.0, 100.0)],
    }


@pytest.mark.parametrize("upstream", ["auto", "legacy"])
def test_the_gateway_passes_every_relayed_scenario(tmp_path: Path, upstream: str) -> None:
    """The bridge fronts the fixture over stdio, speaking 2026-07-28 ("auto") or the handshake era."""
    entry: dict[str, Any] = {"command": sys.executable, "args": [str(FIXTURE), "stdio"]}
    if upstream == "legacy":
        entry["protocol"] = "legacy"
    with bridge_process(tmp_path, {"mcpServers": {"conf": entry}}) as bridge:
        poll(lambda: _ready(bridge.url))
        report = "".join(
            summarize(run_suite(bridge.url + "/mcp", v, tmp_path / v), f"{v} upstream={upstream}")
            for v in SPEC_VERSIONS
        )
    if report:
        pytest.fail(f"the gateway failed conformance scenarios:{report}")
