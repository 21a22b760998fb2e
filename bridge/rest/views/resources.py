"""Resources, per server and across servers: list them, read one as JSON or as raw bytes.

``Accept: application/json`` (the default) answers ``{"contents": [...]}`` with binary content
as base64, as MCP has it. Asking for anything else (``application/octet-stream``, or the
resource's own type such as ``image/png``) answers the first content's raw bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, request

from bridge.errors import UpstreamError
from bridge.gateway import Gateway
from bridge.rest.http import json_response, principal

__all__ = ["create_blueprint"]

_JSON = "application/json"


def _render(result: dict[str, Any], server: str) -> Response:
    contents = result.get("contents", [])
    if not contents:
        return json_response(result)
    first = contents[0]
    mime = first.get("mimeType") or "application/octet-stream"
    # On a tie (no Accept, or */*) JSON wins because it is offered first.
    offers = [_JSON, mime, "application/octet-stream"]
    if request.accept_mimetypes.best_match(offers, default=_JSON) == _JSON:
        return json_response(result)
    if "blob" in first:
        try:
            data = base64.b64decode(first["blob"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UpstreamError(f"server {server!r} sent a blob that is not base64", server=server) from exc
    else:
        data = str(first.get("text", "")).encode("utf-8")
        if "charset" not in mime:
            mime += "; charset=utf-8"
    return Response(data, status=200, content_type=mime)


def create_blueprint(gateway: Gateway) -> Blueprint:
    bp = Blueprint("resources", __name__)

    def list_server_resources(server: str) -> Response:
        return json_response(gateway.resources(server, principal()))

    def read_server_resource(server: str) -> Response:
        read = gateway.read_resource(server, request.args["uri"], principal=principal())
        return _render(gateway.run(read), server)

    def list_resources() -> Response:
        return json_response(gateway.resources(principal=principal()))

    def read_resource() -> Response:
        uri = request.args["uri"]
        caller = principal()
        server = gateway.resolve_resource(uri, caller)
        return _render(gateway.run(gateway.read_resource(server, uri, principal=caller)), server)

    bp.add_url_rule("/servers/<server>/resources", "listServerResources", list_server_resources, methods=["GET"])
    bp.add_url_rule("/servers/<server>/resources/read", "readServerResource", read_server_resource, methods=["GET"])
    bp.add_url_rule("/resources", "listResources", list_resources, methods=["GET"])
    bp.add_url_rule("/resources/read", "readResource", read_resource, methods=["GET"])
    return bp
