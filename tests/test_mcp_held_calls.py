"""A 2025-era upstream's mid-call questions, put to a 2026-07-28 client in rounds, against a real bridge.

The bridge reaches the conformance fixture over stdio at 2025-11-25, so the fixture asks with
requests of its own; the client speaks 2026-07-28, so it is asked with input-required rounds.
The call is held open between them, for the principal that made it only.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import mcp_types as types
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.support import ROOT, BridgeProcess, bridge_process

FIXTURE = ROOT / "tests" / "servers" / "conformance_server.py"
KEY, OTHER_KEY = "held-calls-key", "held-calls-other-key"
MODERN = "2026-07-28"
ELICITATION = {"elicitation": {}}
UNKNOWN = {"code": -32602, "message": "requestState names no call held for this client"}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    legacy = {"command": sys.executable, "args": [str(FIXTURE), "stdio"], "protocol": "legacy"}
    keys = ("--api-key", KEY, "--api-key", OTHER_KEY)
    with bridge_process(tmp_path_factory.mktemp("held"), {"mcpServers": {"conf": legacy}}, *keys) as running:
        yield running


def _call(
    bridge: BridgeProcess,
    params: dict[str, Any],
    capabilities: dict[str, Any] = ELICITATION,
    key: str = KEY,
) -> dict[str, Any]:
    """One 2026-07-28 ``tools/call``; its JSON-RPC message (and the HTTP status under ``status``)."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": params["name"],
    }
    body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {**params, "_meta": meta}}
    answered = requests.post(bridge.url + "/mcp", json=body, headers=headers, timeout=30)
    if answered.headers["content-type"].startswith("text/event-stream"):
        data = [line.removeprefix("data:").strip() for line in answered.text.splitlines() if line.startswith("data:")]
        message: dict[str, Any] = json.loads([d for d in data if d][-1])
    else:
        message = answered.json()
    return {**message, "status": answered.status_code}


def _asked(message: dict[str, Any]) -> tuple[dict[str, Any], str]:
    result = message["result"]
    assert result["resultType"] == "input_required", message
    return result["inputRequests"], result["requestState"]


async def _with_the_sdk(url: str) -> dict[str, Any]:
    async def sampling(_ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        said = types.TextContent(type="text", text="sampled")
        return types.CreateMessageResult(role="assistant", content=said, model="m", stop_reason="endTurn")

    async def elicitation(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"username": "lin", "email": "lin@example.com"})

    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {KEY}"}) as http,
        Client(
            streamable_http_client(url, http_client=http), sampling_callback=sampling, elicitation_callback=elicitation
        ) as client,
    ):
        sampled = await client.call_tool("test_sampling", {"prompt": "Say hi"})
        elicited = await client.call_tool("test_elicitation", {"message": "Who are you?"})
        texts = [block.text for r in (sampled, elicited) for block in r.content if isinstance(block, types.TextContent)]
        return {"version": client.protocol_version, "texts": texts}


def test_the_official_client_answers_a_2025_upstreams_questions_in_rounds(bridge: BridgeProcess) -> None:
    assert asyncio.run(_with_the_sdk(bridge.url + "/mcp")) == {
        "version": MODERN,
        "texts": [
            "LLM response: sampled",
            'User response: action=accept, content={"username": "lin", "email": "lin@example.com"}',
        ],
    }


def test_a_held_call_takes_its_answer_once_and_from_its_own_principal_only(bridge: BridgeProcess) -> None:
    params = {"name": "test_input_required_result_multi_round", "arguments": {}}
    asked, state = _asked(_call(bridge, params))
    assert asked == {
        "question-1": {
            "method": "elicitation/create",
            "params": {
                "mode": "form",
                "message": "Step 1: What is your name?",
                "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            },
        }
    }
    assert state.startswith("mcp-rest-bridge.held.")
    answer = {"question-1": {"action": "accept", "content": {"name": "Ada"}}}
    resumed = {**params, "inputResponses": answer, "requestState": state}
    assert _call(bridge, resumed, key=OTHER_KEY) == {"jsonrpc": "2.0", "id": 3, "error": UNKNOWN, "status": 400}
    assert _call(bridge, {**resumed, "requestState": state + "-TAMPERED"})["error"] == UNKNOWN
    again, same_question = _asked(_call(bridge, {**params, "requestState": state}))  # no answer: asked again
    assert again == asked
    assert same_question != state
    assert _call(bridge, resumed)["error"] == UNKNOWN  # that token is spent
    second, next_state = _asked(_call(bridge, {**resumed, "requestState": same_question}))
    assert second["question-2"]["params"]["message"] == "Step 2: What is your favorite color?"
    colour = {"question-2": {"action": "accept", "content": {"color": "teal"}}}
    done = _call(bridge, {**params, "inputResponses": colour, "requestState": next_state})
    assert done["result"]["content"] == [{"type": "text", "text": "Ada likes teal"}]


def test_a_question_the_client_cannot_answer_ends_its_request_with_minus_32021(bridge: BridgeProcess) -> None:
    params = {"name": "test_input_required_result_sampling", "arguments": {}}
    assert _call(bridge, params, capabilities=ELICITATION) == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {
            "code": -32021,
            "message": "the server needs the client capability sampling, which this client did not declare",
            "data": {"requiredCapabilities": {"sampling": {}}},
        },
        "status": 400,
    }
