"""Claude Desktop: the stdio proxy driven by the official SDK client, and the config installer."""

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from bridge.cli import main
from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process

KEY = "desktop-key"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {
        "mcpServers": {
            "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
            "rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]},
        }
    }
    with bridge_process(tmp_path_factory.mktemp("desktop"), config, "--api-key", KEY) as running:
        yield running


def _proxy(url: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "bridge.cli", "stdio", "--url", url], env=env)


def test_the_stdio_proxy_serves_the_gateway_to_an_mcp_client(gateway: BridgeProcess) -> None:
    async def session() -> dict[str, object]:
        async with Client(_proxy(gateway.url + "/mcp", {"MCP_BRIDGE_API_KEY": KEY})) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            analysed = await client.call_tool("demo.analyze_data", {"data": [1, 2, 3, 4], "metrics": ["mean"]})
            failed = await client.call_tool("rich.fail", {"message": "boom"})
            resources = {str(r.uri) for r in (await client.list_resources()).resources}
            settings = await client.read_resource("config://settings")
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            greeting = await client.get_prompt("rich.greet", {"name": "Ada"})
            try:
                await client.call_tool("nope", {})
                unknown = "no error"
            except MCPError as exc:
                unknown = exc.message
            return {
                "tools": tools,
                "analysed": analysed.structured_content,
                "failed": (failed.is_error, failed.content[0].text),  # type: ignore[union-attr]
                "resources": resources,
                "settings": json.loads(settings.contents[0].text)["name"],  # type: ignore[union-attr]
                "prompts": prompts,
                "greeting": greeting.messages[0].content.text,  # type: ignore[union-attr]
                "unknown": unknown,
            }

    got = asyncio.run(session())
    assert {"demo.analyze_data", "rich.add", "rich.book_flight"} <= got["tools"]  # type: ignore[operator]
    assert got["analysed"] == {"metrics": {"mean": 2.5}, "count": 4}
    assert got["failed"] == (True, "Error executing tool fail: boom")
    assert {"config://settings", "text://greeting"} <= got["resources"]  # type: ignore[operator]
    assert got["settings"] == "demo"
    assert got["prompts"] == {"demo.summarize_analysis", "rich.greet", "rich.review_code"}
    assert got["greeting"] == "Hello, Ada!"
    assert got["unknown"] == "no tool named 'nope'"


def test_the_proxy_without_the_key_reports_the_bridges_refusal(gateway: BridgeProcess) -> None:
    async def session() -> str:
        async with Client(_proxy(gateway.url)) as client:
            try:
                await client.list_tools()
            except MCPError as exc:
                return exc.message
        return "no error"

    assert asyncio.run(session()) == "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def test_install_adds_the_entry_and_keeps_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir()
    existing = {"mcpServers": {"other": {"command": "x", "args": ["y"]}}, "globalShortcut": "Ctrl+Space"}
    path.write_text(json.dumps(existing))
    result = CliRunner().invoke(
        main,
        [
            "install",
            "--name",
            "gateway",
            "--url",
            "http://127.0.0.1:8000",
            "-v",
            "MCP_BRIDGE_API_KEY=secret",
            "-v",
            "DEBUG=true",
            "--config-path",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "added 'gateway'" in result.output
    written = json.loads(path.read_text())
    assert written["globalShortcut"] == "Ctrl+Space"
    assert written["mcpServers"]["other"] == {"command": "x", "args": ["y"]}
    entry = written["mcpServers"]["gateway"]
    assert entry["args"] == ["stdio", "--url", "http://127.0.0.1:8000"]
    assert entry["env"] == {"MCP_BRIDGE_API_KEY": "secret", "DEBUG": "true"}
    assert Path(entry["command"]).name == "mcp-bridge"
    assert Path(entry["command"]).is_absolute()
    again = CliRunner().invoke(
        main, ["install", "--name", "gateway", "--url", "http://h:1", "--config-path", str(path)]
    )
    assert "updated 'gateway'" in again.output
    assert list(json.loads(path.read_text())["mcpServers"]) == ["other", "gateway"]


def test_install_refuses_a_malformed_config_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text("[1, 2]")
    result = CliRunner().invoke(main, ["install", "--name", "g", "--url", "http://h:1", "--config-path", str(path)])
    assert result.exit_code == 1
    assert "does not hold a JSON object" in result.output
    assert path.read_text() == "[1, 2]"
    bad = CliRunner().invoke(
        main, ["install", "--name", "g", "--url", "u", "-v", "NOEQUALS", "--config-path", str(path)]
    )
    assert bad.exit_code == 2
