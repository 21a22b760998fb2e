"""MCP tasks through the gateway: the official suite's tasks scenarios, and what they do not check.

A real gateway process fronts the tasks fixture (``tests/servers/tasks_server.py``, plain tools
with no task support of their own), so every task here is one the gateway made: a call of its
call store. The suite's scenarios run against ``/mcp`` as they would against any server; the
tests after them speak the 2026-07-28 wire with ``requests`` (the SDK's client has no tasks):
a task is a call over REST for the same key and no other, cancelling one cancels the upstream
request, and a task's question is answered with ``tasks/update``. A second upstream
(``tests/servers/native_tasks_server.py``) makes tasks of its own: the gateway follows those.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import accepting, free_port, poll, started
from tests.support import ROOT, BridgeProcess, bridge_process

NPM = ROOT / "tests" / "npm" / "node_modules"
NODE = NPM / "node" / "bin" / "node"
SUITE = NPM / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
#: The scenarios take a few seconds each; the bound only keeps a hung one from hanging the test.
RUN_TIMEOUT = 120.0
FIXTURE = ROOT / "tests" / "servers" / "tasks_server.py"
NATIVE = ROOT / "tests" / "servers" / "native_tasks_server.py"
TASKS = "io.modelcontextprotocol/tasks"
VERSION = "2026-07-28"
#: Bound on how long the fixture may take to accept connections.
START_TIMEOUT = 30.0
KEY, OTHER_KEY = "tasks-key-one-for-tests", "tasks-key-two-for-tests"
_ids = itertools.count(1)


def _serve(script: Path, folder: Path) -> Iterator[str]:
    port = free_port()
    with started(script.stem, [sys.executable, str(script), "--port", str(port)], log=folder / "server.log") as server:
        server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def fixture_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tasks fixture over Streamable HTTP on a free port; its ``/mcp`` URL."""
    yield from _serve(FIXTURE, tmp_path_factory.mktemp("tasks-fixture"))


@pytest.fixture(scope="module")
def native_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The upstream with tasks of its own; its ``/mcp`` URL."""
    yield from _serve(NATIVE, tmp_path_factory.mktemp("native-fixture"))


def _config(fixture_url: str) -> dict[str, Any]:
    # Task support is declared in a tool's ``execution``, which only the 2025-11-25 listing carries.
    return {"mcpServers": {"tasks": {"url": fixture_url, "protocol": "legacy"}}}


def _ready(url: str, key: str | None = None) -> bool:
    headers = {"X-API-Key": key} if key else {}
    return requests.get(url + "/readyz", headers=headers, timeout=1).status_code == 200


@pytest.fixture(scope="module")
def open_gateway(fixture_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A gateway with no keys, as the suite's client calls it."""
    with bridge_process(tmp_path_factory.mktemp("open-gateway"), _config(fixture_url)) as bridge:
        poll(lambda: _ready(bridge.url))
        yield bridge


