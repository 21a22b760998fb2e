"""The guide's multi-server orchestration, for real: one bridge in front of the GitHub, Jira and Slack
servers of examples/servers (examples/guide/orchestration.json, started from the repository's root);
the example turns the open issues into tickets and announces each, and the test reads both back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.examples.guide import GUIDE, ready_bridge, run_example, venv_path
from tests.support import ROOT, BridgeProcess


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = str(GUIDE / "orchestration.json")
    with ready_bridge(
        tmp_path_factory.mktemp("orchestration"),
        None,
        "--config",
        config,
        ready=("github", "jira", "slack"),
        env={"PATH": venv_path()},
        cwd=ROOT,
    ) as running:
        yield running


def _call(bridge: BridgeProcess, tool: str, arguments: dict[str, Any]) -> Any:
    response = requests.post(f"{bridge.url}/tools/{tool}", json=arguments, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["structuredContent"]


def test_orchestration_creates_a_ticket_per_open_issue_and_announces_each_in_slack(bridge: BridgeProcess) -> None:
    assert _call(bridge, "list_tickets", {}) == {"result": []}
    ran = run_example("orchestration.py", MCP_BRIDGE_URL=bridge.url)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""  # the guide prints nothing; what it did is on the servers
    assert _call(bridge, "list_tickets", {}) == {
        "result": [
            {
                "key": "DEV-1",
                "title": "Login times out behind the proxy",
                "description": "Sign-in hangs for 30 s when HTTPS_PROXY is set.",
                "labels": ["bug", "auth"],
                "status": "To Do",
            },
            {
                "key": "DEV-2",
                "title": "Export reports as CSV",
                "description": "Finance asks for a CSV next to the PDF.",
                "labels": ["feature"],
                "status": "To Do",
            },
        ]
    }
    assert _call(bridge, "list_messages", {"channel": "#dev-team"}) == {
        "result": [
            {"channel": "#dev-team", "text": "Created Jira ticket DEV-1 for GitHub issue #1", "ts": "1.000000"},
            {"channel": "#dev-team", "text": "Created Jira ticket DEV-2 for GitHub issue #3", "ts": "2.000000"},
        ]
    }
    uri = "slack://channels/dev-team/messages"
    read = requests.get(f"{bridge.url}/resources/read", params={"uri": uri}, timeout=60)
    assert [message["ts"] for message in json.loads(read.json()["contents"][0]["text"])] == ["1.000000", "2.000000"]
