"""The checked-in Python clients, ``Client`` (requests) and ``AsyncClient`` (httpx2), are one client.

They share every decision (``_core``): both are driven here through the same scripted answers
from a small HTTP server on 127.0.0.1 and must send the same requests, retry the same way and
end with the same value or exception. Their surfaces match method for method.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
import requests

from harness import free_port, serving

RETRY_AFTER_DATE = "Wed, 21 Oct 2026 07:28:30 GMT"
TOOLS = {"tools": [{"name": "echo", "qualifiedName": "demo.echo", "server": "demo", "inputSchema": {}}]}


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted answer, and records what was asked."""

    server: _ScriptedServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        status, payload, headers = self.server.script.pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        kind = "application/json" if status < 400 else "application/problem+json"
        for key, value in {"Content-Type": kind, "Content-Length": str(len(data)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what the clients did."""


class _ScriptedServer(ThreadingHTTPServer):
    script: list[tuple[int, Any, dict[str, str]]]
    seen: list[tuple[str, str, dict[str, str], bytes]]


@pytest.fixture(scope="module")
def scripted() -> Iterator[_ScriptedServer]:
    with serving(_ScriptedServer(("127.0.0.1", 0), _Scripted)) as server:
        yield server


def both(package: Any, url: str, call: Any, **options: Any) -> list[tuple[str, Any, list[float]]]:
    """``call(client)`` by ``Client`` then by ``AsyncClient``: each one's value (or exception) and pauses."""
    outcomes: list[tuple[str, Any, list[float]]] = []
    waits: list[float] = []
    with package.Client(url, **options) as client:
        client.http._sleep = waits.append
        try:
            outcomes.append(("value", call(client), list(waits)))
        except package.ApiError as error:
            outcomes.append(("raised", error, list(waits)))

    async def run() -> tuple[str, Any, list[float]]:
        pauses: list[float] = []

        async def pause(seconds: float) -> None:
            pauses.append(seconds)

        async with package.AsyncClient(url, **options) as client:
            client.http._sleep = pause
            try:
                return "value", await call(client), pauses
            except package.ApiError as error:
                return "raised", error, pauses

    outcomes.append(asyncio.run(run()))
    return outcomes


def url_of(server: _ScriptedServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_both_clients_retry_429_and_503_honouring_retry_after(package: Any, scripted: _ScriptedServer) -> None:
    slow = {"type": "about:blank", "title": "Too Many Requests", "status": 429}
    busy = {"type": "about:blank", "title": "Service Unavailable", "status": 503}
    scripted.script = [(429, slow, {"Retry-After": "2"}), (503, busy, {}), (200, TOOLS, {})] * 2
    scripted.seen = []
    retry = package.Retry(attempts=3, backoff=0.01, max_backoff=5.0)
    results = both(package, url_of(scripted), lambda c: c.list_tools(), retry=retry)
    for kind, value, waits in results:
        assert (kind, [t.qualifiedName for t in value]) == ("value", ["demo.echo"])
        assert len(waits) == 2
        assert waits[0] >= 2.0 > waits[1]
    assert [(method, path) for method, path, _, _ in scripted.seen] == [("GET", "/tools")] * 6


@pytest.mark.parametrize(
    ("status", "kind"), [(400, "BadRequest"), (404, "NotFound"), (409, "Conflict"), (500, "ServerError")]
)
def test_both_clients_never_retry_another_error(
    package: Any, scripted: _ScriptedServer, status: int, kind: str
) -> None:
    problem = {"type": "about:blank", "title": "No", "status": status, "detail": "d"}
    scripted.script = [(status, problem, {"Retry-After": "1"})] * 2
    scripted.seen = []
    results = both(package, url_of(scripted), lambda c: c.list_servers())
    assert [(k, type(v).__name__, v.status, v.problem, w) for k, v, w in results] == [
        ("raised", kind, status, problem, [])
    ] * 2
    assert len(scripted.seen) == 2


def test_both_clients_send_the_same_request_with_every_spelling_of_credentials(
    package: Any, scripted: _ScriptedServer
) -> None:
    result = {"content": [], "isError": False}
    scripted.script = [(200, result, {})] * 6
    scripted.seen = []
    for options in ({"api_key": "k"}, {"token": "k"}, {"headers": {"X-API-Key": "k"}}):
        both(package, url_of(scripted) + "/mcp", lambda c: c.call_tool("demo.echo", {"text": "hi"}), **options)
    sent = [
        (method, path, {k: v for k, v in headers.items() if k in ("Authorization", "X-API-Key", "Content-Type")}, body)
        for method, path, headers, body in scripted.seen
    ]
    echo = ("POST", "/tools/demo.echo")
    bearer = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    header = {"X-API-Key": "k", "Content-Type": "application/json"}
    assert sent == [(*echo, bearer, b'{"text": "hi"}')] * 4 + [(*echo, header, b'{"text": "hi"}')] * 2


def test_both_clients_raise_transport_error_after_retrying_a_refused_connection(package: Any) -> None:
    retry = package.Retry(attempts=3, backoff=0.01, max_backoff=0.05)
    results = both(package, f"http://127.0.0.1:{free_port()}", lambda c: c.list_servers(), retry=retry)
    assert [(kind, type(error).__name__, len(waits)) for kind, error, waits in results] == [
        ("raised", "TransportError", 2)
    ] * 2


def test_both_clients_fail_at_once_on_a_url_no_attempt_can_mend(package: Any) -> None:
    results = both(package, "ftp://127.0.0.1:1", lambda c: c.list_servers())
    assert [(kind, type(error).__name__, waits) for kind, error, waits in results] == [
        ("raised", "TransportError", [])
    ] * 2


def test_retry_after_reads_seconds_and_http_dates(package: Any) -> None:
    core = package._core
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert [core.retry_after(v, now) for v in ("7", "0.5", RETRY_AFTER_DATE, "soon", None, "-3")] == [
        7.0,
        0.5,
        30.0,
        None,
        None,
        0.0,
    ]


PAIRS = [("Client", "AsyncClient"), ("Api", "AsyncApi"), ("Tools", "AsyncTools"), ("Prompts", "AsyncPrompts")]
LIFECYCLE = {"close", "aclose"}


@pytest.mark.parametrize(("sync_name", "async_name"), PAIRS)
def test_the_async_client_has_every_method_of_the_client_with_the_same_parameters(
    package: Any, sync_name: str, async_name: str
) -> None:
    sync_cls = getattr(package.client, sync_name)
    async_cls = getattr(package.async_client, async_name)

    def methods(cls: type) -> dict[str, Any]:
        return {
            name: member
            for name, member in vars(cls).items()
            if inspect.isfunction(member) and not name.startswith("_") and name not in LIFECYCLE
        }

    sync_methods, async_methods = methods(sync_cls), methods(async_cls)
    assert sorted(sync_methods) == sorted(async_methods)
    for name, method in sync_methods.items():
        twin = async_methods[name]
        assert not inspect.iscoroutinefunction(method)
        assert inspect.signature(method).parameters == inspect.signature(twin).parameters, name
        returns, twin_returns = inspect.signature(method).return_annotation, inspect.signature(twin).return_annotation
        if returns == "EventStream":  # an event stream: the async one is iterated with async for, not awaited
            assert (inspect.iscoroutinefunction(twin), twin_returns) == (False, "AsyncEventStream"), name
            continue
        assert inspect.iscoroutinefunction(twin), name
        assert returns == twin_returns, name
    assert (
        inspect.signature(sync_cls.__init__).parameters.keys()
        == inspect.signature(async_cls.__init__).parameters.keys()
    )


#: What httpx2 exports that ``request()`` never raises for a request without an answer.
NOT_A_FAILURE = {
    "HTTPError",
    "HTTPStatusError",
    "CookieConflict",
    "StreamError",
    "StreamConsumed",
    "StreamClosed",
    "ResponseNotRead",
    "RequestNotRead",
}


def test_every_failure_of_either_transport_is_translated(package: Any) -> None:
    async_http = package._async_http
    exported = {
        name: getattr(httpx2, name)
        for name in httpx2.__all__
        if isinstance(getattr(httpx2, name), type) and issubclass(getattr(httpx2, name), Exception)
    }
    untranslated = {
        name
        for name, kind in exported.items()
        if not issubclass(kind, async_http.FAILURES) and name not in NOT_A_FAILURE
    }
    assert untranslated == set()
    assert all(issubclass(kind, async_http.FAILURES) for kind in async_http.RETRIED_ERRORS)
    sync_http = package._http
    assert issubclass(requests.exceptions.InvalidSchema, sync_http.FAILURES)
    assert all(issubclass(kind, sync_http.FAILURES) for kind in sync_http.RETRIED_ERRORS)


def test_the_package_exports_both_clients_and_no_longer_tool_outcome(package: Any) -> None:
    assert {"AsyncClient", "Client", "Retry", "models"} <= set(package.__all__)
    assert "ToolOutcome" not in package.__all__
