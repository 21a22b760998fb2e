"""Tool calls served on the event loop answer exactly as the Flask app does, request for request.

The served process answers ``POST /servers/{s}/tools/{t}`` and ``POST /tools/{name}`` without
Flask (``bridge.endpoint.calls``); the in-process Flask app still has the same routes. Every
request here goes to both, and status, media type, headers that matter and body must agree.
"""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from tests.servers.launch import RICH_SERVER
from tests.support import BridgeProcess, bridge_process, in_process_bridge, rich_stdio

KEY = "path-parity-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Content-Type": "application/json"}
MAX_BODY = 4096

# (method, path, headers, raw body)
CASES: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, b'{"text": "hello"}'),
    ("POST", "/tools/echo", {**AUTH, **JSON}, b'{"text": "by name"}'),
    ("POST", "/tools/rich.add", {**AUTH, **JSON}, b'{"a": 1, "b": 2}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, "Content-Type": "application/json; charset=utf-8"}, b'{"text": "x"}'),
    ("POST", "/servers/rich/tools/echo", {"X-API-Key": KEY, **JSON}, b'{"text": "x"}'),
    ("POST", "/servers/rich/tools/echo", JSON, b'{"text": "no key"}'),
    ("POST", "/servers/rich/tools/echo", {"Authorization": "Bearer wrong", **JSON}, b'{"text": "x"}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, "Content-Type": "text/plain"}, b"hello"),
    ("POST", "/servers/rich/tools/echo", AUTH, b'{"text": "no type"}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, b'{"text": '),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, b"[1, 2]"),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, b'{"text": 5}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, b'{"text": "' + b"x" * MAX_BODY + b'"}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON}, None),
    ("POST", "/servers/rich/tools/add", {**AUTH, **JSON}, b'{"a": "one"}'),
    ("POST", "/servers/rich/tools/fail", {**AUTH, **JSON}, b'{"message": "it broke"}'),
    ("POST", "/servers/rich/tools/nope", {**AUTH, **JSON}, b"{}"),
    ("POST", "/servers/absent/tools/echo", {**AUTH, **JSON}, b"{}"),
    ("POST", "/tools/absent", {**AUTH, **JSON}, b"{}"),
    ("POST", "/tools/", {**AUTH, **JSON}, b"{}"),
    ("POST", "/servers/rich/tools/echo/", {**AUTH, **JSON}, b'{"text": "x"}'),
    ("POST", "/servers/rich/tools/echo?x=1", {**AUTH, **JSON}, b'{"text": "query"}'),
    ("GET", "/servers/rich/tools/echo", AUTH, None),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON, "Idempotency-Key": "two words"}, b'{"text": "x"}'),
    ("POST", "/servers/rich/tools/echo", {**AUTH, **JSON, "Idempotency-Key": '"parity-kept"'}, b'{"text": "kept"}'),
    ("POST", "/servers/rich/tools/fail", {**AUTH, **JSON, "Idempotency-Key": "parity-fail"}, b'{"message": "kept"}'),
]


# Lean answers (RFC 7240 Prefer): (request, status, Preference-Applied). Honoured with the header;
# otherwise the whole result without it, and errors as without a preference.
SUM = b'{"a": 1, "b": 2}'
PREFER_CASES: list[tuple[tuple[str, str, dict[str, str], bytes | None], int, str | None]] = [
    (
        ("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=structured"}, SUM),
        200,
        "return=structured",
    ),
    (("POST", "/tools/rich.add", {**AUTH, **JSON, "Prefer": "return=structured"}, SUM), 200, "return=structured"),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=content"}, SUM), 200, "return=content"),
    (("POST", "/tools/echo", {**AUTH, **JSON, "Prefer": "return=content"}, b'{"text": "lean"}'), 200, "return=content"),
    (("POST", "/servers/rich/tools/all_content", {**AUTH, **JSON, "Prefer": "return=structured"}, b"{}"), 200, None),
    (
        ("POST", "/servers/rich/tools/all_content", {**AUTH, **JSON, "Prefer": "return=content"}, b"{}"),
        200,
        "return=content",
    ),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=minimal"}, SUM), 200, None),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "respond-async"}, SUM), 202, "respond-async"),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=bogus"}, SUM), 200, None),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": ""}, SUM), 200, None),
    (
        ("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": 'wait=10, RETURN = "Structured"; x=1'}, SUM),
        200,
        "return=structured",
    ),
    (
        ("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=content, return=structured"}, SUM),
        200,
        "return=content",
    ),
    (("POST", "/servers/rich/tools/add", {**AUTH, **JSON, "Prefer": "return=structured"}, b'{"a": "one"}'), 400, None),
    (
        ("POST", "/servers/rich/tools/fail", {**AUTH, **JSON, "Prefer": "return=structured"}, b'{"message": "no"}'),
        422,
        None,
    ),
    (("POST", "/servers/rich/tools/nope", {**AUTH, **JSON, "Prefer": "return=content"}, b"{}"), 404, None),
    (("POST", "/servers/rich/tools/add", {**JSON, "Prefer": "return=structured"}, SUM), 401, None),
]
# An asynchronous call is the loop's alone (the call store runs calls on it; Flask's side, reached
# only with a query string, answers synchronously), so it is not among the cases both answer alike.
ALL_CASES = CASES + [case for case, _, _ in PREFER_CASES if "respond-async" not in case[2].get("Prefer", "")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    tmp: Path = tmp_path_factory.mktemp("served")
    with bridge_process(tmp, config, "--api-key", KEY, "--max-body", str(MAX_BODY)) as running:
        yield running


@pytest.fixture(scope="module")
def flask_client() -> Iterator[FlaskClient]:
    with in_process_bridge([rich_stdio()], api_keys=(KEY,), max_body=MAX_BODY) as running:
        yield running.app.test_client()


def _comparable(status: int, content_type: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parsed: Any = json.loads(body) if body and "json" in content_type else body
    if isinstance(parsed, dict):
        # The upstream names itself per session; both sides' values come from different children.
        parsed.pop("_meta", None)
    lowered = {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive
    kept = {k: lowered[k] for k in ("www-authenticate", "retry-after", "allow", "preference-applied") if k in lowered}
    return {"status": status, "type": content_type, "headers": kept, "body": parsed}


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"), ALL_CASES, ids=[f"{c[0]} {c[1]} {c[2].get('Prefer', '')}" for c in ALL_CASES]
)
def test_both_paths_answer_alike(
    served: BridgeProcess,
    flask_client: FlaskClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
) -> None:
    real = requests.request(method, served.url + path, headers=headers, data=body, timeout=30)
    flask = flask_client.open(path, method=method, headers=headers, data=body)
    got = _comparable(real.status_code, real.headers.get("Content-Type", ""), dict(real.headers), real.content)
    if got["type"] == "application/problem+json":  # the real bridge names its request; the in-process app does not
        assert got["body"].pop("requestId") == real.headers["X-Request-Id"]
    expected = _comparable(flask.status_code, flask.content_type, dict(flask.headers), flask.data)
    assert got == expected


#: What each case must answer, so that both paths being wrong alike cannot pass.
STATUSES = [
    200,
    200,
    200,
    200,
    200,
    401,
    401,
    415,
    415,
    400,
    400,
    400,
    413,
    400,
    400,
    422,
    404,
    404,
    404,
    404,
    404,
    200,
    405,
    400,
    200,
    422,
]


@pytest.mark.parametrize(
    ("case", "status"), list(zip(CASES, STATUSES, strict=True)), ids=[f"{c[0]} {c[1]}" for c in CASES]
)
def test_each_case_answers_its_own_status(
    served: BridgeProcess, case: tuple[str, str, dict[str, str], bytes | None], status: int
) -> None:
    method, path, headers, body = case
    assert requests.request(method, served.url + path, headers=headers, data=body, timeout=30).status_code == status


@pytest.mark.parametrize(
    ("case", "status", "applied"), PREFER_CASES, ids=[f"{c[1]} {c[2].get('Prefer')}" for c, _, _ in PREFER_CASES]
)
def test_each_prefer_case_answers_its_own_status_and_preference_applied(
    served: BridgeProcess, case: tuple[str, str, dict[str, str], bytes | None], status: int, applied: str | None
) -> None:
    method, path, headers, body = case
    answer = requests.request(method, served.url + path, headers=headers, data=body, timeout=30)
    assert (answer.status_code, answer.headers.get("Preference-Applied")) == (status, applied)


@pytest.mark.parametrize(
    ("prefer", "applied", "body"),
    [
        ("return=structured", "return=structured", {"result": 3}),
        ("return=content", "return=content", [{"type": "text", "text": "3"}]),
    ],
)
def test_a_lean_answer_is_the_part_asked_for_with_preference_applied(
    served: BridgeProcess, prefer: str, applied: str, body: Any
) -> None:
    answer = requests.post(
        served.url + "/servers/rich/tools/add", headers={**AUTH, "Prefer": prefer}, json={"a": 1, "b": 2}, timeout=30
    )
    assert (answer.status_code, answer.headers.get("Preference-Applied"), answer.json()) == (200, applied, body)


def test_prefer_on_two_header_lines_counts_the_first_return_on_both_paths(
    served: BridgeProcess, flask_client: FlaskClient
) -> None:
    lines = [("Prefer", "wait=5"), ("Prefer", "return=structured"), ("Prefer", "return=content")]
    address = urlsplit(served.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.putrequest("POST", "/servers/rich/tools/add")
        for name, value in [*AUTH.items(), *JSON.items(), ("Content-Length", "16"), *lines]:
            connection.putheader(name, value)
        connection.endheaders(b'{"a": 1, "b": 2}')
        real = connection.getresponse()
        got = (real.status, real.getheader("Preference-Applied"), json.loads(real.read()))
    finally:
        connection.close()
    flask = flask_client.post(
        "/servers/rich/tools/add", headers=[*AUTH.items(), *JSON.items(), *lines], data=b'{"a": 1, "b": 2}'
    )
    assert (
        got
        == (flask.status_code, flask.headers.get("Preference-Applied"), flask.json)
        == (
            200,
            "return=structured",
            {"result": 3},
        )
    )
