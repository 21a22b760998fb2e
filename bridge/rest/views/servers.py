"""``/servers``: which upstreams the bridge fronts and how they are doing."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gateway import Gateway
from bridge.rest.http import body, json_response, principal

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway) -> Blueprint:
    bp = Blueprint("servers", __name__)

    def list_servers() -> Response:
        return json_response({"servers": gateway.servers(principal())})

    def get_server(server: str) -> Response:
        return json_response(gateway.server(server, principal()))

    def register_server() -> Response:
        info = gateway.run(gateway.register(body()))
        return json_response(info, 201, {"Location": f"/servers/{info['name']}"})

    def delete_server(server: str) -> Response:
        gateway.run(gateway.unregister(server))
        return Response(status=204)

    bp.add_url_rule("/servers", "listServers", list_servers, methods=["GET"])
    bp.add_url_rule("/servers", "registerServer", register_server, methods=["POST"])
    bp.add_url_rule("/servers/<server>", "getServer", get_server, methods=["GET"])
    bp.add_url_rule("/servers/<server>", "deleteServer", delete_server, methods=["DELETE"])
    return bp
