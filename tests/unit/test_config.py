import json
import os
from pathlib import Path

import pytest

from bridge.config import ConfigError, load_servers, normalize_server_name, parse_servers


def test_claude_desktop_config_loads_as_is_with_env_expansion(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "my-server": {
                        "command": "python",
                        "args": ["-m", "my_mcp_server"],
                        "env": {"MCP_API_KEY": "${MCP_API_KEY}"},
                    },
                    "Remote_API": {
                        "url": "http://127.0.0.1:9/mcp",
                        "type": "streamable-http",
                        "headers": {"Authorization": "Bearer ${TOKEN:-none}"},
                    },
                    "legacy": {"url": "http://127.0.0.1:9/sse", "type": "sse"},
                    "off": {"command": "x", "disabled": True},
                }
            }
        )
    )
    servers = load_servers(path, {"MCP_API_KEY": "k-123"})
    assert [(s.name, s.transport) for s in servers] == [
        ("my-server", "stdio"),
        ("remote-api", "streamable-http"),
        ("legacy", "sse"),
    ]
    assert servers[0].env == {"MCP_API_KEY": "k-123"}
    assert servers[0].args == ("-m", "my_mcp_server")
    assert servers[1].headers == {"Authorization": "Bearer none"}


def test_missing_environment_variable_names_the_variable_and_the_place() -> None:
    with pytest.raises(ConfigError, match=r"mcpServers\.s\.env\.KEY: environment variable NOPE is not set"):
        parse_servers({"mcpServers": {"s": {"command": "x", "env": {"KEY": "${NOPE}"}}}}, {})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, 'an "mcpServers" object'),
        ({"mcpServers": {"s": {"args": []}}}, "give a 'command'"),
        ({"mcpServers": {"s": {"command": ""}}}, "command must be a non-empty string"),
        ({"mcpServers": {"s": {"url": "ftp://x", "type": "sse"}}}, "must be an http"),
        ({"mcpServers": {"s": {"command": "x", "timeout": -1}}}, "timeout must be a positive"),
        ({"mcpServers": {"A": {"command": "x"}, "a": {"command": "y"}}}, "both map to the name 'a'"),
        ({"mcpServers": {"s": {"command": "x", "cpus": []}}}, r"s\.cpus must be a non-empty list of CPU numbers"),
        ({"mcpServers": {"s": {"command": "x", "cpus": ["0"]}}}, "must be a non-empty list of CPU numbers"),
        ({"mcpServers": {"s": {"command": "x", "cpus": [True]}}}, "must be a non-empty list of CPU numbers"),
        ({"mcpServers": {"s": {"command": "x", "cpus": "all"}}}, 'list of CPU numbers, or "auto"'),
        ({"mcpServers": {"s": {"command": "x", "cpus": [4096]}}}, r"this machine has no CPUs \[4096\] \(it has 0 to"),
        ({"mcpServers": {"s": {"url": "http://h/mcp", "cpus": [0]}}}, "cpus applies to stdio servers only"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(document: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_servers(document, {})


def test_unreadable_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_servers(tmp_path / "missing.json", {})
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON: line 1"):
        load_servers(bad, {})


def test_server_names_are_normalized_to_the_url_rule() -> None:
    assert normalize_server_name("My Server_2") == "my-server-2"
    with pytest.raises(ConfigError):
        normalize_server_name("___")


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_cpus_pin_a_stdio_server_to_cpus_the_bridge_may_use() -> None:
    usable = sorted(os.sched_getaffinity(0))
    document = {"mcpServers": {"s": {"command": "x", "cpus": [usable[-1], usable[0], usable[-1]]}}}
    (server,) = parse_servers(document, {})
    assert server.cpus == tuple(sorted({usable[0], usable[-1]}))
    assert parse_servers({"mcpServers": {"s": {"command": "x"}}}, {})[0].cpus is None
    assert parse_servers({"mcpServers": {"s": {"command": "x", "cpus": "auto"}}}, {})[0].cpus == "auto"


def test_a_server_without_a_timeout_leaves_it_to_the_bridge_and_an_explicit_one_is_kept() -> None:
    servers = parse_servers(
        {"mcpServers": {"own": {"command": "x", "timeout": 60}, "default": {"command": "x"}}}, os.environ
    )
    assert [(s.name, s.call_timeout) for s in servers] == [("own", 60.0), ("default", None)]
