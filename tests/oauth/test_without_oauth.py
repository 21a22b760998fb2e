"""A bridge without OAuth answers as before: its challenges name the realm, a 403 has none, and it
has no protected resource metadata. And a challenge never carries what would break the header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bridge.errors import Forbidden, Unauthorized, bearer_challenge
from bridge.runtime import Bridge
from tests.support import in_process_bridge, rich_stdio

KEY = "key-of-a-bridge-without-oauth"


@pytest.fixture(scope="module")
def keyed() -> Iterator[Bridge]:
    with in_process_bridge([rich_stdio()], api_keys=(KEY,)) as running:
        yield running


@pytest.fixture
def client(keyed: Bridge) -> FlaskClient:
    return keyed.app.test_client()


def test_the_protected_resource_metadata_is_404_without_oauth(client: FlaskClient) -> None:
    answer = client.get("/.well-known/oauth-protected-resource")
    assert answer.status_code == 404
    assert answer.json == {
        "type": "https://mcp-rest-bridge.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "this bridge takes no OAuth 2.0 access tokens; it has no protected resource metadata",
        "instance": "/.well-known/oauth-protected-resource",
    }


def test_an_api_key_bridge_challenges_with_its_realm_only(client: FlaskClient) -> None:
    assert client.get("/servers").headers["WWW-Authenticate"] == 'Bearer realm="mcp-rest-bridge"'
    wrong = client.get("/servers", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="mcp-rest-bridge"'
    assert wrong.json["detail"] == "the API key is not valid"


def test_a_plain_key_managing_servers_gets_403_without_a_challenge(client: FlaskClient) -> None:
    answer = client.delete("/servers/rich", headers={"X-API-Key": KEY})
    assert answer.status_code == 403
    assert "WWW-Authenticate" not in answer.headers


def test_a_challenge_drops_what_a_quoted_string_cannot_hold() -> None:
    assert bearer_challenge(error="invalid_token", error_description='a "b" \\ c\r\nd') == (
        'Bearer error="invalid_token", error_description="a  b    c  d"'
    )
    assert Unauthorized("x", error="invalid_token", resource_metadata="http://b/m").headers() == {
        "WWW-Authenticate": 'Bearer error="invalid_token", error_description="x", resource_metadata="http://b/m"'
    }
    assert Forbidden("x").headers() == {}
