"""``/openapi.json``: the live contract, static operations plus one per tool and prompt."""

from __future__ import annotations

from flask import Blueprint, Response, request

from bridge.rest.livespec import LiveSpec

__all__ = ["create_blueprint"]


def create_blueprint(live: LiveSpec) -> Blueprint:
    bp = Blueprint("docs", __name__)

    def openapi_json() -> Response:
        body, etag = live.render()
        response = Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
        response.set_etag(etag)
        response.make_conditional(request)  # 304 when If-None-Match names this document
        return response

    bp.add_url_rule("/openapi.json", "openapiDocument", openapi_json, methods=["GET"])
    return bp
