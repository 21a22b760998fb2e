"""HMAC-signed tokens: taken only with the operator's shared secret, and only signed with it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import OctKey

from bridge.config import OAuthSettings
from tests.support import in_process_bridge

SECRET = b"a-shared-secret-of-the-hmac-tests-32-bytes-or-more"
BRIDGE = "http://bridge.example"


@pytest.fixture(scope="module")
def client() -> Iterator[FlaskClient]:
    settings = OAuthSettings(hmac_secret=SECRET, algorithms=("HS256",))
    with in_process_bridge([], oauth=settings, public_url=BRIDGE) as bridge:
        yield bridge.app.test_client()


def _token(secret: bytes, **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "svc", "aud": BRIDGE, "exp": now + 60, "scope": "use", **claims}
    return jwt.encode({"alg": "HS256"}, body, OctKey.import_key(secret))


def test_a_token_signed_with_the_shared_secret_is_taken(client: FlaskClient) -> None:
    answer = client.get("/servers", headers={"Authorization": f"Bearer {_token(SECRET)}"})
    assert answer.status_code == 200


def test_a_token_signed_with_another_secret_is_refused(client: FlaskClient) -> None:
    answer = client.get("/servers", headers={"Authorization": f"Bearer {_token(b'x' * 48)}"})
    assert answer.status_code == 401
    assert answer.json["detail"] == "the token's signature is not valid"
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_token_for_another_resource_is_refused_with_the_right_secret_too(client: FlaskClient) -> None:
    answer = client.get("/servers", headers={"Authorization": f"Bearer {_token(SECRET, aud='http://other')}"})
    assert answer.json["detail"] == "the token is not meant for this bridge (aud)"
