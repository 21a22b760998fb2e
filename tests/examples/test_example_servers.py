"""The orchestration example's servers on their own (examples/servers), each driven in process by the
official SDK client: what they answer, what they keep, and what they refuse."""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import Client
from mcp_types import CallToolResult, TextContent

from tests.examples.guide import SERVERS


def _drive(server: str, steps: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run ``steps`` with a client of a fresh examples/servers/SERVER_server.py; what they return."""
    create = runpy.run_path(str(SERVERS / f"{server}_server.py"))["create_server"]

    async def run() -> Any:
        async with Client(create()) as client:
            return await steps(client)

    return asyncio.run(run())


def _value(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content.get("result", result.structured_content)


def _error(result: CallToolResult) -> str:
    assert result.is_error
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text


def test_github_lists_a_repositorys_issues_by_state_and_numbers_new_ones() -> None:
    async def steps(client: Client) -> dict[str, Any]:
        def numbers(state: str) -> Awaitable[CallToolResult]:
            return client.call_tool("list_issues", {"repo": "myorg/myrepo", "state": state})

        seen = {state: [issue["number"] for issue in _value(await numbers(state))] for state in ("open", "closed")}
        opened = _value(await client.call_tool("open_issue", {"repo": "myorg/myrepo", "title": "Dark mode"}))
        seen["all"] = [issue["number"] for issue in _value(await numbers("all"))]
        seen["opened"] = opened
        seen["unknown"] = _error(await client.call_tool("list_issues", {"repo": "nobody/nothing"}))
        return seen

    seen = _drive("github", steps)
    assert (seen["open"], seen["closed"], seen["all"]) == ([1, 3], [2], [1, 2, 3, 4])
    assert seen["opened"] == {"number": 4, "title": "Dark mode", "body": "", "labels": [], "state": "open"}
    assert seen["unknown"] == (
        "Error executing tool list_issues: no repository 'nobody/nothing'; this server has myorg/myrepo"
    )


def test_jira_keys_tickets_per_project_and_reads_them_back_as_a_tool_and_a_resource() -> None:
    async def steps(client: Client) -> tuple[list[str], Any, Any]:
        keys = []
        for title, project in (("One", "DEV"), ("Two", "OPS"), ("Three", "DEV")):
            ticket = _value(await client.call_tool("create_ticket", {"title": title, "project": project}))
            keys.append(ticket["key"])
        listed = _value(await client.call_tool("list_tickets", {}))
        resource = (await client.read_resource("jira://tickets")).contents[0]
        return keys, listed, json.loads(resource.text)  # type: ignore[union-attr]

    keys, listed, resource = _drive("jira", steps)
    assert keys == ["DEV-1", "OPS-1", "DEV-2"]
    assert listed == resource
    assert listed[1] == {"key": "OPS-1", "title": "Two", "description": "", "labels": [], "status": "To Do"}


def test_slack_numbers_messages_per_channel_and_refuses_a_channel_without_its_hash() -> None:
    async def steps(client: Client) -> dict[str, Any]:
        for channel, text in (("#dev-team", "one"), ("#ops", "two"), ("#dev-team", "three")):
            await client.call_tool("send_message", {"channel": channel, "text": text})
        return {
            "dev": _value(await client.call_tool("list_messages", {"channel": "#dev-team"})),
            "quiet": _value(await client.call_tool("list_messages", {"channel": "#quiet"})),
            "resource": json.loads((await client.read_resource("slack://channels/ops/messages")).contents[0].text),  # type: ignore[union-attr]
            "bad": (await client.call_tool("send_message", {"channel": "dev-team", "text": "x"})).is_error,
        }

    seen = _drive("slack", steps)
    assert seen["dev"] == [
        {"channel": "#dev-team", "text": "one", "ts": "1.000000"},
        {"channel": "#dev-team", "text": "three", "ts": "2.000000"},
    ]
    assert seen["quiet"] == []
    assert seen["resource"] == [{"channel": "#ops", "text": "two", "ts": "1.000000"}]
    assert seen["bad"] is True
