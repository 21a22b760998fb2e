"""Tools, per server and across servers: list them, call them with a JSON arguments object.

A call answers the whole result, or the part a ``Prefer`` header asks for (``bridge.gateway.answers``);
with an ``Idempotency-Key``, its first answer is kept and replayed (``bridge.rest.idempotent``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from bridge.gate import Idempotency
from bridge.gateway import Gateway
from bridge.gateway.answers import PREFERENCE_APPLIED, lean_answer
from bridge.model import REQUEST_ID_CHARS
from bridge.rest.http import body, json_response, principal
from bridge.rest.idempotent import idempotent

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway, idempotency: Idempotency | None = None) -> Blueprint:
    bp = Blueprint("tools", __name__)

    def list_server_tools(server: str) -> Response:
        return json_response({"tools": gateway.tools(server, principal())})

    def call_server_tool(server: str, tool: str) -> Response:
        return _answer(
            gateway.run(gateway.call_tool(server, tool, body(), principal=principal(), request_id=_request_id()))
        )

    def list_tools() -> Response:
        return json_response({"tools": gateway.tools(principal=principal())})

    def call_tool(name: str) -> Response:
        caller = principal()
        server, tool = gateway.resolve_tool(name, caller)
        return _answer(gateway.run(gateway.call_tool(server, tool, body(), principal=caller, request_id=_request_id())))

    bp.add_url_rule("/servers/<server>/tools", "listServerTools", list_server_tools, methods=["GET"])
    bp.add_url_rule(
        "/servers/<server>/tools/<tool>", "callServerTool", idempotent(idempotency, call_server_tool), methods=["POST"]
    )
    bp.add_url_rule("/tools", "listTools", list_tools, methods=["GET"])
    bp.add_url_rule("/tools/<name>", "callTool", idempotent(idempotency, call_tool), methods=["POST"])
    return bp


def _request_id() -> str | None:
    return request.headers.get("X-Request-Id", "")[:REQUEST_ID_CHARS] or None


def _answer(result: dict[str, Any]) -> Response:
    prefer = request.headers.getlist("Prefer")
    if not prefer:
        return json_response(result)
    value, applied = lean_answer(result, ", ".join(prefer))
    return json_response(value, headers={PREFERENCE_APPLIED: applied} if applied else None)
