"""``/openapi.json``: the contract the bridge validates against, for clients and generators."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.rest.http import json_response
from bridge.spec import Spec

__all__ = ["create_blueprint"]


def create_blueprint(spec: Spec) -> Blueprint:
    bp = Blueprint("docs", __name__)

    def openapi_json() -> Response:
        return json_response(spec.document)

    bp.add_url_rule("/openapi.json", "openapiDocument", openapi_json, methods=["GET"])
    return bp
