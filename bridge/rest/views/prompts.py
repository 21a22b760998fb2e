"""Prompts, per server and across servers: list them, render one with string arguments."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gateway import Gateway
from bridge.rest.http import body, json_response, principal

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway) -> Blueprint:
    bp = Blueprint("prompts", __name__)

    def list_server_prompts(server: str) -> Response:
        return json_response({"prompts": gateway.prompts(server, principal())})

    def get_server_prompt(server: str, prompt: str) -> Response:
        return json_response(gateway.run(gateway.get_prompt(server, prompt, body({}), principal=principal())))

    def list_prompts() -> Response:
        return json_response({"prompts": gateway.prompts(principal=principal())})

    def get_prompt(name: str) -> Response:
        caller = principal()
        server, prompt = gateway.resolve_prompt(name, caller)
        return json_response(gateway.run(gateway.get_prompt(server, prompt, body({}), principal=caller)))

    bp.add_url_rule("/servers/<server>/prompts", "listServerPrompts", list_server_prompts, methods=["GET"])
    bp.add_url_rule("/servers/<server>/prompts/<prompt>", "getServerPrompt", get_server_prompt, methods=["POST"])
    bp.add_url_rule("/prompts", "listPrompts", list_prompts, methods=["GET"])
    bp.add_url_rule("/prompts/<name>", "getPrompt", get_prompt, methods=["POST"])
    return bp
