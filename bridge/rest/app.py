"""The Flask application factory: it only wires.

Each request passes the bridge's one gate (``bridge.gate``) before its view runs: credentials
to a principal, media type, size, the body parsed once, every parameter and the body checked
against the operation's compiled validators. Views get the principal and validated input, and
reach the gateway's coroutines through ``Gateway.run``; errors of every kind leave as
problem+json.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from bridge.config import BridgeSettings
from bridge.errors import BridgeError
from bridge.gate import ApiKeys, Gate
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.rest import problems
from bridge.rest.livespec import LiveSpec
from bridge.rest.views import docs, explorer, health, keys, mcp, oauth, prompts, resources, servers, tools, webhooks
from bridge.spec import Spec
from bridge.webhooks import WebhookSubscriptions

__all__ = ["create_app"]

access = logging.getLogger("bridge.access")


def create_app(
    gateway: Gateway,
    spec: Spec,
    settings: BridgeSettings,
    gate: Gate,
    subscriptions: WebhookSubscriptions,
    api_keys: ApiKeys,
) -> Flask:
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body

    for blueprint in (
        servers.create_blueprint(gateway),
        tools.create_blueprint(gateway),
        resources.create_blueprint(gateway),
        prompts.create_blueprint(gateway),
        health.create_blueprint(gateway),
        mcp.create_blueprint(gateway, JsonRpcDispatcher(gateway)),
        docs.create_blueprint(LiveSpec(spec, gateway), gate),
        explorer.create_blueprint(),
        webhooks.create_blueprint(subscriptions),
        keys.create_blueprint(api_keys),
        oauth.create_blueprint(gate.authenticator.resource),
    ):
        app.register_blueprint(blueprint)

    @app.before_request
    def admit() -> None:
        g.started = time.perf_counter()
        rule = request.url_rule
        if rule is None or rule.endpoint == "static":
            return  # routing raises 404/405 itself
        operation = gate.operation(rule.endpoint.rpartition(".")[2])
        if operation is None:
            return  # documents outside the API contract (the spec itself) are open
        admission = gate.admit(operation, request.headers)
        raw = request.get_data(cache=False) if admission.reads_body else None
        g.body = admission.check(request.view_args or {}, {k: request.args[k] for k in request.args}, raw)
        g.principal = admission.principal

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
    app.extensions["mcp_bridge"] = {"gateway": gateway, "spec": spec, "settings": settings, "gate": gate}
    return app
