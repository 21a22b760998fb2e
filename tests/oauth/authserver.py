"""A real OAuth 2.0 / OpenID Connect authorization server for the tests, on authlib, run as its own process.

``python -m tests.oauth.authserver --port P --keys KEYS.json --audience URL [--client ID:SECRET]...``

- metadata at ``/.well-known/openid-configuration`` and ``/.well-known/oauth-authorization-server``
  (RFC 8414), its keys at ``/jwks``;
- grants: client credentials, and authorization code with PKCE (S256; required of public
  clients), approved at once for the test user ``alice``, so a test follows the authorize
  redirect with plain HTTP;
- RFC 7591 dynamic client registration at ``/register`` (open, as the MCP SDK's client uses it);
- RFC 8707: a token request's ``resource`` becomes the token's ``aud`` (else ``--audience``);
- refresh tokens for the authorization code grant (kept in memory, single use);
- ``/test/delay`` (GET, POST ``{"seconds"}``) makes introspection answer that much later, and
  says how many introspections are waiting, for tests of a slow authorization server;
- tokens are JWTs signed with the key the keys file names ``active``, or opaque (the token
  request says ``token_format=opaque``), which ``/introspect`` (RFC 7662) describes.

The keys file holds private JWKs and is read on every use, so a test rotates keys by rewriting it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, g, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet

USER = "alice"
LIFETIME = 3600
SCOPES = ["use", "admin", "destructive"]


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.metadata.get("redirect_uris") or []
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set((self.metadata.get("scope") or " ".join(SCOPES)).split())
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.metadata.get("redirect_uris") or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.metadata.get("token_endpoint_auth_method", "client_secret_basic") or (
                self.client_secret is not None and method in ("client_secret_basic", "client_secret_post")
            )
        return self.client_secret is not None and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        default = ["authorization_code", "client_credentials", "refresh_token"]
        return grant_type in self.metadata.get("grant_types", default)


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    resource: str | None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return int(self.auth_time)

    def get_nonce(self) -> None:
        return None


@dataclass
class Refresh:
    """A refresh token: whose, for what, and the resource it was for."""

    token: str
    client_id: str
    scope: str
    resource: str

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False


@dataclass
class Opaque:
    token: str
    claims: dict[str, Any]

    def check_client(self, client: Client) -> bool:
        return True

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.claims["exp"] - self.claims["iat"])

    def is_expired(self) -> bool:
        return bool(self.claims["exp"] <= time.time())

    def is_revoked(self) -> bool:
        return False


def create_app(issuer: str, keys_file: Path, audience: str, clients: dict[str, Client]) -> Flask:
    app = Flask("authserver")
    codes: dict[str, Code] = {}
    opaque: dict[str, Opaque] = {}
    refreshes: dict[str, Refresh] = {}
    slow = {"seconds": 0.0, "waiting": 0}

    def key_set() -> tuple[KeySet, str]:
        data = json.loads(keys_file.read_text())
        return KeySet.import_key_set({"keys": data["keys"]}), data["active"]

    def generate_token(
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        include_refresh_token: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        resource = request.values.get("resource") or g.get("resource") or audience
        claims = {
            "iss": issuer,
            "sub": USER if user else client.client_id,
            "aud": resource,
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME,
            "scope": scope or "",
            "client_id": client.client_id,
            "jti": secrets.token_hex(8),
        }
        if request.values.get("token_format") == "opaque":
            token = secrets.token_urlsafe(32)
            opaque[token] = Opaque(token, claims)
        else:
            keys, active = key_set()
            key = keys.get_by_kid(active)
            alg = "RS256" if key.key_type == "RSA" else "ES256"
            token = jwt.encode({"alg": alg, "kid": active, "typ": "at+jwt"}, claims, key)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": LIFETIME, "scope": scope or ""}
        if user and include_refresh_token:
            refresh = Refresh(secrets.token_urlsafe(32), client.client_id, scope or "", resource)
            refreshes[refresh.token] = refresh
            answer["refresh_token"] = refresh.token
        return answer

    class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            codes[code] = Code(
                code,
                req.client.client_id,
                req.payload.redirect_uri,
                req.client.get_allowed_scope(req.payload.scope),  # none asked: the client's default (RFC 6749 §3.3)
                req.payload.data.get("code_challenge"),
                req.payload.data.get("code_challenge_method"),
                req.payload.data.get("resource"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return USER

    class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]
        INCLUDE_NEW_REFRESH_TOKEN = True

        def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
            found = refreshes.get(refresh_token)
            if found is not None and not request.form.get("resource"):
                g.resource = found.resource
            return found

        def authenticate_user(self, refresh_token: Refresh) -> str:
            return USER

        def revoke_old_credential(self, refresh_token: Refresh) -> None:
            refreshes.pop(refresh_token.token, None)

    class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

        def query_token(self, token: str, hint: str | None) -> Opaque | None:
            return opaque.get(token)

        def check_permission(self, token: Opaque, client: Client, req: Any) -> bool:
            return True

        def introspect_token(self, token: Opaque) -> dict[str, Any]:
            return {"active": True, "token_type": "Bearer", **token.claims}

    class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
        def extract_client_metadata(self, req: Any) -> dict[str, Any]:
            metadata: dict[str, Any] = super().extract_client_metadata(req)
            metadata.setdefault("token_endpoint_auth_method", "client_secret_basic")  # RFC 7591's default, said
            return metadata

        def authenticate_token(self, req: Any) -> bool:
            return True  # open registration, as the MCP SDK's client expects

        def get_server_metadata(self) -> dict[str, Any]:
            return metadata()

        def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], req: Any) -> Client:
            method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
            secret = None if method == "none" else client_info["client_secret"]
            client = Client(client_info["client_id"], secret, dict(client_metadata))
            clients[client.client_id] = client
            return client

    server = AuthorizationServer(app, query_client=clients.get, save_token=lambda token, req: None)
    server.register_token_generator("default", generate_token)
    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=False)])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Registration)

    def metadata() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks",
            "registration_endpoint": issuer + "/register",
            "introspection_endpoint": issuer + "/introspect",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    @app.get("/.well-known/openid-configuration")
    @app.get("/.well-known/oauth-authorization-server")
    def discovery() -> Any:
        return jsonify(metadata())

    @app.get("/jwks")
    def jwks() -> Any:
        keys, _ = key_set()
        return jsonify(keys.as_dict(private=False))

    @app.get("/authorize")
    def authorize() -> Any:
        client = clients.get(request.args.get("client_id", ""))
        if client is not None and client.client_secret is None and not request.args.get("code_challenge"):
            return jsonify({"error": "invalid_request", "error_description": "PKCE is required"}), 400
        return server.create_authorization_response(grant_user=USER)

    @app.post("/token")
    def token() -> Any:
        code = codes.get(request.form.get("code", ""))
        if code is not None and code.resource and not request.form.get("resource"):
            g.resource = code.resource
        return server.create_token_response()

    @app.post("/introspect")
    def introspect() -> Any:
        if slow["seconds"]:
            slow["waiting"] += 1
            time.sleep(slow["seconds"])
            slow["waiting"] -= 1
        return server.create_endpoint_response("introspection")

    @app.route("/test/delay", methods=["GET", "POST"])
    def delay() -> Any:
        if request.method == "POST":
            slow["seconds"] = float(request.get_json()["seconds"])
        return jsonify(slow)

    @app.post("/register")
    def register() -> Any:
        return server.create_endpoint_response("client_registration")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--client", action="append", default=[], help="ID:SECRET, registered at start")
    args = parser.parse_args()
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on 127.0.0.1 only
    issuer = f"http://127.0.0.1:{args.port}"
    clients = {}
    for entry in args.client:
        client_id, _, secret = entry.partition(":")
        clients[client_id] = Client(client_id, secret, {"grant_types": ["client_credentials", "authorization_code"]})
    app = create_app(issuer, args.keys, args.audience, clients)
    app.run("127.0.0.1", args.port, threaded=True)


if __name__ == "__main__":
    main()
