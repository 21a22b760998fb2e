"""What the conformance suite asks of ``/mcp``, one rule at a time, against a real bridge.

The bridge fronts two servers over stdio, the conformance fixture (``conf``, with completions)
and the rich test server (``rich``, without), so names are qualified as in listings.
Completions go to the server owning the prompt or resource template; at 2026-07-28 the
``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers must match the body (400,
HeaderMismatch); the upstream is told the capabilities the client declared, and its questions
reach a client only when it declared the capability to answer them (else 400,
MissingRequiredClientCapability, naming what is missing, whether the upstream or the gateway
refuses); and a call's progress notifications all reach its client before its result does.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client

from tests.servers.launch import RICH_SERVER
from tests.support import ROOT, BridgeProcess, bridge_process

FIXTURE = ROOT / "tests" / "servers" / "conformance_server.py"
MODERN = "2026-07-28"
#: Enough calls that a one-in-seven loss cannot pass unnoticed (0.86^40 < 0.3 %).
PROGRESS_CALLS = 40


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    servers = {
        "conf": {"command": sys.executable, "args": [str(FIXTURE), "stdio"]},
        "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
    }
    with bridge_process(tmp_path_factory.mktemp("rules"), {"mcpServers": servers}) as running:
        yield running


def _modern_post(
    bridge: BridgeProcess, method: str, params: dict[str, Any], capabilities: dict[str, Any], **headers: str
) -> requests.Response:
    """One 2026-07-28 request, its headers as the transport requires unless ``headers`` says otherwise."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    sent = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        **({"Mcp-Name": params["name"]} if "name" in params else {}),
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": meta}}
    return requests.post(bridge.url + "/mcp", json=body, headers=sent, timeout=30)


def _message(response: requests.Response) -> dict[str, Any]:
    """The JSON-RPC message of a JSON or a one-event SSE answer."""
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line.removeprefix("data:").strip() for line in response.text.splitlines() if line.startswith("data:")]
        message: dict[str, Any] = json.loads([d for d in data if d][-1])
        return message
    return dict(response.json())


async def _completions(url: str, mode: str) -> list[list[str]]:
    async with Client(url, mode=mode) as client:
        asked = [
            (types.PromptReference(type="ref/prompt", name="conf.test_prompt_with_arguments"), "arg1", "test"),
            (types.ResourceTemplateReference(type="ref/resource", uri="test://template/{id}/data"), "id", "4"),
            (types.PromptReference(type="ref/prompt", name="rich.greet"), "name", "L"),
        ]
        results = [await client.complete(ref, {"name": name, "value": value}) for ref, name, value in asked]
        return [result.completion.values for result in results]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_completion_goes_to_the_server_owning_the_prompt_or_template(bridge: BridgeProcess, mode: str) -> None:
    """rich declares no completions: its prompts complete to nothing, without asking it."""
    got = asyncio.run(_completions(bridge.url + "/mcp", mode))
    assert got == [["test-one", "test-two"], ["42"], []]


def test_completion_over_plain_json_rpc_takes_the_qualified_name(bridge: BridgeProcess) -> None:
    ref = {"type": "ref/prompt", "name": "conf.test_prompt_with_arguments"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "completion/complete", "params": {"ref": ref, "argument": {}}}
    refused = requests.post(bridge.url + "/mcp", json=body, timeout=30).json()
    assert refused["error"]["code"] == -32602
    assert refused["error"]["data"]["errors"] == [
        {"pointer": "/params/argument", "message": '"name" is a required property'},
        {"pointer": "/params/argument", "message": '"value" is a required property'},
    ]
    body["params"]["argument"] = {"name": "arg1", "value": "test-t"}
    answered = requests.post(bridge.url + "/mcp", json=body, timeout=30).json()
    assert answered == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"completion": {"values": ["test-two"], "total": 1, "hasMore": False}},
    }


