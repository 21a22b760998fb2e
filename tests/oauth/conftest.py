"""The test authorization server (``tests/oauth/authserver.py``) and a bridge that takes its tokens,
each a process of its own on 127.0.0.1; and the keys, which the tests also sign tokens with."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

from harness import accepting, free_port, poll, started
from tests.servers.launch import running_http_server
from tests.support import ROOT, BridgeProcess, bridge_process

API_KEY = "api-key-of-the-oauth-tests"
#: The bridge's own client at the authorization server, for introspection.
BRIDGE_CLIENT = ("bridge", "introspection-secret-of-the-bridge")
TOOL = "/servers/demo/tools/process_data"
#: The bridge's own token for its HTTP upstream, which refuses any other.
UPSTREAM_TOKEN = "upstream-token-of-the-oauth-tests"
ARGUMENTS = {"input": "[1, 2, 3]", "format": "json"}


@dataclass
class Keys:
    """The authorization server's private keys, in the file it reads on every use."""

    path: Path
    keys: dict[str, Key] = field(default_factory=dict)
    active: str = ""

    def add(self, kid: str, kind: str = "RSA", *, activate: bool = True) -> None:
        key = RSAKey.generate_key(2048, {"kid": kid}) if kind == "RSA" else ECKey.generate_key("P-256", {"kid": kid})
        self.keys[kid] = key
        if activate:
            self.active = kid
        self._write()

    def drop(self, kid: str) -> None:
        del self.keys[kid]
        self._write()

    def _write(self) -> None:
        data = {"active": self.active, "keys": [k.as_dict(private=True) for k in self.keys.values()]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)

    def sign(self, claims: dict[str, Any], kid: str | None = None, **header: Any) -> str:
        kid = kid or self.active
        key = self.keys[kid]
        alg = "RS256" if key.key_type == "RSA" else "ES256"
        return jwt.encode({"alg": alg, "kid": kid, **header}, claims, key)


@dataclass
class AuthServer:
    url: str
    keys: Keys

    def register(self, **metadata: Any) -> dict[str, Any]:
        answer = requests.post(self.url + "/register", json=metadata, timeout=10)
        assert answer.status_code == 201, answer.text
        registered: dict[str, Any] = answer.json()
        return registered

    def token(self, client: dict[str, Any], **params: str) -> str:
        answer = requests.post(
            self.url + "/token",
            data={"grant_type": "client_credentials", **params},
            auth=(client["client_id"], client["client_secret"]),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@dataclass
class OAuthBridge:
    url: str
    process: BridgeProcess
    server: AuthServer

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a token this bridge should accept, changed by ``overrides`` (None drops one)."""
        now = int(time.time())
        claims = {
            "iss": self.server.url,
            "sub": "tests",
            "aud": self.url,
            "iat": now,
            "exp": now + 300,
            "scope": "use",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="package")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    tmp = tmp_path_factory.mktemp("authserver")
    keys = Keys(tmp / "keys.json")
    keys.add("ec-1", "EC", activate=False)
    keys.add("rsa-1")
    port = free_port()
    argv = [sys.executable, "-m", "tests.oauth.authserver", "--port", str(port), "--keys", str(keys.path)]
    argv += ["--audience", "http://127.0.0.1:1/not-set", "--client", ":".join(BRIDGE_CLIENT)]
    with started("authserver", argv, cwd=ROOT, log=tmp / "authserver.log") as process:
        process.wait_until(lambda: accepting(port), 30, "the authorization server accepting")
        yield AuthServer(f"http://127.0.0.1:{port}", keys)


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="package")
def oauth_bridge(auth_server: AuthServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthBridge]:
    """``mcp-bridge serve`` in front of the demo and the rich server over HTTP (which takes only the
    bridge's own token), taking the test server's tokens and one API key."""
    tmp = tmp_path_factory.mktemp("oauth-bridge")
    secret = tmp / "client-secret"
    secret.write_text(BRIDGE_CLIENT[1] + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--api-key", API_KEY, "--public-url", url, "--oauth-issuer", auth_server.url]
    args += ["--oauth-client-id", BRIDGE_CLIENT[0], "--oauth-client-secret-file", str(secret)]
    args += ["--oauth-allow-claim", "mcp_tools", "--oauth-leeway", "5"]
    with running_http_server("http", token=UPSTREAM_TOKEN) as upstream:
        config = {
            "mcpServers": {
                "demo": {"command": sys.executable, "args": ["-m", "bridge.demo"]},
                "rich": {"url": upstream, "type": "http", "headers": {"Authorization": f"Bearer {UPSTREAM_TOKEN}"}},
            }
        }
        yield from _bridge(tmp, config, args, port, auth_server)


def _bridge(
    tmp: Path, config: dict[str, Any], args: list[str], port: int, auth_server: AuthServer
) -> Iterator[OAuthBridge]:
    url = f"http://127.0.0.1:{port}"
    with bridge_process(tmp, config, *args, port=port) as running:
        poll(lambda: _ready(url), 60, what="the demo server ready")
        yield OAuthBridge(url, running, auth_server)
