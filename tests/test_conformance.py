"""The official MCP conformance suite: our fixture alone, and the bridge's ``/mcp`` with it behind.

Every server scenario the suite lists runs, at each revision in ``SPEC_VERSIONS``: the suite
lists them at test time, so a new release's scenarios are covered without editing this file
(the tasks extension's are listed apart, as extensions: tests/test_tasks_conformance.py runs
them). The rule: every scenario the fixture passes when served directly also passes through the
gateway, whichever way the gateway reaches the fixture (``GATEWAYS``). A scenario the fixture
itself fails is reported with its reason, not required of the gateway; today there is none.

Three ways do not hold the rule whole, and say so in ``NOT_RELAYED``: the fixture reached at
2025-11-25 (over stdio, Streamable HTTP or the legacy HTTP+SSE transport) asks its questions
mid-call, one at a time, as requests of its own. The gateway holds such a call open and hands each question to a
2026-07-28 client as an input-required round, under a key of its own making; so the three
scenarios that look for the fixture's own keys (``user_name``), several questions in one round,
or ``roots/list`` (which the gateway does not relay from an upstream) cannot pass that way.
They pass when the gateway reaches the fixture at 2026-07-28.

The counts go to stdout, per revision, directly and through each way. The suite runs on the
Node installed beside it in tests/npm, never fetched.
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

from harness import poll
from tests.servers.launch import CONFORMANCE_SERVER, running_conformance_server
from tests.support import ROOT, bridge_process

NPM = ROOT / "tests" / "npm" / "node_modules"
NODE = NPM / "node" / "bin" / "node"
SUITE = NPM / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
SPEC_VERSIONS = ("2025-06-18", "2025-11-25", "2026-07-28")
#: How the gateway reaches the fixture: its transport, and the revision it speaks to it.
GATEWAYS = {
    "http": ("http", "auto"),  # Streamable HTTP at 2026-07-28
    "stdio-legacy": ("stdio", "legacy"),  # stdio at 2025-11-25, with the handshake
    "http-legacy": ("http", "legacy"),  # Streamable HTTP at 2025-11-25: event streams, resumed when cut
    "sse": ("sse", "legacy"),  # the legacy HTTP+SSE transport (the handshake: 2025-11-25)
}
#: Scenarios a way cannot carry yet, by revision, with the reason (see the module docstring).
_ASKED_ONE_AT_A_TIME: dict[str, tuple[frozenset[str], str]] = {
    "2026-07-28": (
        frozenset(
            {
                "input-required-result-basic-elicitation",
                "input-required-result-basic-list-roots",
                "input-required-result-multiple-input-requests",
            }
        ),
        "a 2025-11-25 upstream asks one unkeyed question at a time, and roots/list is not relayed",
    )
}
NOT_RELAYED: dict[str, dict[str, tuple[frozenset[str], str]]] = {
    "stdio-legacy": _ASKED_ONE_AT_A_TIME,
    "http-legacy": _ASKED_ONE_AT_A_TIME,
    "sse": _ASKED_ONE_AT_A_TIME,
}
#: A whole run takes a few seconds; the bound only keeps a hung scenario from hanging the test.
RUN_TIMEOUT = 90.0
#: The suite saves each scenario's checks in ``server-<scenario>-<timestamp>/checks.json``.
RESULT_FOLDER = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


@dataclass(frozen=True)
class Outcome:
    """One scenario's verdict: what its failing checks said, nothing when it passed."""

    scenario: str
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    missing = [str(path) for path in (NODE, SUITE) if not path.is_file()]
    assert not missing, f"not installed: {missing}; run npm install --prefix tests/npm"
    command = [str(NODE), str(SUITE), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def server_scenarios(version: str) -> list[str]:
    """Every server scenario the suite lists at ``version``."""
    listed = _suite("list", "--server", "--spec-version", version)
    assert listed.returncode == 0, listed.stderr
    entries = [line.strip().removeprefix("- ") for line in listed.stdout.splitlines() if line.startswith("  - ")]
    return [entry.split(" [")[0] for entry in entries]


def _verdict(scenario: str, checks: list[dict[str, Any]]) -> Outcome:
    if not checks:
        return Outcome(scenario, ("the scenario recorded no checks",))
    failed = [check for check in checks if check["status"] == "FAILURE"]
    return Outcome(scenario, tuple(f"{check['name']}: {check.get('errorMessage', '')}" for check in failed))


def run_suite(url: str, version: str, out: Path) -> dict[str, Outcome]:
    """Every server scenario at ``version`` against ``url``, from one run of the whole suite, by name."""
    scenarios = server_scenarios(version)
    assert "tools-call-simple-text" in scenarios, scenarios
    # "all" adds the scenarios still marked pending, which `list` names as well.
    run = _suite("server", "--url", url, "--suite", "all", "--spec-version", version, "-o", str(out))
    recorded: dict[str, list[dict[str, Any]]] = {}
    for folder in out.iterdir() if out.exists() else ():
        found = RESULT_FOLDER.match(folder.name)
        if found and (folder / "checks.json").is_file():
            recorded[found["scenario"]] = json.loads((folder / "checks.json").read_text(encoding="utf-8"))
    not_run = (f"not run; the suite's last words: {(run.stdout + run.stderr)[-1000:]}",)
    return {name: _verdict(name, recorded[name]) if name in recorded else Outcome(name, not_run) for name in scenarios}


def count(outcomes: dict[str, Outcome], label: str) -> None:
    passed = sum(outcome.passed for outcome in outcomes.values())
    print(f"conformance {label}: {passed}/{len(outcomes)} scenarios passed")


def report(outcomes: dict[str, Outcome], label: str, among: set[str] | None = None) -> str:
    """One line per failing scenario (of ``among``, when given)."""
    return "".join(
        f"\n  {label} {name}: {' | '.join(outcome.failures)}"
        for name, outcome in outcomes.items()
        if not outcome.passed and (among is None or name in among)
    )


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Outcome]]:
    """The fixture served directly: each revision's outcomes, from one suite run each."""
    folder = tmp_path_factory.mktemp("direct")
    with running_conformance_server(folder / "fixture.log") as url:
        return {version: run_suite(url, version, folder / version) for version in SPEC_VERSIONS}


