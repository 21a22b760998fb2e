"""``/keys`` over real HTTP against a real bridge: create (shown once), list, look at, revoke, rotate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from harness import poll
from tests.keys.conftest import ADMIN, KeyedBridge, get, post
from tests.support import problem

PROBLEMS = "https://mcp-rest-bridge.dev/problems/"


def test_a_key_is_made_listed_revoked_and_then_refused(live: KeyedBridge) -> None:
    response = requests.post(
        f"{live.url}/keys",
        json={"name": "ci", "scopes": ["use"], "tools": ["demo.*"], "expiresAt": "2999-01-01T00:00:00Z"},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert response.status_code == 201
    made = response.json()
    assert response.headers["Location"] == f"/keys/{made['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    assert made == {
        "id": made["id"],
        "name": "ci",
        "prefix": f"mcpb_{made['id']}_",
        "scopes": ["use"],
        "servers": None,
        "tools": ["demo.*"],
        "expiresAt": "2999-01-01T00:00:00.000+00:00",
        "revoked": False,
        "revokedAt": None,
        "createdAt": made["createdAt"],
        "rotatedAt": None,
        "lastUsedAt": None,
        "key": made["key"],
    }
    key = made["key"]
    assert get(live, "/tools", key).status_code == 200
    listed = get(live, "/keys", ADMIN).json()["keys"]
    assert [k["id"] for k in listed if k["id"] == made["id"]] == [made["id"]]
    assert all("key" not in k for k in listed)
    assert key not in get(live, "/keys", ADMIN).text
    one = get(live, f"/keys/{made['id']}", ADMIN).json()
    assert "key" not in one
    assert one["name"] == "ci"

    revoked = requests.delete(f"{live.url}/keys/{made['id']}", headers={"X-API-Key": ADMIN}, timeout=30)
    assert revoked.status_code == 204
    refused = get(live, "/tools", key)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key has been revoked"
    assert get(live, f"/keys/{made['id']}", ADMIN).json()["revoked"] is True
    again = requests.delete(f"{live.url}/keys/{made['id']}", headers={"X-API-Key": ADMIN}, timeout=30)
    assert again.status_code == 204  # revoking a revoked key changes nothing


def test_rotating_a_key_answers_a_new_one_and_the_old_one_is_refused(live: KeyedBridge) -> None:
    made = live.make_key(name="rotated")
    response = post(live, f"/keys/{made['id']}/rotate", ADMIN)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rotated = response.json()
    assert rotated["id"] == made["id"]
    assert rotated["key"] != made["key"]
    assert get(live, "/servers", made["key"]).status_code == 401
    assert get(live, "/servers", rotated["key"]).status_code == 200
    requests.delete(f"{live.url}/keys/{made['id']}", headers={"X-API-Key": ADMIN}, timeout=30)
    refused = post(live, f"/keys/{made['id']}/rotate", ADMIN)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"API key {made['id']!r} is revoked; create a new one"


def test_only_an_admin_key_manages_keys(live: KeyedBridge) -> None:
    plain = live.make_key(name="plain")
    for response in (
        get(live, "/keys", plain["key"]),
        post(live, "/keys", plain["key"], {"name": "escalated", "scopes": ["admin"]}),
        post(live, f"/keys/{plain['id']}/rotate", plain["key"]),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == "this operation needs an admin key"
    assert requests.get(f"{live.url}/keys", timeout=30).status_code == 401
    stored_admin = live.make_key(name="stored admin", scopes=["use", "admin"])
    assert get(live, "/keys", stored_admin["key"]).status_code == 200  # a stored key with the admin scope


def test_an_unknown_key_id_is_404_and_a_malformed_one_400(live: KeyedBridge) -> None:
    unknown = get(live, "/keys/0123456789ab", ADMIN)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no API key with id '0123456789ab'"
    malformed = get(live, "/keys/..%2Fetc", ADMIN)
    assert malformed.status_code in (400, 404)
    assert malformed.headers["Content-Type"] == "application/problem+json"


def test_a_bad_body_is_400_with_pointers(live: KeyedBridge) -> None:
    response = post(
        live,
        "/keys",
        ADMIN,
        {"name": "bad", "scopes": ["use", "root"], "tools": ["demo"], "servers": ["Demo"], "colour": "red"},
    )
    assert response.status_code == 400
    refused = response.json()
    assert refused["type"] == PROBLEMS + "invalid-request"
    assert {e["pointer"] for e in refused["errors"]} >= {"/body/scopes/1", "/body/tools/0", "/body/servers/0"}
    past = post(live, "/keys", ADMIN, {"name": "late", "expiresAt": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400
    assert problem(past) == {
        "type": PROBLEMS + "invalid-request",
        "title": past.json()["title"],
        "status": 400,
        "detail": "the key cannot be made: this time has passed; give one in the future",
        "instance": "/keys",
        "errors": [{"pointer": "/body/expiresAt", "message": "this time has passed; give one in the future"}],
    }


def test_an_expired_key_is_401(live: KeyedBridge) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    made = live.make_key(name="expiring", expiresAt=soon)
    assert get(live, "/tools", made["key"]).status_code == 200
    poll(lambda: get(live, "/tools", made["key"]).status_code == 401, 15, what="the key to expire")
    refused = get(live, "/tools", made["key"])
    assert refused.json()["detail"] == "the API key has expired"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
