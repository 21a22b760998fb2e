"""Reaching what the caller may not: other origins, rebound names, forged credentials, SSRF registrations.

Every refusal is problem+json with the right status, and the audit log records it without the
credential that was tried.
"""

from __future__ import annotations

import socket

import orjson
import pytest

from harness import poll
from tests.hostile.conftest import ADMIN, ALLOWED_ORIGIN, KEY, Target
from tests.hostile.wire import Answer, read_answer, request

JSON = {"Content-Type": "application/json"}
ECHO = "/servers/rich/tools/echo"
ARGS = b'{"text": "hi"}'


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/servers"), ("POST", ECHO), ("POST", "/mcp"), ("GET", "/mcp/stream"), ("OPTIONS", "/tools")],
)
def test_a_page_of_another_origin_is_refused_403_on_every_edge(target: Target, method: str, path: str) -> None:
    headers = {**target.use, **JSON, "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    answer = request(target.port, method, path, headers, b"{}" if method == "POST" else b"")
    assert answer.status == 403
    problem = answer.problem()
    assert problem["type"].endswith("/foreign-origin")
    assert problem["detail"].startswith("pages from the origin 'http://evil.example' may not")
    assert answer.header("access-control-allow-origin") is None


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_a_request_for_a_rebound_name_is_refused_403(target: Target, host: str) -> None:
    """DNS rebinding: a page's own name pointed at the bridge; no Origin on a same-origin GET."""
    answer = request(target.port, "GET", "/servers", target.use, host=host)
    assert answer.status == 403
    problem = answer.problem()
    assert problem["type"].endswith("/foreign-origin")
    assert problem["detail"].startswith("this bridge does not answer to the name")


def test_a_poll_on_a_kept_alive_connection_for_a_rebound_name_or_another_origin_is_refused_403(target: Target) -> None:
    """Polls are answered in the HTTP protocol when they come on a kept-alive connection: a name
    found good before lets no other name through there, nor a page of another origin."""
    started = request(target.port, "POST", ECHO, {**target.use, **JSON, "Prefer": "respond-async"}, ARGS)
    assert started.status == 202, started.body
    poll = f"/calls/{orjson.loads(started.body)['id']}"
    key = "".join(f"{name}: {value}\r\n" for name, value in target.use.items())
    good = f"127.0.0.1:{target.port}"
    with socket.create_connection(("127.0.0.1", target.port), timeout=15) as sock:

        def get(host: str, extra: str = "") -> Answer:
            sock.sendall(f"GET {poll} HTTP/1.1\r\nHost: {host}\r\n{key}{extra}\r\n".encode())
            return read_answer(sock)

        assert [get(good).status, get(good).status] == [200, 200]  # the name found good
        rebound = get("evil.example")
        assert rebound.status == 403
        assert rebound.problem()["detail"].startswith("this bridge does not answer to the name")
        foreign = get(good, "Origin: http://evil.example\r\n")
        assert foreign.status == 403
        assert foreign.problem()["detail"].startswith("pages from the origin 'http://evil.example' may not")
        assert get(good).status == 200


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1", "[::1]:8000", "127.0.0.2"])
def test_loopback_names_are_answered(target: Target, host: str) -> None:
    assert request(target.port, "GET", "/servers", target.use, host=host).status == 200


def test_an_allowed_origin_gets_cors_answers_and_preflights(target: Target) -> None:
    asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key, content-type"}
    preflight = request(target.port, "OPTIONS", ECHO, {"Origin": ALLOWED_ORIGIN, **asks})
    assert preflight.status == 204
    assert preflight.header("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "POST" in (preflight.header("access-control-allow-methods") or "")
    assert {"x-api-key", "content-type"} <= set((preflight.header("access-control-allow-headers") or "").split(", "))
    assert preflight.header("access-control-max-age") == "600"
    assert preflight.header("access-control-allow-credentials") is None
    assert "origin" in (preflight.header("vary") or "")
    for method, path in (("POST", ECHO), ("POST", "/mcp"), ("GET", "/servers")):
        body = ARGS if path == ECHO else b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}' if path == "/mcp" else b""
        answer = request(target.port, method, path, {**target.use, **JSON, "Origin": ALLOWED_ORIGIN}, body)
        assert answer.status == 200, (path, answer)
        assert answer.header("access-control-allow-origin") == ALLOWED_ORIGIN
        assert answer.header("vary") == "origin"
        assert "retry-after" in (answer.header("access-control-expose-headers") or "")


def test_the_bridges_own_origin_needs_no_cors(target: Target) -> None:
    own = f"http://127.0.0.1:{target.port}"
    answer = request(target.port, "GET", "/servers", {**target.use, "Origin": own})
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": KEY + "\u00ff"},
        {"Authorization": "Bearer " + KEY[:-1]},
        {"Authorization": "Basic " + KEY},
        {"Authorization": "Bearer"},
        {"X-API-Key": KEY.upper()},
        {"Authorization": "Bearer " + KEY + " " + KEY},
    ],
    ids=["latin-1 byte appended", "one character short", "Basic scheme", "scheme without a key", "case changed",
         "the key twice"],
)  # fmt: skip
def test_a_forged_key_is_refused_401(target: Target, headers: dict[str, str]) -> None:
    answer = request(target.port, "POST", ECHO, {**headers, **JSON}, ARGS)
    assert answer.status == 401
    assert answer.problem()["type"].endswith("/unauthorized")
    assert answer.header("www-authenticate") is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/mcp",
        "http://127.0.0.1:1/mcp",
        "http://0x7f000001/mcp",
        "http://2130706433/mcp",
        "http://10.0.0.1/mcp",
        "http://[::1]/mcp",
        "http://localhost/mcp",
    ],
)
def test_registering_a_server_at_an_internal_address_is_refused_400_at_the_url(target: Target, url: str) -> None:
    body = orjson.dumps({"name": "probe", "url": url, "transport": "http"})
    answer = request(target.port, "POST", "/servers", {**target.admin, **JSON}, body)
    assert answer.status == 400, answer
    problem = answer.problem()
    assert [e["pointer"] for e in problem["errors"]] == ["/body/url"]
    assert request(target.port, "GET", "/servers/probe", target.use).status == 404  # nothing kept


