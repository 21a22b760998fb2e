"""A token endpoint, an MCP server that lets in only its tokens, and a bridge with credentials for it.

The bridge is a real ``mcp-bridge serve`` process fronting the one guarded server under several
names, each configured another way (client secret from a file, from the environment, written
in; the subject header; the caller's token forwarded; a wrong secret), so one start serves
every test here. Each name has an OAuth client of its own, so counts never mix.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import accepting, free_port, started
from tests.servers.launch import START_TIMEOUT
from tests.support import BridgeProcess, bridge_process
from tests.upstream_auth.token_endpoint import TokenEndpoint, running_token_endpoint

GUARDED_SERVER = Path(__file__).resolve().parent.parent / "servers" / "guarded_server.py"
USER = "user-key-of-the-upstream-auth-tests"
ADMIN = "admin-key-of-the-upstream-auth-tests"
SUBJECT_HEADER = "X-MCP-Bridge-Subject"
#: Each server's OAuth client: its secret, and how long its tokens live (seconds).
CLIENTS = {
    "subject": ("secret-of-subject-7f3a", 300.0),
    "short": ("secret-of-short-91bc", 3.0),
    "plain": ("secret-of-plain-c4d2", 300.0),
    "forward": ("secret-of-forward-0e6f", 300.0),
    "registered": ("secret-of-registered-5a8b", 300.0),
    "legacy": ("secret-of-legacy-d17e", 300.0),
    "rotated": ("secret-of-rotated-83c0", 300.0),
}
WRONG_SECRET = "not-the-secret-of-subject-2b9d"
SECRETS = [secret for secret, _ in CLIENTS.values()] + [WRONG_SECRET, USER, ADMIN]


@dataclass
class Setup:
    endpoint: TokenEndpoint
    upstream: str
    bridge: BridgeProcess

    def call(self, method: str, path: str, body: Any = None, key: str = USER) -> requests.Response:
        return requests.request(
            method, self.bridge.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def _grant(endpoint: TokenEndpoint, client: str, **secret: str) -> dict[str, Any]:
    return {
        "type": "oauth2-client-credentials",
        "tokenUrl": endpoint.url + "/token",
        "clientId": client,
        **secret,
    }


@pytest.fixture(scope="package")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("upstream-auth")
    with running_token_endpoint() as endpoint:
        for client, (secret, lifetime) in CLIENTS.items():
            endpoint.add_client(client, secret, lifetime)
        port, sse_port = free_port(), free_port()
        args = [sys.executable, str(GUARDED_SERVER), "--introspect", endpoint.url + "/introspect"]
        with (
            started("guarded server", [*args, "--port", str(port)], log=tmp / "guarded.log") as server,
            started("guarded SSE server", [*args, "--port", str(sse_port), "--sse"], log=tmp / "sse.log") as sse,
        ):
            server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
            sse.wait_until(lambda: accepting(sse_port), START_TIMEOUT, f"accepting connections on port {sse_port}")
            upstream = f"http://127.0.0.1:{port}/mcp"
            secret_file = tmp / "subject-secret"
            secret_file.write_text(CLIENTS["subject"][0] + "\n", encoding="utf-8")
            plain_file = tmp / "plain-secret"
            plain_file.write_text(CLIENTS["plain"][0], encoding="utf-8")
            config = {
                "mcpServers": {
                    "subject": {
                        "url": upstream,
                        "authentication": _grant(endpoint, "subject", clientSecretFile=str(secret_file)),
                        "identity": {"subjectHeader": SUBJECT_HEADER},
                    },
                    "short": {
                        "url": upstream,
                        "authentication": _grant(endpoint, "short", clientSecret="${env:SHORT_CLIENT_SECRET}"),
                    },
                    "plain": {
                        "url": upstream,
                        "authentication": {
                            **_grant(endpoint, "plain", clientSecret=f"${{file:{plain_file}}}"),
                            "clientAuth": "post",
                            "scope": "tools:call tools:list",
                            "audience": "guarded-upstream",
                            "resource": upstream,
                        },
                    },
                    "forward": {
                        "url": upstream,
                        "authentication": _grant(endpoint, "forward", clientSecret=CLIENTS["forward"][0]),
                        "identity": {"subjectHeader": SUBJECT_HEADER, "forwardCallerToken": True},
                    },
                    "legacy": {
                        "url": f"http://127.0.0.1:{sse_port}/sse",
                        "type": "sse",
                        "authentication": _grant(endpoint, "legacy", clientSecret=CLIENTS["legacy"][0]),
                        "identity": {"subjectHeader": SUBJECT_HEADER},
                    },
                    "rotated": {
                        "url": upstream,
                        "authentication": _grant(endpoint, "rotated", clientSecret=CLIENTS["rotated"][0]),
                    },
                    "wrong": {
                        "url": upstream,
                        "authentication": _grant(endpoint, "subject", clientSecret=WRONG_SECRET),
                    },
                }
            }
            env = {"SHORT_CLIENT_SECRET": CLIENTS["short"][0]}
            args = ("--api-key", USER, "--admin-key", ADMIN, "--allow-private-upstreams")
            with bridge_process(tmp / "bridge", config, *args, env=env) as bridge:
                yield Setup(endpoint, upstream, bridge)