@pytest.fixture(scope="module")
def keyed_gateway(
    fixture_url: str, native_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """A gateway with two keys, so two callers, fronting both fixtures (bare tool names stay unambiguous)."""
    folder = tmp_path_factory.mktemp("keyed-gateway")
    config = _config(fixture_url)
    config["mcpServers"]["native"] = {"url": native_url}  # 2026-07-28, where the extension lives
    with bridge_process(folder, config, "--api-key", KEY, "--api-key", OTHER_KEY) as bridge:
        poll(lambda: _ready(bridge.url, KEY))
        yield bridge


def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    missing = [str(path) for path in (NODE, SUITE) if not path.is_file()]
    assert not missing, f"not installed: {missing}; run npm install --prefix tests/npm"
    command = [str(NODE), str(SUITE), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def tasks_scenarios() -> list[str]:
    """The suite's server scenarios of the tasks extension."""
    listed = _suite("list", "--server")
    assert listed.returncode == 0, listed.stderr
    entries = [line.strip().removeprefix("- ") for line in listed.stdout.splitlines() if line.startswith("  - ")]
    return [entry.split(" [")[0] for entry in entries if entry.startswith("tasks-") and "[extension]" in entry]


def test_the_suites_tasks_scenarios_pass_against_the_gateway(open_gateway: BridgeProcess, tmp_path: Path) -> None:
    scenarios = tasks_scenarios()
    assert len(scenarios) >= 10, scenarios
    assert "tasks-mrtr-composition" in scenarios, scenarios
    failures: list[str] = []
    checks = passed = 0
    for scenario in scenarios:
        out = tmp_path / scenario
        run = _suite("server", "--url", open_gateway.url + "/mcp", "--scenario", scenario, "-o", str(out))
        recorded = sorted(out.glob("*/checks.json"))
        if not recorded:
            failures.append(f"{scenario}: not run; {(run.stdout + run.stderr)[-1000:]}")
            continue
        found = json.loads(recorded[0].read_text(encoding="utf-8"))
        checks += sum(check["status"] in ("SUCCESS", "FAILURE") for check in found)
        passed += sum(check["status"] == "SUCCESS" for check in found)
        failures += [f"{scenario}: {c['name']}: {c.get('errorMessage', '')}" for c in found if c["status"] == "FAILURE"]
        if not found:
            failures.append(f"{scenario}: recorded no checks")
    print(f"tasks conformance through the gateway: {len(scenarios)} scenarios, {passed}/{checks} checks passed")
    assert not failures, "\n".join(failures)


# -- the 2026-07-28 wire, by hand -------------------------------------------------------------------


def mcp(
    bridge: BridgeProcess, method: str, params: dict[str, Any], *, key: str | None = KEY, tasks: bool = True
) -> dict[str, Any]:
    """One 2026-07-28 request to the gateway's ``/mcp``; the JSON-RPC response (result or error)."""
    capabilities: dict[str, Any] = {"elicitation": {}}
    if tasks:
        capabilities["extensions"] = {TASKS: {}}
    meta = {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"},
    }
    headers = {"MCP-Protocol-Version": VERSION, "Mcp-Method": method, "Accept": "application/json, text/event-stream"}
    if (name := params.get("name") or params.get("taskId")) is not None:
        headers["Mcp-Name"] = name
    if key is not None:
        headers["X-API-Key"] = key
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": {**params, "_meta": meta}}
    response = requests.post(bridge.url + "/mcp", json=body, headers=headers, timeout=30)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        answer: dict[str, Any] = json.loads(data[-1])
        return answer
    return response.json()  # type: ignore[no-any-return]


def result(answer: dict[str, Any]) -> dict[str, Any]:
    assert "result" in answer, answer
    found: dict[str, Any] = answer["result"]
    found.pop("_meta", None)  # the gateway's serverInfo stamp
    return found


def status(bridge: BridgeProcess, task_id: str, wanted: str, key: str = KEY) -> dict[str, Any]:
    """``tasks/get`` polled until the task is in ``wanted`` status; that answer."""
    return poll(
        lambda: (got := result(mcp(bridge, "tasks/get", {"taskId": task_id}, key=key)))["status"] == wanted and got,
        what=f"task {task_id} {wanted}",
    )


def start(bridge: BridgeProcess, name: str, arguments: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    created = result(mcp(bridge, "tools/call", {"name": name, "arguments": arguments}, key=key))
    assert created["resultType"] == "task", created
    return created


def test_a_task_made_over_mcp_is_a_call_over_rest_for_the_same_key_only(keyed_gateway: BridgeProcess) -> None:
    created = start(keyed_gateway, "slow_compute", {"seconds": 60, "label": "seen-over-rest"})
    task_id = created["taskId"]
    try:
        own = requests.get(f"{keyed_gateway.url}/calls/{task_id}", headers={"X-API-Key": KEY}, timeout=5)
        assert own.status_code == 200, own.text
        assert {k: own.json()[k] for k in ("id", "server", "tool", "state")} == {
            "id": task_id,
            "server": "tasks",
            "tool": "slow_compute",
            "state": "working",
        }
        other = requests.get(f"{keyed_gateway.url}/calls/{task_id}", headers={"X-API-Key": OTHER_KEY}, timeout=5)
        assert other.status_code == 404, other.text
        refused = mcp(keyed_gateway, "tasks/get", {"taskId": task_id}, key=OTHER_KEY)
        assert refused["error"]["code"] == -32602, refused
    finally:
        assert result(mcp(keyed_gateway, "tasks/cancel", {"taskId": task_id})) == {"resultType": "complete"}


def test_a_call_made_over_rest_is_a_task_over_mcp_for_the_same_key(keyed_gateway: BridgeProcess) -> None:
    made = requests.post(
        f"{keyed_gateway.url}/servers/tasks/tools/slow_compute",
        json={"seconds": 0.2, "label": "made-over-rest"},
        headers={"X-API-Key": KEY, "Prefer": "respond-async"},
        timeout=5,
    )
    assert made.status_code == 202, made.text
    done = status(keyed_gateway, made.json()["id"], "completed")
    assert done["result"]["content"] == [{"type": "text", "text": "computed made-over-rest after 0.2 s"}]


def _cancelled_upstream(bridge: BridgeProcess) -> list[str]:
    answer = requests.post(
        f"{bridge.url}/servers/tasks/tools/cancelled_labels", json={}, headers={"X-API-Key": KEY}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    labels: list[str] = answer.json()["structuredContent"]["result"]
    return labels


def test_cancelling_a_task_cancels_the_upstream_request(keyed_gateway: BridgeProcess) -> None:
    task_id = start(keyed_gateway, "slow_compute", {"seconds": 60, "label": "to-cancel"})["taskId"]
    assert result(mcp(keyed_gateway, "tasks/cancel", {"taskId": task_id})) == {"resultType": "complete"}
    cancelled = status(keyed_gateway, task_id, "cancelled")
    assert cancelled["error"]["code"] == -32800
    assert "cancelled by its caller" in cancelled["error"]["message"]
    poll(lambda: "to-cancel" in _cancelled_upstream(keyed_gateway), what="the upstream request cancelled")


def test_an_input_required_task_is_answered_through_tasks_update(keyed_gateway: BridgeProcess) -> None:
    task_id = start(keyed_gateway, "confirm_delete", {"filename": "notes.txt"})["taskId"]
    asking = status(keyed_gateway, task_id, "input_required")
    assert asking["inputRequests"] == {
        "q1": {
            "method": "elicitation/create",
            "params": {
                "mode": "form",
                "message": "Delete notes.txt?",
                "requestedSchema": {
                    "type": "object",
                    "title": "Confirmation",
                    "properties": {"confirm": {"type": "boolean", "title": "Confirm", "description": "Go ahead?"}},
                    "required": ["confirm"],
                },
            },
        }
    }
    wrong = mcp(
        keyed_gateway,
        "tasks/update",
        {"taskId": task_id, "inputResponses": {"q1": {"action": "accept", "content": {"confirm": "yes"}}}},
    )
    assert wrong["error"]["code"] == -32602, wrong
    assert [e["pointer"] for e in wrong["error"]["data"]["errors"]] == ["/params/inputResponses/q1/content/confirm"]
    answer = {"q1": {"action": "accept", "content": {"confirm": True}}}
    acked = mcp(keyed_gateway, "tasks/update", {"taskId": task_id, "inputResponses": answer})
    assert result(acked) == {"resultType": "complete"}
    done = status(keyed_gateway, task_id, "completed")
    assert done["result"]["content"] == [{"type": "text", "text": "deleted notes.txt"}]


def test_cancelling_a_task_that_waits_for_an_answer_leaves_the_upstream_serving(keyed_gateway: BridgeProcess) -> None:
    task_id = start(keyed_gateway, "confirm_delete", {"filename": "kept.txt"})["taskId"]
    status(keyed_gateway, task_id, "input_required")
    assert result(mcp(keyed_gateway, "tasks/cancel", {"taskId": task_id})) == {"resultType": "complete"}
    status(keyed_gateway, task_id, "cancelled")
    greeted = result(mcp(keyed_gateway, "tools/call", {"name": "greet", "arguments": {"name": "after"}}))
    assert greeted["content"] == [{"type": "text", "text": "Hello, after!"}]


def test_a_client_without_the_extension_calls_as_before_and_is_refused_required_tools(
    keyed_gateway: BridgeProcess,
) -> None:
    plain = result(
        mcp(keyed_gateway, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 0.6}}, tasks=False)
    )
    assert plain["content"] == [{"type": "text", "text": "computed  after 0.6 s"}]
    assert "taskId" not in plain
    refused = mcp(keyed_gateway, "tools/call", {"name": "failing_job", "arguments": {}}, tasks=False)
    assert refused["error"]["code"] == -32021
    assert refused["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
    gated = mcp(keyed_gateway, "tasks/get", {"taskId": "anything"}, tasks=False)
    assert gated["error"]["code"] == -32021


# -- an upstream with tasks of its own ---------------------------------------------------------------


def _native_cancelled(bridge: BridgeProcess) -> list[str]:
    answer = requests.post(
        f"{bridge.url}/servers/native/tools/native_cancelled", json={}, headers={"X-API-Key": KEY}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    labels: list[str] = answer.json()["structuredContent"]["result"]
    return labels


def test_an_upstream_task_is_followed_to_its_result(keyed_gateway: BridgeProcess) -> None:
    task_id = start(keyed_gateway, "native_slow", {"seconds": 0.8, "label": "followed"})["taskId"]
    done = status(keyed_gateway, task_id, "completed")
    assert done["result"] == {"content": [{"type": "text", "text": "natively computed followed"}], "isError": False}


def test_a_rest_call_to_a_tool_the_upstream_runs_as_a_task_answers_its_result(keyed_gateway: BridgeProcess) -> None:
    answer = requests.post(
        f"{keyed_gateway.url}/servers/native/tools/native_slow",
        json={"seconds": 0.3, "label": "over-rest"},
        headers={"X-API-Key": KEY},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == [{"type": "text", "text": "natively computed over-rest"}]


def test_an_upstream_tasks_question_is_asked_and_answered_through_the_gateways_task(
    keyed_gateway: BridgeProcess,
) -> None:
    task_id = start(keyed_gateway, "native_confirm", {"filename": "upstream.txt"})["taskId"]
    asking = status(keyed_gateway, task_id, "input_required")
    assert [(q["method"], q["params"]["message"]) for q in asking["inputRequests"].values()] == [
        ("elicitation/create", "Delete upstream.txt?")
    ]
    answers = {qid: {"action": "accept", "content": {"confirm": True}} for qid in asking["inputRequests"]}
    assert result(mcp(keyed_gateway, "tasks/update", {"taskId": task_id, "inputResponses": answers})) == {
        "resultType": "complete"
    }
    done = status(keyed_gateway, task_id, "completed")
    assert done["result"]["content"] == [{"type": "text", "text": "natively deleted upstream.txt"}]


def test_cancelling_the_gateways_task_cancels_the_upstream_task(keyed_gateway: BridgeProcess) -> None:
    task_id = start(keyed_gateway, "native_slow", {"seconds": 60, "label": "cancel-upstream"})["taskId"]
    status(keyed_gateway, task_id, "working")
    assert result(mcp(keyed_gateway, "tasks/cancel", {"taskId": task_id})) == {"resultType": "complete"}
    status(keyed_gateway, task_id, "cancelled")
    poll(lambda: "cancel-upstream" in _native_cancelled(keyed_gateway), what="tasks/cancel reaching the upstream")
