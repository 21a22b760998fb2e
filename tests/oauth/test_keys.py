"""The key set and the introspection cache, against a real HTTP server on 127.0.0.1 and a clock the
test moves: how often the issuer is asked, and what is remembered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from joserfc.jwk import ECKey, RSAKey

from bridge.gate import introspection
from bridge.gate.introspection import INACTIVE_TTL, MAX_TTL, Introspection
from bridge.gate.jwks import REFRESH_INTERVAL, KeySet
from bridge.gate.metadata import MetadataError
from harness import serving


@dataclass
class Issuer:
    """What the HTTP server answers, and what it was asked."""

    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    asked: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.asked.append(self.path)
            self._answer(state.jwks)

        def do_POST(self) -> None:
            form = self.rfile.read(int(self.headers["Content-Length"])).decode()
            token = dict(p.split("=", 1) for p in form.split("&"))["token"]
            state.asked.append("introspect " + token)
            self._answer(state.answers.get(token, {"active": False}))

        def log_message(self, *args: Any) -> None:
            return

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _public(kid: str) -> dict[str, Any]:
    key = (
        RSAKey.generate_key(2048, {"kid": kid}) if kid.startswith("rsa") else ECKey.generate_key("P-256", {"kid": kid})
    )
    return key.as_dict(private=False)


def test_unknown_kids_fetch_the_set_at_most_once_per_interval(issuer: Issuer) -> None:
    issuer.jwks = {"keys": [_public("rsa-1")]}
    clock = Clock()
    keys = KeySet(issuer.url + "/jwks", requests.Session(), clock)
    keys.load()
    assert keys.key("rsa-1", "RS256") is not None
    assert keys.key("made-up-0", "RS256") is None
    assert issuer.asked == ["/jwks"]  # the fetch at start began the interval
    clock.now += REFRESH_INTERVAL
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        assert keys.key(kid, "RS256") is None
    assert issuer.asked == ["/jwks", "/jwks"]  # once, for the first unknown kid
    issuer.jwks = {"keys": [_public("rsa-1"), _public("rsa-2")]}
    assert keys.must_fetch("rsa-2") is False  # within the interval: it would not be fetched
    assert keys.key("rsa-2", "RS256") is None
    clock.now += REFRESH_INTERVAL
    assert keys.must_fetch("rsa-2") is True
    assert keys.key("rsa-2", "RS256") is not None
    assert len(issuer.asked) == 3


def test_a_key_serves_only_the_algorithm_it_names(issuer: Issuer) -> None:
    issuer.jwks = {
        "keys": [{**_public("rsa-1"), "alg": "PS256"}, _public("ec-1"), {**_public("rsa-enc"), "use": "enc"}]
    }
    keys = KeySet(issuer.url + "/jwks", requests.Session(), Clock())
    keys.load()
    assert keys.key("rsa-1", "RS256") is None
    assert keys.key("rsa-1", "PS256") is not None
    assert keys.key("ec-1", "ES256") is not None
    assert keys.key("rsa-enc", "RS256") is None  # an encryption key never verifies a signature


def test_a_failed_fetch_keeps_the_keys_and_waits_out_the_interval(issuer: Issuer) -> None:
    issuer.jwks = {"keys": [_public("rsa-1")]}
    clock = Clock()
    keys = KeySet(issuer.url + "/jwks", requests.Session(), clock)
    keys.load()
    issuer.status = 503
    clock.now += REFRESH_INTERVAL
    assert keys.key("rsa-new", "RS256") is None
    assert keys.key("rsa-1", "RS256") is not None
    assert keys.must_fetch("rsa-new") is False
    with pytest.raises(MetadataError, match="answered HTTP 503"):
        keys.load()


def test_introspection_answers_are_kept_for_the_tokens_life_inactive_ones_briefly(issuer: Issuer) -> None:
    clock = Clock()
    issuer.answers["live"] = {"active": True, "exp": clock.now + 60, "scope": "use"}
    tokens = Introspection(issuer.url + "/introspect", "bridge", "secret", requests.Session(), clock)
    assert tokens.claims("live")["scope"] == "use"
    assert tokens.claims("live")["scope"] == "use"
    assert tokens.claims("dead") == {"active": False}
    assert tokens.claims("dead") == {"active": False}
    assert issuer.asked == ["introspect live", "introspect dead"]
    clock.now += INACTIVE_TTL
    assert tokens.cached("dead") is None
    assert tokens.cached("live") is not None
    clock.now += 60 - INACTIVE_TTL
    assert tokens.cached("live") is None  # past its exp


def test_introspection_trusts_an_answer_at_most_max_ttl_and_keeps_a_bounded_number(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(introspection, "MAX_ENTRIES", 3)
    clock = Clock()
    tokens = Introspection(issuer.url + "/introspect", "bridge", "secret", requests.Session(), clock)
    for name in ("a", "b", "c", "d"):
        issuer.answers[name] = {"active": True, "exp": clock.now + 10 * MAX_TTL}
        tokens.claims(name)
    assert len(tokens) == 3
    assert tokens.cached("a") is None  # the oldest went first
    clock.now += MAX_TTL
    assert tokens.cached("d") is None