def test_the_fixture_alone_passes_every_server_scenario(direct: dict[str, dict[str, Outcome]]) -> None:
    for version, outcomes in direct.items():
        count(outcomes, f"{version} fixture directly")
    failed = "".join(report(outcomes, f"fixture {version}") for version, outcomes in direct.items())
    if failed:
        pytest.fail(f"the fixture failed conformance scenarios:{failed}")


@contextmanager
def _upstream(transport: str, log: Path) -> Iterator[dict[str, Any]]:
    """The fixture's entry in the bridge's config, running for as long as the block when over HTTP."""
    if transport == "stdio":
        yield {"command": sys.executable, "args": [str(CONFORMANCE_SERVER), "stdio"]}
        return
    if transport == "sse":
        with running_conformance_server(log, "sse") as url:
            yield {"url": url, "type": "sse"}
        return
    with running_conformance_server(log) as url:
        yield {"url": url, "type": "streamable-http"}


def _ready(url: str) -> bool:
    return requests.get(url + "/readyz", timeout=1).status_code == 200


@pytest.mark.parametrize("way", GATEWAYS)
def test_the_gateway_passes_every_scenario_the_fixture_passes(
    tmp_path: Path, way: str, direct: dict[str, dict[str, Outcome]]
) -> None:
    transport, protocol = GATEWAYS[way]
    with _upstream(transport, tmp_path / "fixture.log") as entry:
        if protocol == "legacy":
            entry["protocol"] = "legacy"
        with bridge_process(tmp_path, {"mcpServers": {"conf": entry}}) as bridge:
            poll(lambda: _ready(bridge.url))
            through = {v: run_suite(bridge.url + "/mcp", v, tmp_path / v) for v in SPEC_VERSIONS}
    failed = ""
    for version, outcomes in through.items():
        count(outcomes, f"{version} through the gateway ({way})")
        exempt, why = NOT_RELAYED.get(way, {}).get(version, (frozenset(), ""))
        required = {name for name, outcome in direct[version].items() if outcome.passed} - exempt
        failed += report(outcomes, f"{version} via {way}", required)
        if exempt:
            carried = sorted(name for name in exempt if outcomes[name].passed)
            print(f"  not required via {way} at {version} ({why}); passing anyway: {carried or 'none'}")
    if failed:
        pytest.fail(f"the gateway failed conformance scenarios the fixture passes:{failed}")


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

    fixture = StdioServerParameters(command=sys.executable, args=[str(CONFORMANCE_SERVER), "stdio"])
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
    """The bridge's "auto" upstream speaks 2026-07-28 to the fixture, its "legacy" one 2025-11-25."""
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
