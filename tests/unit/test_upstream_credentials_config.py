"""An HTTP server's ``authentication`` and ``identity`` in the config, and secrets from files and the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import ClientCredentials, ConfigError, ServerConfig, parse_servers, upstream_credentials

URL = "http://127.0.0.1:9/mcp"
TOKEN_URL = "https://idp.example/oauth/token"


def _one(entry: dict[str, Any], environ: dict[str, str] | None = None) -> ServerConfig:
    (server,) = parse_servers({"mcpServers": {"up": {"url": URL, **entry}}}, environ or {})
    return server


def _grant(**more: Any) -> dict[str, Any]:
    return {"type": "oauth2-client-credentials", "tokenUrl": TOKEN_URL, "clientId": "bridge", **more}


def test_env_and_file_forms_expand_anywhere_and_a_files_trailing_newline_is_dropped(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("file-token\n", encoding="utf-8")
    server = _one(
        {"headers": {"Authorization": f"Bearer ${{file:{secret}}}", "X-Team": "${env:TEAM}", "X-Old": "${TEAM}"}},
        {"TEAM": "blue"},
    )
    assert server.headers == {"Authorization": "Bearer file-token", "X-Team": "blue", "X-Old": "blue"}


def test_client_credentials_take_the_secret_from_a_file_the_environment_or_the_entry(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("from-file\r\n", encoding="utf-8")
    from_file = _one({"authentication": _grant(clientSecretFile=str(secret), scope="a b", clientAuth="post")})
    from_env = _one(
        {"authentication": _grant(clientSecret="${env:SECRET}", audience="x", resource=URL)}, {"SECRET": "e"}
    )
    assert from_file.oauth == ClientCredentials(TOKEN_URL, "bridge", "from-file", scope="a b", client_auth="post")
    assert from_env.oauth == ClientCredentials(TOKEN_URL, "bridge", "e", audience="x", resource=URL)
    assert from_file.headers == {}


def test_a_bearer_token_may_come_from_a_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t-1\n", encoding="utf-8")
    server = _one({"headers": {"X-Team": "blue"}, "authentication": {"type": "bearer", "tokenFile": str(token)}})
    assert server.headers == {"X-Team": "blue", "Authorization": "Bearer t-1"}


def test_identity_names_the_subject_header_and_forwarding_the_callers_token() -> None:
    server = _one({"identity": {"subjectHeader": "X-MCP-Bridge-Subject", "forwardCallerToken": True}})
    assert (server.subject_header, server.forward_caller_token, server.identifies_caller) == (
        "X-MCP-Bridge-Subject",
        True,
        True,
    )
    assert not _one({}).identifies_caller


def test_no_secret_shows_in_a_configs_repr(tmp_path: Path) -> None:
    server = _one(
        {"headers": {"Authorization": "Bearer header-secret"}, "authentication": _grant(clientSecret="client-secret")}
    )
    shown = repr(server)
    assert "header-secret" not in shown
    assert "client-secret" not in shown
    assert "client_id='bridge'" in shown  # the client id is no secret


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"authentication": _grant()},
            "mcpServers.up.authentication needs exactly one of clientSecret and clientSecretFile",
        ),
        (
            {"authentication": _grant(clientSecret="a", clientSecretFile="/b")},
            "mcpServers.up.authentication needs exactly one of clientSecret and clientSecretFile",
        ),
        (
            {"authentication": {**_grant(clientSecret="s"), "tokenUrl": "ftp://x"}},
            "mcpServers.up.authentication.tokenUrl must be an http:// or https:// URL",
        ),
        (
            {"authentication": _grant(clientSecret="s", clientAuth="jwt")},
            'mcpServers.up.authentication.clientAuth must be "basic" or "post"',
        ),
        (
            {"authentication": {"type": "basic"}},
            'mcpServers.up.authentication.type must be "bearer", "headers" or "oauth2-client-credentials"',
        ),
        ({"identity": {"subjectHeader": "X Subject"}}, "mcpServers.up.identity.subjectHeader must be a header name"),
        (
            {"identity": {"subjectHeader": "authorization"}},
            "mcpServers.up.identity.subjectHeader cannot be Authorization (see forwardCallerToken)",
        ),
        (
            {"identity": {"forwardCallerToken": "yes"}},
            "mcpServers.up.identity.forwardCallerToken must be true or false",
        ),
        (
            {"type": "sse", "identity": {"forwardCallerToken": True}},
            "mcpServers.up.identity.forwardCallerToken needs a streamable-http server",
        ),
    ],
)
def test_a_bad_authentication_or_identity_says_where(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _one(entry)
    assert str(raised.value) == message


def test_an_unreadable_secret_file_names_the_file_and_never_a_value(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as raised:
        _one({"authentication": _grant(clientSecretFile=str(missing))})
    assert str(raised.value) == (
        f"mcpServers.up.authentication.clientSecretFile: cannot read the file {missing}: No such file or directory"
    )
    with pytest.raises(ConfigError) as raised:
        _one({"headers": {"X-Key": f"${{file:{missing}}}"}})
    assert (
        str(raised.value) == f"mcpServers.up.headers.X-Key: cannot read the file {missing}: No such file or directory"
    )


def test_a_stdio_server_takes_no_authentication_or_identity() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_servers({"mcpServers": {"up": {"command": "x", "identity": {"subjectHeader": "X-S"}}}}, {})
    assert str(raised.value) == "mcpServers.up.identity applies to HTTP servers only (stdio servers take env)"


def test_a_registration_may_neither_name_files_nor_forward_callers_tokens() -> None:
    with pytest.raises(ConfigError) as raised:
        upstream_credentials({"authentication": {"type": "bearer", "tokenFile": "/etc/hostname"}}, "body", files=False)
    assert str(raised.value) == (
        "body.authentication.tokenFile: secrets from files can be named in the bridge's config file only"
    )
    with pytest.raises(ConfigError) as raised:
        upstream_credentials({"identity": {"forwardCallerToken": True}}, "body", files=False)
    assert str(raised.value) == "body.identity.forwardCallerToken can be set in the bridge's config file only"
    headers, oauth, subject, forward = upstream_credentials(
        {"authentication": _grant(clientSecret="s"), "identity": {"subjectHeader": "X-S"}}, "body", files=False
    )
    assert (headers, oauth, subject, forward) == ({}, ClientCredentials(TOKEN_URL, "bridge", "s"), "X-S", False)
