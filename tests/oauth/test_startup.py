"""A bridge told to take OAuth 2.0 tokens it cannot check refuses to start, saying why."""

from __future__ import annotations

import pytest

from bridge.config import BridgeSettings, ConfigError, OAuthSettings
from bridge.runtime import Bridge
from harness import free_port
from tests.oauth.conftest import AuthServer


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