def test_completion_of_a_prompt_nobody_offers_is_an_invalid_params_error(bridge: BridgeProcess) -> None:
    params = {"ref": {"type": "ref/prompt", "name": "conf.missing"}, "argument": {"name": "a", "value": ""}}
    answered = _message(_modern_post(bridge, "completion/complete", params, {}))
    assert answered["error"]["code"] == -32602
    assert answered["error"]["message"] == "no prompt named 'conf.missing'"


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({"Mcp_Method": "tools/list"}, "mcp-method header does not match the request body's method"),
        ({"Mcp_Name": "conf.test_image_content"}, "mcp-name header does not match the request body's 'name' parameter"),
    ],
)
def test_a_header_that_does_not_match_the_body_is_400_header_mismatch(
    bridge: BridgeProcess, headers: dict[str, str], said: str
) -> None:
    answered = _modern_post(bridge, "tools/call", {"name": "conf.test_simple_text", "arguments": {}}, {}, **headers)
    assert answered.status_code == 400
    assert answered.json() == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32020, "message": said}}


def test_an_upstream_told_the_client_cannot_answer_refuses_the_call_naming_the_capability(
    bridge: BridgeProcess,
) -> None:
    """The fixture is told the client declared nothing, and refuses as the conformance suite wants of a
    server: -32021 naming sampling, which the gateway answers as it is (HTTP 400)."""
    answered = _modern_post(bridge, "tools/call", {"name": "conf.test_missing_capability", "arguments": {}}, {})
    assert answered.status_code == 400
    error = answered.json()["error"]
    assert error["code"] == -32021
    assert error["data"]["requiredCapabilities"] == {"sampling": {}}
    assert "did not declare the sampling capability" in error["message"]


def test_a_question_the_client_cannot_answer_refuses_the_call_naming_the_capability(bridge: BridgeProcess) -> None:
    """An upstream that asks whatever its client declared: the gateway refuses in its place."""
    params = {"name": "conf.test_input_required_result_tampered_state", "arguments": {}}
    answered = _modern_post(bridge, "tools/call", params, {})
    assert answered.status_code == 400
    assert answered.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32021,
            "message": "the server needs the client capability elicitation, which this client did not declare",
            "data": {"requiredCapabilities": {"elicitation": {}}},
        },
    }


def test_a_tool_asks_only_what_the_client_declared_as_if_called_directly(bridge: BridgeProcess) -> None:
    """The fixture's tool asks only what its client can answer; a client that can answer nothing gets
    its result at once, where a gateway declaring everything upstream would have made it ask."""
    params = {"name": "conf.test_input_required_result_capabilities", "arguments": {}}
    result = _message(_modern_post(bridge, "tools/call", params, {}))["result"]
    assert result["resultType"] == "complete"
    assert result["content"] == [{"type": "text", "text": "answered: []"}]


@pytest.mark.parametrize(
    ("capabilities", "asked"),
    [({"sampling": {}}, ["question"]), ({"sampling": {}, "elicitation": {}}, ["name", "question"])],
)
def test_only_the_questions_the_client_declared_it_can_answer_reach_it(
    bridge: BridgeProcess, capabilities: dict[str, Any], asked: list[str]
) -> None:
    """The fixture asks what it is told the client declared, and the questions reach the client."""
    params = {"name": "conf.test_input_required_result_capabilities", "arguments": {}}
    result = _message(_modern_post(bridge, "tools/call", params, capabilities))["result"]
    assert result["resultType"] == "input_required"
    assert sorted(result["inputRequests"]) == asked


async def _progress_counts(url: str, calls: int) -> list[int]:
    counts: list[int] = []

    async def progressed(_progress: float, _total: float | None, _message: str | None) -> None:
        counts[-1] += 1

    async with Client(url) as client:
        for _ in range(calls):
            counts.append(0)
            await client.call_tool("test_tool_with_progress", {}, progress_callback=progressed)
    return counts


def test_every_progress_notification_reaches_the_client_before_the_result(tmp_path: Path) -> None:
    """The upstream's result may overtake its last progress notification inside the gateway.

    Seen with a 2025-11-25 upstream and a 2026-07-28 client, where the result ends the request's
    stream: before the gateway waited for them, about one call in seven lost its last one.
    """
    legacy = {"command": sys.executable, "args": [str(FIXTURE), "stdio"], "protocol": "legacy"}
    with bridge_process(tmp_path, {"mcpServers": {"conf": legacy}}) as running:
        counts = asyncio.run(_progress_counts(running.url + "/mcp", PROGRESS_CALLS))
    assert counts == [3] * PROGRESS_CALLS
