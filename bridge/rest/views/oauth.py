"""``GET /.well-known/oauth-protected-resource``: the bridge's RFC 9728 metadata, open to all.

A client refused with 401 follows the challenge's ``resource_metadata`` here to learn which
authorization server issues tokens for the bridge. A bridge that takes no OAuth tokens has none (404).
"""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.errors import NotFound
from bridge.gate.resource import METADATA_PATH, ProtectedResource
from bridge.rest.http import json_response

__all__ = ["create_blueprint"]


def create_blueprint(resource: ProtectedResource | None) -> Blueprint:
    bp = Blueprint("oauth", __name__)

    def protected_resource_metadata() -> Response:
        if resource is None:
            raise NotFound("this bridge takes no OAuth 2.0 access tokens; it has no protected resource metadata")
        response = json_response(resource.document())
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    bp.add_url_rule(METADATA_PATH, "getProtectedResourceMetadata", protected_resource_metadata, methods=["GET"])
    return bp
