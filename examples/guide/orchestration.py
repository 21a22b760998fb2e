"""The integration guide's "Multi-Server Orchestration", through one bridge in front of three servers.

The guide's GitHub, Jira and Slack servers are examples/servers/github_server.py, jira_server.py
and slack_server.py (small MCP servers that keep their issues, tickets and messages in memory),
fronted by one bridge: ``mcp-bridge serve --config examples/guide/orchestration.json``.

Changed from the guide, and why:

- ``MCPClient`` is used but never defined or imported. It is defined here, over our generated
  client's ``Client`` (``mcp_bridge_client``, generated/python), as the guide uses it: its
  ``call_tool`` is awaited, and answers the tool's value (a list of issues, a ticket), which is
  the result's ``structuredContent``; the MCP SDK wraps a value that is not an object, such as
  ``list_issues``' list, as ``{"result": value}``, so that wrapper is taken off. The blocking
  call runs in a worker thread (``asyncio.to_thread``) so it never holds up the event loop.
- The URLs: each client reads ``MCP_BRIDGE_URL``, with the guide's own URL for that server as
  the default. Behind one bridge the three clients share its URL: the bridge finds the server
  that offers each tool (``list_issues``, ``create_ticket``, ``send_message``).
- The guide never runs ``orchestrate_servers()``; ``asyncio.run`` does at the end.

Run it (with ``python`` the project's venv, which has the SDK):
``mcp-bridge serve --config examples/guide/orchestration.json`` from the repository's root, then
``MCP_BRIDGE_URL=http://127.0.0.1:8000 PYTHONPATH=generated/python python examples/guide/orchestration.py``.
Read the tickets and messages back with ``curl -X POST http://127.0.0.1:8000/tools/list_tickets -d '{}'
-H 'Content-Type: application/json'`` (and ``list_messages`` with ``{"channel": "#dev-team"}``).
"""

import asyncio
import os

from mcp_bridge_client import Client


class MCPClient:
    """The guide's client: awaitable tool calls that answer the tool's value."""

    def __init__(self, url):
        self.client = Client(url)

    async def call_tool(self, name, arguments):
        result = await asyncio.to_thread(self.client.call_tool, name, arguments)
        value = result.structuredContent
        return value["result"] if isinstance(value, dict) and list(value) == ["result"] else value


async def orchestrate_servers():
    # Connect to multiple servers
    github_client = MCPClient(os.environ.get("MCP_BRIDGE_URL", "http://github-server:8000/mcp"))
    jira_client = MCPClient(os.environ.get("MCP_BRIDGE_URL", "http://jira-server:8000/mcp"))
    slack_client = MCPClient(os.environ.get("MCP_BRIDGE_URL", "http://slack-server:8000/mcp"))
    
    # Get GitHub issues
    issues = await github_client.call_tool("list_issues", {
        "repo": "myorg/myrepo",
        "state": "open"
    })
    
    # Create Jira tickets
    for issue in issues:
        ticket = await jira_client.call_tool("create_ticket", {
            "title": issue["title"],
            "description": issue["body"],
            "labels": issue["labels"]
        })
        
        # Notify via Slack
        await slack_client.call_tool("send_message", {
            "channel": "#dev-team",
            "text": f"Created Jira ticket {ticket['key']} for GitHub issue #{issue['number']}"
        })


if __name__ == "__main__":
    asyncio.run(orchestrate_servers())
