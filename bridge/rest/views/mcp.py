"""``POST /mcp``: one plain JSON-RPC request in, one ``MCPResponse`` out."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.rest.http import body, json_response, principal
from bridge.telemetry import continue_request

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway, dispatcher: JsonRpcDispatcher) -> Blueprint:
    bp = Blueprint("mcp", __name__)

    def mcp_request() -> Response:
        request = body()
        if type(request) is dict:
            continue_request(request.get("params"))
        answer = gateway.run(dispatcher.handle(request, principal()))
        if answer is None:
            return Response(status=202)
        return json_response(answer)

    bp.add_url_rule("/mcp", "mcpRequest", mcp_request, methods=["POST"])
    return bp
