"""Tool calls served on the event loop answer exactly as the Flask app does, request for request.

The served process answers ``POST /servers/{s}/tools/{t}`` and ``POST /tools/{name}`` without
Flask (``bridge.endpoint.calls``); the in-process Flask app still has the same routes. Every
request here goes to both, and status, media type, headers that matter and body must agree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
]


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
    kept = {k: lowered[k] for k in ("www-authenticate", "retry-after", "allow") if k in lowered}
    return {"status": status, "type": content_type, "headers": kept, "body": parsed}


@pytest.mark.parametrize(("method", "path", "headers", "body"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
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
]


@pytest.mark.parametrize(
    ("case", "status"), list(zip(CASES, STATUSES, strict=True)), ids=[f"{c[0]} {c[1]}" for c in CASES]
)
def test_each_case_answers_its_own_status(
    served: BridgeProcess, case: tuple[str, str, dict[str, str], bytes | None], status: int
) -> None:
    method, path, headers, body = case
    assert requests.request(method, served.url + path, headers=headers, data=body, timeout=30).status_code == status
