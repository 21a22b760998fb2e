"""A bridge told to take OAuth 2.0 tokens it cannot check refuses to start, saying why."""

from __future__ import annotations

import pytest

from bridge.config import BridgeSettings, ConfigError, OAuthSettings
from bridge.runtime import Bridge
from harness import free_port
from tests.oauth.conftest import BRIDGE_CLIENT, AuthServer
from tests.support import in_process_bridge


def test_an_issuer_that_does_not_answer_stops_start_up() -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError) as refused:
        Bridge.create(BridgeSettings(oauth=OAuthSettings(issuer=issuer)), [])
    assert str(refused.value) == (
        f"OAuth 2.0 tokens cannot be checked: no metadata for the issuer {issuer}: "
        f"{issuer}/.well-known/openid-configuration could not be reached: ConnectionError; "
        f"{issuer}/.well-known/oauth-authorization-server could not be reached: ConnectionError"
    )


def test_an_issuer_whose_metadata_names_another_stops_start_up(auth_server: AuthServer) -> None:
    claimed = auth_server.url.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigError, match=r"names the issuer 'http://127\.0\.0\.1:[0-9]+', not 'http://localhost:"):
        Bridge.create(BridgeSettings(oauth=OAuthSettings(issuer=claimed)), [])


def test_introspection_without_the_bridges_client_credentials_stops_start_up(auth_server: AuthServer) -> None:
    settings = OAuthSettings(introspection_url=auth_server.url + "/introspect")
    with pytest.raises(ConfigError, match="token introspection needs the bridge's client id and secret"):
        Bridge.create(BridgeSettings(oauth=settings), [])


@pytest.mark.parametrize(
    ("algorithms", "reason"),
    [
        (("RS256", "none"), "unsigned tokens (alg 'none') are never accepted"),
        (("HS256",), "HS256 tokens need a shared secret (--oauth-hmac-secret-file)"),
        (("RS257",), "'RS257' is not a JWS algorithm"),
    ],
)
def test_algorithms_that_would_not_be_used_as_asked_stop_start_up(
    auth_server: AuthServer, algorithms: tuple[str, ...], reason: str
) -> None:
    settings = OAuthSettings(issuer=auth_server.url, algorithms=algorithms)
    with pytest.raises(ConfigError) as refused:
        Bridge.create(BridgeSettings(oauth=settings), [])
    assert str(refused.value).startswith("OAuth 2.0 tokens cannot be checked: " + reason)


def test_a_bridge_with_an_issuer_starts_and_publishes_its_metadata(auth_server: AuthServer) -> None:
    settings = OAuthSettings(issuer=auth_server.url, use_scope="mcp:call", admin_scope="")
    with in_process_bridge([], oauth=settings, public_url="https://bridge.example/") as bridge:
        client = bridge.app.test_client()
        assert client.get("/.well-known/oauth-protected-resource").json == {
            "resource": "https://bridge.example",
            "authorization_servers": [auth_server.url],
            "scopes_supported": ["destructive", "mcp:call"],
            "bearer_methods_supported": ["header"],
            "resource_name": "mcp-rest-bridge",
            "resource_documentation": "https://bridge.example/docs",
        }
        refused = client.get("/servers")
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer resource_metadata="https://bridge.example/.well-known/oauth-protected-resource"'
        )
        managing = client.delete("/servers/x", headers={"Authorization": "Bearer x"})
        assert managing.status_code == 403  # no token may manage (no admin scope), and no key is an admin key
        detail = "admin operations are disabled: no admin key is configured and no token can hold the admin scope"
        assert managing.json["detail"] == detail
        assert "WWW-Authenticate" not in managing.headers


def test_a_bridge_with_only_introspection_asks_about_jwts_too(auth_server: AuthServer) -> None:
    settings = OAuthSettings(
        introspection_url=auth_server.url + "/introspect", client_id=BRIDGE_CLIENT[0], client_secret=BRIDGE_CLIENT[1]
    )
    with in_process_bridge([], oauth=settings, public_url="http://bridge.example") as bridge:
        client = bridge.app.test_client()
        service = auth_server.register(client_name="jwt", grant_types=["client_credentials"], scope="use")
        jwt = auth_server.token(service, scope="use", resource="http://bridge.example")
        refused = client.get("/servers", headers={"Authorization": f"Bearer {jwt}"})
        assert refused.json["detail"] == "the token is not active"  # the test server knows only its opaque ones
        opaque = auth_server.token(service, scope="use", resource="http://bridge.example", token_format="opaque")
        assert client.get("/servers", headers={"Authorization": f"Bearer {opaque}"}).status_code == 200
