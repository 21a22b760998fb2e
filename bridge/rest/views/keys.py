"""``/keys``: named API keys (admin): create (the key shown once), list, look at, revoke, rotate."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gate import ApiKeys
from bridge.rest.http import body, json_response

__all__ = ["create_blueprint"]

#: Answers that hold a key must not be kept by any cache on the way.
_SHOWN_ONCE = {"Cache-Control": "no-store"}


def create_blueprint(keys: ApiKeys) -> Blueprint:
    bp = Blueprint("keys", __name__)

    def list_keys() -> Response:
        return json_response({"keys": keys.list()})

    def create_key() -> Response:
        made = keys.create(body())
        return json_response(made, 201, {"Location": f"/keys/{made['id']}", **_SHOWN_ONCE})

    def get_key(key: str) -> Response:
        return json_response(keys.get(key))

    def revoke_key(key: str) -> Response:
        keys.revoke(key)
        return Response(status=204)

    def rotate_key(key: str) -> Response:
        return json_response(keys.rotate(key), headers=_SHOWN_ONCE)

    bp.add_url_rule("/keys", "listKeys", list_keys, methods=["GET"])
    bp.add_url_rule("/keys", "createKey", create_key, methods=["POST"])
    bp.add_url_rule("/keys/<key>", "getKey", get_key, methods=["GET"])
    bp.add_url_rule("/keys/<key>", "revokeKey", revoke_key, methods=["DELETE"])
    bp.add_url_rule("/keys/<key>/rotate", "rotateKey", rotate_key, methods=["POST"])
    return bp
