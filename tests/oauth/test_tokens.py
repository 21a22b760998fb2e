"""Access tokens from a real authorization server against a real bridge: what is let in, and what is
refused with which challenge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.gate.jwks import REFRESH_INTERVAL
from harness import poll
from tests.oauth.conftest import API_KEY, ARGUMENTS, BRIDGE_CLIENT, TOOL, UPSTREAM_TOKEN, AuthServer, OAuthBridge
from tests.support import problem

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def _call(bridge: OAuthBridge, token: str | None, path: str = TOOL) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(bridge.url + path, json=ARGUMENTS, headers=headers, timeout=30)


def _metadata(bridge: OAuthBridge) -> str:
    return f'resource_metadata="{bridge.url}/.well-known/oauth-protected-resource"'


def _assert_invalid_token(bridge: OAuthBridge, answer: requests.Response, detail: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem(answer) == {
        "type": PROBLEMS + "unauthorized",
        "title": "Missing or invalid API key",
        "status": 401,
        "detail": detail,
        "instance": TOOL,
    }
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{detail}", {_metadata(bridge)}'
    )


def _service(server: AuthServer, scope: str = "use") -> dict[str, object]:
    return server.register(
        client_name="service",
        grant_types=["client_credentials"],
        token_endpoint_auth_method="client_secret_basic",
        scope=scope,
    )


def test_a_client_credentials_token_for_the_bridge_calls_a_tool(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.token(_service(oauth_bridge.server), scope="use", resource=oauth_bridge.url)
    answer = _call(oauth_bridge, token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["isError"] is False
    again = requests.get(oauth_bridge.url + "/tools", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert again.status_code == 200


def test_api_keys_keep_working_beside_tokens(oauth_bridge: OAuthBridge) -> None:
    assert _call(oauth_bridge, API_KEY).status_code == 200


def test_no_credential_gets_a_challenge_naming_the_resource_metadata(oauth_bridge: OAuthBridge) -> None:
    answer = _call(oauth_bridge, None)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == f"Bearer {_metadata(oauth_bridge)}"
    assert answer.json()["detail"] == "send an access token as 'Authorization: Bearer <token>' (or an API key)"


def test_expired_token_is_invalid(oauth_bridge: OAuthBridge) -> None:
    now = int(time.time())
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(iat=now - 600, exp=now - 60))
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, token), "the token has expired")


def test_not_yet_valid_token_is_invalid(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(nbf=int(time.time()) + 600))
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, token), "the token is not valid yet")


def test_token_of_another_issuer_is_invalid(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(iss="http://127.0.0.1:1"))
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, token), "the token was issued by another issuer")


def test_token_for_another_resource_is_invalid(oauth_bridge: OAuthBridge) -> None:
    server = oauth_bridge.server
    token = server.token(_service(server), scope="use", resource="https://other.example/mcp")
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, token), "the token is not meant for this bridge (aud)")


def test_token_without_an_audience_is_invalid(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(aud=None))
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, token), "the token has no 'aud' claim")


def test_token_signed_with_a_key_the_issuer_does_not_publish_is_invalid(oauth_bridge: OAuthBridge) -> None:
    keys = oauth_bridge.server.keys
    stranger = jwt.encode({"alg": "RS256", "kid": "unknown-kid"}, oauth_bridge.claims(), RSAKey.generate_key(2048))
    _assert_invalid_token(
        oauth_bridge, _call(oauth_bridge, stranger), "the token is signed with a key the issuer does not publish"
    )
    assert keys.active == "rsa-1"


def test_tampered_token_is_invalid(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims())
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "use admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _assert_invalid_token(
        oauth_bridge, _call(oauth_bridge, f"{header}.{forged}.{signature}"), "the token's signature is not valid"
    )


def test_unsigned_token_is_invalid(oauth_bridge: OAuthBridge) -> None:
    token = ".".join([_b64(json.dumps({"alg": "none", "typ": "JWT"})), _b64(json.dumps(oauth_bridge.claims())), ""])
    _assert_invalid_token(
        oauth_bridge, _call(oauth_bridge, token), "the token is signed with an algorithm the bridge does not accept"
    )


def test_hmac_token_keyed_with_the_public_key_is_invalid(oauth_bridge: OAuthBridge) -> None:
    jwks = requests.get(oauth_bridge.server.url + "/jwks", timeout=10).json()
    public = next(k for k in jwks["keys"] if k["kid"] == "rsa-1")
    pem = RSAKey.import_key(public).as_pem()  # what an attacker has: the published key, as PEM
    segments = [
        _b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"})),
        _b64(json.dumps(oauth_bridge.claims())),
    ]
    signature = hmac.new(pem, ".".join(segments).encode(), hashlib.sha256).digest()
    token = ".".join([*segments, base64.urlsafe_b64encode(signature).rstrip(b"=").decode()])
    _assert_invalid_token(
        oauth_bridge, _call(oauth_bridge, token), "the token is signed with an algorithm the bridge does not accept"
    )


def test_token_without_the_use_scope_is_403_insufficient_scope(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(scope="profile"))
    answer = _call(oauth_bridge, token)
    assert answer.status_code == 403
    assert problem(answer) == {
        "type": PROBLEMS + "forbidden",
        "title": "The API key lacks the scope for this operation",
        "status": 403,
        "detail": "this operation needs the scopes use",
        "instance": TOOL,
    }
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="use", {_metadata(oauth_bridge)}'
    )


def test_registering_a_server_needs_the_admin_scope(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(scope="use"))
    answer = requests.post(
        oauth_bridge.url + "/servers",
        json={"name": "x", "url": "http://127.0.0.1:1/mcp"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="admin", {_metadata(oauth_bridge)}'
    )


def test_the_allow_claim_limits_what_a_token_sees(oauth_bridge: OAuthBridge) -> None:
    token = oauth_bridge.server.keys.sign(oauth_bridge.claims(mcp_tools=["demo.validate_data"]))
    listed = requests.get(oauth_bridge.url + "/tools", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert [t["qualifiedName"] for t in listed.json()["tools"]] == ["demo.validate_data"]
    refused = _call(oauth_bridge, token)
    assert refused.status_code == 403  # as for a restricted key
    assert refused.json()["detail"] == "this caller may not call tool 'demo.process_data'"


def test_keys_rotated_at_the_issuer_are_followed(oauth_bridge: OAuthBridge) -> None:
    keys = oauth_bridge.server.keys
    service = _service(oauth_bridge.server)
    keys.add("rsa-2")
    try:
        rotated = oauth_bridge.server.token(service, scope="use", resource=oauth_bridge.url)
        assert json.loads(base64.urlsafe_b64decode(rotated.split(".")[0] + "=="))["kid"] == "rsa-2"
        # The bridge fetches the keys again on a kid it has not seen, at most once per interval
        # (another test's unknown kid may have used this one up): within the interval and a bit.
        poll(lambda: _call(oauth_bridge, rotated).status_code == 200, REFRESH_INTERVAL + 5, what="rsa-2 known")
        ec = keys.sign(oauth_bridge.claims(), kid="ec-1")
        assert _call(oauth_bridge, ec).status_code == 200
    finally:
        keys.active = "rsa-1"
        keys.drop("rsa-2")


def test_an_opaque_token_is_introspected(oauth_bridge: OAuthBridge) -> None:
    server = oauth_bridge.server
    token = server.token(_service(server), scope="use", resource=oauth_bridge.url, token_format="opaque")
    assert token.count(".") == 0
    assert _call(oauth_bridge, token).status_code == 200
    assert _call(oauth_bridge, token).status_code == 200


def test_an_unknown_opaque_token_is_invalid(oauth_bridge: OAuthBridge) -> None:
    _assert_invalid_token(oauth_bridge, _call(oauth_bridge, "not-a-token-of-anyone"), "the token is not active")


def test_the_protected_resource_metadata_names_the_issuer(oauth_bridge: OAuthBridge) -> None:
    answer = requests.get(oauth_bridge.url + "/.well-known/oauth-protected-resource", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {
        "resource": oauth_bridge.url,
        "authorization_servers": [oauth_bridge.server.url],
        "scopes_supported": ["admin", "destructive", "use"],
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp-rest-bridge",
        "resource_documentation": oauth_bridge.url + "/docs",
    }


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_no_token_key_or_secret_reaches_the_bridges_log(oauth_bridge: OAuthBridge) -> None:
    """Every test of this package has sent its tokens to this bridge by now (this module runs after
    the others, and this test last in it)."""
    log = oauth_bridge.process.log()
    assert "signing keys from" in log  # it logs, so the test can fail
    for secret in (API_KEY, BRIDGE_CLIENT[1], UPSTREAM_TOKEN, "eyJ", "not-a-token-of-anyone"):
        assert secret not in log
