"""Each example of examples/guide is its code block of the guide (examples/guide/integration-guide.md,
the guide as the user gave it), changed only where the example's header says: the guide's lines
each example no longer has are listed here, one example at a time, and nothing else may be missing.
"""

from __future__ import annotations

import difflib
import re

import pytest

from tests.examples.guide import GUIDE

#: example file → (the guide's heading over its code block, the guide's lines it changed).
CHANGED: dict[str, tuple[str, list[str]]] = {
    "python_client.py": (
        "Python Client",
        ["from mcp import Client", 'client = Client("http://localhost:8000/mcp")'],
    ),
    "javascript_client.mjs": (
        "JavaScript Client",
        ["import { MCPClient } from '@mcp/client';", "  url: 'http://localhost:8000/mcp',"],
    ),
    "claude_desktop_config.json": (
        "Configuration",
        ["// claude_desktop_config.json", '      "args": ["-m", "my_mcp_server"],'],
    ),
    "register_server.sh": (
        "Register with Gateway",
        [
            "curl -X POST http://gateway.example.com/servers \\",
            '    "url": "http://my-server:8000/mcp",',
            '      "token": "${SERVER_TOKEN}"',
        ],
    ),
    "gateway_client.py": (
        "Gateway Client Usage",
        ["from mcp_gateway import GatewayClient", '    url="http://gateway.example.com",'],
    ),
    "rest_client.py": ("REST Client Example", []),
    "api_key_auth.py": ("API Key Authentication", ['        url="http://localhost:8000/mcp",']),
    "oauth_client.py": ("OAuth 2.0 Integration", ['    url="http://localhost:8000/mcp",']),
    "client_with_retry.py": (
        "Client-Side Error Handling",
        [
            "class MCPClientWithRetry:",
            "                if e.code == -32000:  # Server error",
            "            except ConnectionError as e:",
        ],
    ),
    "data_pipeline.py": ("Data Processing Pipeline", []),
    "websocket_client.js": ("WebSocket Client", []),
    "events.html": ("Client-Side SSE", ["const eventSource = new EventSource('/mcp/stream');"]),
    "webhook_receiver.py": ("Webhook Receiver", []),
    "orchestration.py": (
        "Multi-Server Orchestration",
        [
            '    github_client = MCPClient("http://github-server:8000/mcp")',
            '    jira_client = MCPClient("http://jira-server:8000/mcp")',
            '    slack_client = MCPClient("http://slack-server:8000/mcp")',
        ],
    ),
}


def _blocks() -> dict[str, list[str]]:
    """The guide's code blocks by the heading above each."""
    text = (GUIDE / "integration-guide.md").read_text(encoding="utf-8")
    found = re.findall(r"^#+ ([^\n]+)\n+```[a-z]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return {heading: code.splitlines() for heading, code in found}


def test_every_example_is_a_block_of_the_guide() -> None:
    assert {heading for heading, _ in CHANGED.values()} <= set(_blocks())
    assert sorted(CHANGED) == sorted(
        p.name
        for p in GUIDE.iterdir()
        if p.suffix in {".py", ".mjs", ".js", ".sh"} or p.name.startswith("claude") or p.name == "events.html"
    )


@pytest.mark.parametrize("example", sorted(CHANGED))
def test_the_example_keeps_every_line_of_its_block_but_the_ones_its_header_names(example: str) -> None:
    heading, changed = CHANGED[example]
    guide = _blocks()[heading]
    ours = (GUIDE / example).read_text(encoding="utf-8").splitlines()
    matcher = difflib.SequenceMatcher(a=guide, b=ours, autojunk=False)
    opcodes = matcher.get_opcodes()
    missing = [line for tag, i1, i2, _, _ in opcodes if tag in ("replace", "delete") for line in guide[i1:i2]]
    assert missing == changed
    assert "changed from the guide, and why" in "\n".join(ours[:30]).lower()  # the header says what and why
