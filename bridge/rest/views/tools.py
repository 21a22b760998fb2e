"""Tools, per server and across servers: list them, call them with a JSON arguments object."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gateway import Gateway
from bridge.rest.http import body, json_response, principal

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway) -> Blueprint:
    bp = Blueprint("tools", __name__)

    def list_server_tools(server: str) -> Response:
        return json_response({"tools": gateway.tools(server, principal())})

    def call_server_tool(server: str, tool: str) -> Response:
        return json_response(gateway.run(gateway.call_tool(server, tool, body(), principal=principal())))

    def list_tools() -> Response:
        return json_response({"tools": gateway.tools(principal=principal())})

    def call_tool(name: str) -> Response:
        caller = principal()
        server, tool = gateway.resolve_tool(name, caller)
        return json_response(gateway.run(gateway.call_tool(server, tool, body(), principal=caller)))

    bp.add_url_rule("/servers/<server>/tools", "listServerTools", list_server_tools, methods=["GET"])
    bp.add_url_rule("/servers/<server>/tools/<tool>", "callServerTool", call_server_tool, methods=["POST"])
    bp.add_url_rule("/tools", "listTools", list_tools, methods=["GET"])
    bp.add_url_rule("/tools/<name>", "callTool", call_tool, methods=["POST"])
    return bp
