"""The credentials flow against real endpoints on 127.0.0.1: one token fetch at a time, every failure told
plainly, one retry after a 401, and a subject header that cannot inject another."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx2
import pytest
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from bridge.config import ClientCredentials
from bridge.model import Principal
from bridge.upstream import credentials
from bridge.upstream.credentials import AccessToken, TokenUnavailable, UpstreamAuth, calling_as
from tests.upstream_auth.token_endpoint import running_token_endpoint

T = TypeVar("T")


def _run(test: Callable[[httpx2.AsyncClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with httpx2.AsyncClient() as http:
            return await test(http)

    return asyncio.run(main())


@contextmanager
def _answering(status: int, body: Any, heard: list[dict[str, str]] | None = None) -> Iterator[str]:
    """An endpoint that answers every request the same way (``heard`` gets each one's headers); its URL."""
    app = Flask("odd-token-endpoint")

    def token() -> tuple[Response, int]:
        if heard is not None:
            heard.append(dict(request.headers))
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


def test_an_upstream_that_refuses_every_token_is_asked_twice_and_its_401_answered() -> None:
    heard: list[dict[str, str]] = []
    with running_token_endpoint() as endpoint, _answering(401, {"error": "invalid_token"}, heard) as upstream:
        endpoint.add_client("c", "s")
        token = AccessToken(ClientCredentials(endpoint.url + "/token", "c", "s"))

        async def test(tokens: httpx2.AsyncClient) -> int:
            async with httpx2.AsyncClient(auth=UpstreamAuth(token, tokens)) as http:
                return (await http.post(upstream, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})).status_code

        status = _run(test)
        issued = endpoint.issued_tokens()
    assert status == 401
    # Once more with a new token, then no more.
    assert [h["Authorization"] for h in heard] == [f"Bearer {issued[0]}", f"Bearer {issued[1]}"]


def test_a_subject_that_is_not_visible_ascii_goes_percent_encoded_and_only_for_a_caller() -> None:
    heard: list[dict[str, str]] = []
    with _answering(200, {}, heard) as upstream:

        async def test(_: httpx2.AsyncClient) -> None:
            auth = UpstreamAuth(None, None, subject_header="X-Subject")
            async with httpx2.AsyncClient(auth=auth) as http:
                with calling_as(Principal("josé\r\nX-Admin: yes")):
                    await http.post(upstream, json={})
                with calling_as(Principal("key:3f2a")):
                    await http.post(upstream, json={})
                await http.post(upstream, json={})  # the bridge's own request

        _run(test)
    assert [h.get("X-Subject") for h in heard] == ["jos%C3%A9%0D%0AX-Admin%3A%20yes", "key:3f2a", None]
    assert "X-Admin" not in heard[0]
