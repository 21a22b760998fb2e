"""``AccessToken`` against real token endpoints on 127.0.0.1: one fetch at a time, and every failure told plainly."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx2
import pytest
from flask import Flask, Response, jsonify
from werkzeug.serving import make_server

from bridge.config import ClientCredentials
from bridge.upstream import credentials
from bridge.upstream.credentials import AccessToken, TokenUnavailable
from tests.upstream_auth.token_endpoint import running_token_endpoint

T = TypeVar("T")


def _run(test: Callable[[httpx2.AsyncClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with httpx2.AsyncClient() as http:
            return await test(http)

    return asyncio.run(main())


@contextmanager
def _answering(status: int, body: Any) -> Iterator[str]:
    """A token endpoint that answers every request the same way; its token URL."""
    app = Flask("odd-token-endpoint")

    def token() -> tuple[Response, int]:
        if isinstance(body, str):
            return Response(body, content_type="text/html"), status
        return jsonify(body), status

    app.add_url_rule("/token", "token", token, methods=["POST"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/token"
    finally:
        server.shutdown()
        thread.join(10)


def test_many_requests_needing_a_token_at_once_share_one_fetch() -> None:
    with running_token_endpoint() as endpoint:
        endpoint.add_client("a:b", "p@ss word/+")  # Basic auth form-encodes both parts (RFC 6749 2.3.1)
        token = AccessToken(ClientCredentials(endpoint.url + "/token", "a:b", "p@ss word/+"))

        async def test(http: httpx2.AsyncClient) -> set[str]:
            return set(await asyncio.gather(*(token.current(http) for _ in range(20))))

        got = _run(test)
        assert len(got) == 1
        assert endpoint.issued("a:b") == 1


def test_a_refused_token_is_renewed_only_by_the_first_request_that_saw_it_refused() -> None:
    with running_token_endpoint() as endpoint:
        endpoint.add_client("c", "s")
        token = AccessToken(ClientCredentials(endpoint.url + "/token", "c", "s"))

        async def test(http: httpx2.AsyncClient) -> tuple[str, str, str]:
            first = await token.current(http)
            renewed = await token.renew(http, first)
            again = await token.renew(http, first)  # a second request refused with the old token
            return first, renewed, again

        first, renewed, again = _run(test)
        assert first != renewed
        assert again == renewed
        assert endpoint.issued("c") == 2


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (
            400,
            {"error": "invalid_scope", "error_description": "no such scope"},
            "refused the client credentials: invalid_scope (no such scope)",
        ),
        (500, "<html>oops</html>", "answered HTTP 500"),
        (200, {"token_type": "Bearer"}, "answered without an access_token"),
        (200, {"access_token": "t", "token_type": "mac"}, "answered a token that is not a bearer token"),
        (
            200,
            {"access_token": "t", "token_type": "bearer", "expires_in": -5},
            "answered an expires_in that is not a positive number",
        ),
    ],
)
def test_a_token_endpoints_bad_answer_is_told_plainly(status: int, body: Any, said: str) -> None:
    with _answering(status, body) as url:
        token = AccessToken(ClientCredentials(url, "c", "secret-never-told"))
        with pytest.raises(TokenUnavailable) as raised:
            _run(token.current)
    assert str(raised.value) == f"the token endpoint {url} {said}"


def test_a_token_endpoint_that_never_answers_fails_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "TOKEN_TIMEOUT", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/token"
        token = AccessToken(ClientCredentials(url, "c", "s"))
        with pytest.raises(TokenUnavailable) as raised:
            _run(token.current)
    assert str(raised.value) == f"the token endpoint {url} did not answer within 0.5 s"


def test_an_unreachable_token_endpoint_is_told_as_such() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/token"
    token = AccessToken(ClientCredentials(url, "c", "s"))
    with pytest.raises(TokenUnavailable) as raised:
        _run(token.current)
    assert str(raised.value).startswith(f"cannot reach the token endpoint {url}: ")