def test_the_audit_log_records_refusals_and_admin_actions_without_credentials(target: Target) -> None:
    request(target.port, "DELETE", "/servers/rich", {"X-API-Key": KEY, "X-Request-Id": "audit-me"})
    body = orjson.dumps({"name": "probe", "url": "http://169.254.169.254/", "transport": "http"})
    request(target.port, "POST", "/servers", {**target.admin, **JSON, "X-Request-Id": "audit-admin"}, body)

    def lines() -> list[dict[str, object]]:
        text = target.audit_log.read_text(encoding="utf-8") if target.audit_log.exists() else ""
        return [orjson.loads(line) for line in text.splitlines()]

    denied = poll(lambda: [r for r in lines() if r["requestId"] == "audit-me"], 10, what="the refusal's record")[0]
    assert {k: denied[k] for k in ("action", "target", "outcome", "method", "status")} == {
        "action": "deleteServer",
        "target": "/servers/rich",
        "outcome": "denied",
        "method": "DELETE",
        "status": 403,
    }
    assert str(denied["subject"]).startswith("key:")
    refused = poll(lambda: [r for r in lines() if r["requestId"] == "audit-admin"], 10, what="the admin record")[0]
    assert (refused["action"], refused["outcome"], refused["status"]) == ("registerServer", "refused", 400)
    assert refused["url"] == "http://169.254.169.254/"
    text = target.audit_log.read_text(encoding="utf-8")
    assert KEY not in text
    assert ADMIN not in text
    assert all(set(r) >= {"time", "action", "subject", "requestId", "target", "outcome"} for r in lines())


def test_an_mcp_client_request_from_another_origin_is_refused_before_the_sdk_sees_it(target: Target) -> None:
    headers = {**target.use, **JSON, "Accept": "application/json, text/event-stream", "Origin": "http://evil.example"}
    ping = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}'
    answer = request(target.port, "POST", "/mcp", {**headers, "MCP-Protocol-Version": "2025-11-25"}, ping)
    assert answer.status == 403
    assert answer.problem()["detail"].startswith("pages from the origin 'http://evil.example' may not")
