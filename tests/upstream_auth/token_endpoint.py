"""A tiny real OAuth 2.0 token endpoint for the tests: the client credentials grant and RFC 7662 introspection.

A Flask app served over HTTP on 127.0.0.1 from a thread of the test process, so a test reads
and changes its state directly: which clients exist (each with its own token lifetime), how
many tokens each was issued and with which form fields, which were refused at introspection
because they had expired or were revoked, and every token issued (to search logs for).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

__all__ = ["TokenEndpoint", "running_token_endpoint"]


@dataclass
class _Client:
    secret: str
    lifetime: float
    issued: int = 0
    #: Introspections that found one of this client's tokens expired or revoked.
    refused: int = 0
    #: Token requests refused for a wrong secret.
    denied: int = 0
    #: The form fields of each token request (the secret left out).
    asked: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _Token:
    client: str | None  # None: a token the test made active itself (a caller's own key)
    expires_at: float
    revoked: bool = False


class TokenEndpoint:
    """The endpoint's state; ``url`` once it serves."""

    def __init__(self) -> None:
        self.clients: dict[str, _Client] = {}
        self.tokens: dict[str, _Token] = {}
        self.url = ""
        self._lock = threading.Lock()

    def add_client(self, client_id: str, secret: str, lifetime: float = 300.0) -> None:
        self.clients[client_id] = _Client(secret, lifetime)

    def accept(self, token: str) -> None:
        """Make a token active that this endpoint did not issue (a caller's key, forwarded upstream)."""
        with self._lock:
            self.tokens[token] = _Token(None, float("inf"))

    def revoke(self, client_id: str) -> None:
        """Revoke every token issued to the client so far."""
        with self._lock:
            for token in self.tokens.values():
                if token.client == client_id:
                    token.revoked = True

    def issued(self, client_id: str) -> int:
        return self.clients[client_id].issued

    def refused(self, client_id: str) -> int:
        return self.clients[client_id].refused

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return [token for token, made in self.tokens.items() if made.client is not None]

    def app(self) -> Flask:
        app = Flask("token-endpoint")
        app.add_url_rule("/token", "token", self._token, methods=["POST"])
        app.add_url_rule("/introspect", "introspect", self._introspect, methods=["POST"])
        return app

    def _client_from(self, form: dict[str, str]) -> tuple[str, str]:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote(client_id), unquote(secret)
        return form.get("client_id", ""), form.get("client_secret", "")

    def _token(self) -> tuple[Response, int]:
        form = request.form.to_dict()
        if form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        client_id, secret = self._client_from(form)
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            if client is not None:
                with self._lock:
                    client.denied += 1
            return jsonify(error="invalid_client", error_description="client authentication failed"), 401
        token = secrets.token_urlsafe(24)
        with self._lock:
            client.issued += 1
            client.asked.append({k: v for k, v in form.items() if k != "client_secret"})
            self.tokens[token] = _Token(client_id, time.monotonic() + client.lifetime)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": client.lifetime}
        return jsonify(answer), 200

    def _introspect(self) -> Response:
        token = request.form.get("token", "")
        with self._lock:
            made = self.tokens.get(token)
            active = made is not None and not made.revoked and time.monotonic() < made.expires_at
            if made is not None and not active and made.client is not None:
                self.clients[made.client].refused += 1
        return jsonify(active=active)


@contextmanager
def running_token_endpoint() -> Iterator[TokenEndpoint]:
    """A token endpoint serving on a free loopback port until the block ends."""
    endpoint = TokenEndpoint()
    server = make_server("127.0.0.1", 0, endpoint.app(), threaded=True)
    endpoint.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="token-endpoint", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        thread.join(10)
