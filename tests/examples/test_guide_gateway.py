"""The guide's gateway examples: registering a server with curl, the gateway client, and API keys.

Two bridges, as an operator would run them: "my-server", a bridge in front of the demo that
takes one key (SERVER_TOKEN), and the gateway, a bridge with a plain key (MCP_API_KEY) and an
admin key (GATEWAY_TOKEN). The guide's curl registers my-server's MCP endpoint with the gateway,
bearer token and all; its gateway client then lists the servers and calls my-server's tool
through the gateway.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.examples.guide import load_example, ready_bridge, run_example
from tests.support import BridgeProcess

SERVER_TOKEN = "my-server-token"
GATEWAY_TOKEN = "gateway-admin-token"
API_KEY = "plain-api-key"
DEMO_TOOLS = ["process_data", "validate_data", "transform_data", "analyze_data", "generate_report"]
#: The gateway client's call, process_data on "test", as the demo behind my-server answers it.
TEST = {"kind": "text", "count": 1, "characters": 4, "words": 1, "lines": 1, "value": "test"}


@dataclass
class Gateway:
    gateway: BridgeProcess
    my_server: BridgeProcess


@pytest.fixture(scope="module")
def bridges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    with (
        ready_bridge(tmp / "my-server", None, "--api-key", SERVER_TOKEN) as my_server,
        ready_bridge(
            tmp / "gateway", None, "--api-key", API_KEY, "--admin-key", GATEWAY_TOKEN, "--allow-private-upstreams"
        ) as gateway,
    ):
        yield Gateway(gateway, my_server)


def _register(bridges: Gateway, server_token: str) -> subprocess.CompletedProcess[str]:
    return run_example(
        "register_server.sh",
        MCP_BRIDGE_URL=bridges.gateway.url,
        MY_SERVER_URL=bridges.my_server.url + "/mcp",
        GATEWAY_TOKEN=GATEWAY_TOKEN,
        SERVER_TOKEN=server_token,
    )


@dataclass
class Registration:
    refused: subprocess.CompletedProcess[str]
    accepted: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def registered(bridges: Gateway) -> Registration:
    """The script run twice: with a token my-server refuses, then with its own."""
    return Registration(_register(bridges, "not-the-token"), _register(bridges, SERVER_TOKEN))


def test_register_server_sends_my_servers_token_and_is_refused_with_a_wrong_one(registered: Registration) -> None:
    assert registered.refused.returncode == 0, registered.refused.stderr
    refused = json.loads(registered.refused.stdout)
    assert len(refused.pop("requestId")) == 32  # the guide's curl names no request: the bridge made its id
    assert refused == {
        "type": "https://mcp-rest-bridge.dev/problems/unprocessable",
        "title": "The request cannot be carried out",
        "status": 422,
        "detail": "server 'my-server' could not be reached as an MCP server: Server returned an error response",
        "instance": "/servers",
    }


def test_register_server_registers_my_server_and_the_gateway_calls_its_tools(
    bridges: Gateway, registered: Registration
) -> None:
    assert registered.accepted.returncode == 0, registered.accepted.stderr
    info = json.loads(registered.accepted.stdout)
    assert {key: info[key] for key in ("name", "source", "transport", "status", "counts", "lastError")} == {
        "name": "my-server",
        "source": "registry",
        "transport": "streamable-http",
        "status": "ready",
        "counts": {"tools": 5, "resources": 1, "prompts": 1},
        "lastError": None,
    }
    assert info["serverInfo"]["name"] == "mcp-rest-bridge"  # my-server is a bridge: the gateways federate
    assert SERVER_TOKEN not in registered.accepted.stdout
    called = requests.post(
        f"{bridges.gateway.url}/servers/my-server/tools/process_data",
        json={"input": "test"},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert called.status_code == 200, called.text
    assert called.json()["structuredContent"] == TEST


def test_gateway_client_lists_the_servers_and_calls_my_servers_tool(
    bridges: Gateway, registered: Registration, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_BRIDGE_URL", bridges.gateway.url)
    monkeypatch.setenv("GATEWAY_TOKEN", GATEWAY_TOKEN)
    example = load_example("gateway_client.py", monkeypatch)
    printed = capsys.readouterr().out
    assert printed.startswith("Available servers: [")
    assert sorted(server.name for server in example.servers) == ["demo", "my-server"]
    assert example.result.structuredContent == TEST


def test_api_key_auth_lists_the_tools_the_key_may_use(bridges: Gateway, registered: Registration) -> None:
    ran = run_example("api_key_auth.py", MCP_BRIDGE_URL=bridges.gateway.url, MCP_API_KEY=API_KEY)
    assert ran.returncode == 0, ran.stderr
    tools = [f"{server}.{tool}" for server in ("demo", "my-server") for tool in DEMO_TOOLS]
    assert ran.stdout == f"Tools for this key: {', '.join(tools)}\n"


def test_api_key_auth_with_a_wrong_key_is_unauthorized(bridges: Gateway) -> None:
    ran = run_example("api_key_auth.py", MCP_BRIDGE_URL=bridges.gateway.url, MCP_API_KEY="wrong")
    assert ran.returncode == 1
    assert ran.stderr.splitlines()[-1] == (
        "mcp_bridge_client.errors.Unauthorized: 401 Missing or invalid API key: the API key is not valid"
    )
