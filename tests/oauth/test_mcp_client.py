"""The official MCP SDK's OAuth client against the bridge's /mcp: refused with a challenge, it finds
the authorization server through the bridge's protected resource metadata, registers itself,
gets a token with the authorization code grant and PKCE (the test server approves its user at
once; the "browser" here is one plain HTTP request), and calls a tool, at both protocol generations."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import requests
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.oauth.conftest import ARGUMENTS, OAuthBridge

#: Where the SDK client says the browser comes back to; nothing listens there, the test reads the redirect.
REDIRECT_URI = "http://127.0.0.1:1/callback"


class MemoryStorage:
    """The SDK's token storage, in memory; what it held is looked at afterwards."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """Opens the authorization URL as a browser would, up to the redirect back to the client."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.redirected: str | None = None

    async def open(self, url: str) -> None:
        self.opened.append(url)
        answer = await asyncio.to_thread(requests.get, url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        self.redirected = answer.headers["Location"]

    async def callback(self) -> AuthorizationCodeResult:
        assert self.redirected is not None
        assert self.redirected.startswith(REDIRECT_URI + "?")
        query = parse_qs(urlsplit(self.redirected).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])


async def _connect_and_call(url: str, mode: str, storage: MemoryStorage, browser: Browser) -> dict[str, Any]:
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="mcp sdk test client",
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        tools = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("demo.process_data", ARGUMENTS)
        return {"tools": tools, "structured": result.structured_content, "error": result.is_error}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_finds_the_authorization_server_gets_a_token_and_calls_a_tool(
    oauth_bridge: OAuthBridge, mode: str
) -> None:
    storage, browser = MemoryStorage(), Browser()
    got = asyncio.run(_connect_and_call(oauth_bridge.url + "/mcp", mode, storage, browser))
    assert got["error"] is False
    assert got["structured"]["value"] == [1, 2, 3]
    assert "demo.process_data" in got["tools"]
    # It went to the test server, as the bridge's metadata said, asking for a token for the bridge.
    assert len(browser.opened) == 1
    authorize = urlsplit(browser.opened[0])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == oauth_bridge.server.url + "/authorize"
    query = parse_qs(authorize.query)
    assert query["resource"] == [oauth_bridge.url]
    assert query["code_challenge_method"] == ["S256"]
    assert storage.client is not None  # registered itself (RFC 7591)
    assert storage.tokens is not None
    assert storage.tokens.scope == "admin destructive use"
