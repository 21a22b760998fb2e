"""The Flask application factory: it only wires.

Each request passes one gate before its view runs: API key, then media type, then the body
parsed once with orjson, then every parameter and the body checked against the operation's
compiled validators. Views get validated input; errors of every kind leave as problem+json.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from bridge.config import BridgeSettings
from bridge.errors import BridgeError, FieldError, PayloadTooLarge, RequestInvalid, UnsupportedMediaType
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.livespec import LiveSpec
from bridge.rest import problems
from bridge.rest.auth import ApiKeyAuth
from bridge.rest.views import docs, explorer, health, mcp, prompts, resources, servers, tools
from bridge.spec import Spec
from bridge.validation import NO_BODY, RequestValidator, is_json_media_type

__all__ = ["create_app"]

access = logging.getLogger("bridge.access")


def create_app(
    gateway: Gateway, spec: Spec, settings: BridgeSettings, validator: RequestValidator | None = None
) -> Flask:
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    validator = validator or RequestValidator(spec)
    auth = ApiKeyAuth(settings.api_keys, settings.admin_keys)

    for blueprint in (
        servers.create_blueprint(gateway),
        tools.create_blueprint(gateway),
        resources.create_blueprint(gateway),
        prompts.create_blueprint(gateway),
        health.create_blueprint(gateway),
        mcp.create_blueprint(JsonRpcDispatcher(gateway)),
        docs.create_blueprint(LiveSpec(spec, gateway)),
        explorer.create_blueprint(),
    ):
        app.register_blueprint(blueprint)

    @app.before_request
    def gate() -> None:
        g.started = time.perf_counter()
        rule = request.url_rule
        if rule is None or rule.endpoint == "static":
            return  # routing raises 404/405 itself
        op = validator.operations.get(rule.endpoint.rpartition(".")[2])
        if op is None:
            return  # documents outside the API contract (the spec itself) are open
        if op.operation.secured:
            auth.check(request.headers, op.operation.scopes)
        body: Any = NO_BODY
        if op.accepts_body and _has_body():
            if not is_json_media_type(request.mimetype):
                raise UnsupportedMediaType(
                    f"send the body as application/json (got {request.mimetype or 'no Content-Type'})"
                )
            if request.content_length is not None and request.content_length > settings.max_body:
                raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {settings.max_body}")
            body = _parse(request.get_data(cache=False))
        query = {k: request.args[k] for k in request.args}
        op.check(request.view_args or {}, query, body)
        g.body = body

    @app.after_request
    def access_log(response: Response) -> Response:
        # Path and status only: query strings and headers may carry secrets.
        started = g.get("started")
        elapsed = f" {(time.perf_counter() - started) * 1000:.1f}ms" if started is not None else ""
        access.info("%s %s %s%s", request.method, request.path, response.status_code, elapsed)
        return response

    app.register_error_handler(BridgeError, problems.problem_response)
    app.register_error_handler(HTTPException, problems.from_http_exception)
    app.register_error_handler(Exception, problems.from_unexpected)
    app.extensions["mcp_bridge"] = {"gateway": gateway, "spec": spec, "settings": settings}
    return app


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid(
            f"the body is not valid JSON: {exc}", [FieldError("/body", f"not valid JSON: {exc}")]
        ) from exc
