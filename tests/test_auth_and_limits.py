"""API keys, body limits and media types at the HTTP edge."""

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bridge.runtime import Bridge
from tests.support import in_process_bridge, rich_stdio

KEY = "s3cret-key-for-tests"


@pytest.fixture(scope="module")
def keyed() -> Iterator[Bridge]:
    with in_process_bridge([rich_stdio()], api_keys=(KEY, "second-key"), max_body=4096) as running:
        yield running


@pytest.fixture
def kc(keyed: Bridge) -> FlaskClient:
    return keyed.app.test_client()


def test_missing_key_is_401_problem_with_challenge(kc: FlaskClient) -> None:
    response = kc.get("/servers")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["detail"] == "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def test_wrong_key_is_401_and_not_echoed(kc: FlaskClient) -> None:
    response = kc.get("/servers", headers={"Authorization": "Bearer not-the-key"})
    assert response.status_code == 401
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/unauthorized",
        "title": "Missing or invalid API key",
        "status": 401,
        "detail": "the API key is not valid",
        "instance": "/servers",
    }


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {KEY}"}, {"X-API-Key": "second-key"}])
def test_either_header_carries_a_valid_key(kc: FlaskClient, headers: dict[str, str]) -> None:
    assert kc.get("/servers", headers=headers).status_code == 200
    assert kc.post("/mcp", json={"jsonrpc": "2.0", "method": "ping", "id": 1}, headers=headers).status_code == 200


def test_key_is_checked_before_the_body_is_validated(kc: FlaskClient) -> None:
    response = kc.post("/servers/rich/tools/add", json={"a": "x"})
    assert response.status_code == 401
    assert response.json["type"] == "https://mcp-rest-bridge.dev/problems/unauthorized"
    assert "errors" not in response.json  # the body was never looked at


def test_healthz_and_readyz_stay_open(kc: FlaskClient) -> None:
    assert kc.get("/healthz").json == {"status": "ok"}
    ready = kc.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "servers": [{"name": "rich", "status": "ready"}]}


def test_body_over_the_limit_is_413(kc: FlaskClient) -> None:
    response = kc.post("/servers/rich/tools/echo", json={"text": "x" * 5000}, headers={"X-API-Key": KEY})
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "https://mcp-rest-bridge.dev/problems/payload-too-large",
        "title": "Request body is too large",
        "status": 413,
        "detail": "the body is 5012 bytes; the limit is 4096",
        "instance": "/servers/rich/tools/echo",
    }


def test_non_json_body_is_415(kc: FlaskClient) -> None:
    response = kc.post(
        "/servers/rich/tools/echo", data="text=hi", content_type="text/plain", headers={"X-API-Key": KEY}
    )
    assert response.status_code == 415
    assert response.json["detail"] == "send the body as application/json (got text/plain)"


def test_malformed_json_is_400_pointing_at_the_body(kc: FlaskClient) -> None:
    response = kc.post(
        "/servers/rich/tools/echo", data="{nope", content_type="application/json", headers={"X-API-Key": KEY}
    )
    assert response.status_code == 400
    reason = "unexpected character, expected a string key: line 1 column 2 (char 1)"
    assert response.json["detail"] == f"the body is not valid JSON: {reason}"
    assert response.json["errors"] == [{"pointer": "/body", "message": f"not valid JSON: {reason}"}]


def test_unknown_route_and_wrong_method_are_problems(kc: FlaskClient) -> None:
    missing = kc.get("/nowhere", headers={"X-API-Key": KEY})
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    wrong = kc.delete("/tools", headers={"X-API-Key": KEY})
    assert wrong.status_code == 405
    assert wrong.content_type == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]
