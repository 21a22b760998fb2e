"""The guide's OAuth 2.0 snippet (examples/guide/oauth_client.py) against the test authorization server
and a bridge that takes its tokens: authlib's ``OAuth2Session`` gets a token with the authorization
code grant (the browser, ``$BROWSER``, follows the redirects by plain HTTP), and the generated
client calls a tool with it."""

from __future__ import annotations

import sys
from pathlib import Path

from harness import free_port
from tests.examples.guide import run_example
from tests.oauth.conftest import OAuthBridge

BROWSER = Path(__file__).resolve().parent / "browser.py"


def _environment(bridge: OAuthBridge, client: dict[str, object], redirect: str, bridge_url: str) -> dict[str, str]:
    server = bridge.server.url
    return {
        "OAUTH_CLIENT_ID": str(client["client_id"]),
        "OAUTH_CLIENT_SECRET": str(client["client_secret"]),
        "OAUTH_REDIRECT_URI": redirect,
        "OAUTH_AUTHORIZE_URL": server + "/authorize",
        "OAUTH_TOKEN_URL": server + "/token",
        "MCP_BRIDGE_URL": bridge_url,
        "AUTHLIB_INSECURE_TRANSPORT": "1",  # the test authorization server speaks plain HTTP on 127.0.0.1
        "BROWSER": f"{sys.executable} {BROWSER} %s",
    }


def test_the_guides_oauth_snippet_gets_a_token_and_calls_a_tool(oauth_bridge: OAuthBridge) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    client = oauth_bridge.server.register(
        client_name="the guide's web app",
        redirect_uris=[redirect],
        grant_types=["authorization_code"],
        response_types=["code"],
        scope="use",
    )
    ran = run_example("oauth_client.py", **_environment(oauth_bridge, client, redirect, oauth_bridge.url + "/mcp"))
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith(f"Sign in at: {oauth_bridge.server.url}/authorize?response_type=code&client_id=")
    summary = {"kind": "json", "count": 3, "characters": 9, "words": 3, "lines": 1, "type": "array", "value": [1, 2, 3]}
    assert lines[1:] == [f"Result: {summary!r}"]


def test_without_the_bridge_as_resource_the_token_is_refused(oauth_bridge: OAuthBridge) -> None:
    """The same snippet against a bridge URL the token was not issued for: the bridge says 401."""
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    client = oauth_bridge.server.register(
        client_name="the guide's web app", redirect_uris=[redirect], grant_types=["authorization_code"]
    )
    other = oauth_bridge.url.replace("127.0.0.1", "localhost")
    ran = run_example("oauth_client.py", **_environment(oauth_bridge, client, redirect, other + "/mcp"))
    assert ran.returncode != 0
    assert "the token is not meant for this bridge (aud)" in ran.stderr
