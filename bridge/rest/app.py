"""The Flask application factory: it only wires.

Each request passes the bridge's one gate (``bridge.gate``) before its view runs: credentials
to a principal, media type, size, the body parsed once, every parameter and the body checked
against the operation's compiled validators. Views get the principal and validated input, and
reach the gateway's coroutines through ``Gateway.run``; errors of every kind leave as
problem+json. Admin operations that change something (those needing the ``admin`` scope,
other than GET) and refusals (401, 403, 429) are written to the audit log (``bridge.audit``)
as they leave.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from bridge.audit import DENIED, audit, safe_url
from bridge.config import BridgeSettings
from bridge.errors import BridgeError
from bridge.gate import ApiKeys, Gate
from bridge.gateway import Gateway
from bridge.gateway.jsonrpc import JsonRpcDispatcher
from bridge.model import ADMIN
from bridge.rest import problems
from bridge.rest.livespec import LiveSpec
from bridge.rest.views import docs, explorer, health, keys, mcp, oauth, prompts, resources, servers, tools, webhooks
from bridge.spec import Spec
from bridge.store import StoreError
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
        tools.create_blueprint(gateway, gate.idempotency),
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
        changes = ADMIN in operation.operation.scopes and request.method != "GET"
        g.admin_action = operation.operation.operation_id if changes else None
        admission = gate.admit(operation, request.headers)
        if gate.rate is not None and operation.operation.secured:
            gate.rate.charge(admission.principal)
        raw = request.get_data(cache=False) if admission.reads_body else None
        g.body = admission.check(request.view_args or {}, {k: request.args[k] for k in request.args}, raw)
        g.principal = admission.principal

    @app.after_request
    def access_log(response: Response) -> Response:
        # Path and status only: query strings and headers may carry secrets.
        started = g.get("started")
        elapsed = f" {(time.perf_counter() - started) * 1000:.1f}ms" if started is not None else ""
        access.info("%s %s %s%s", request.method, request.path, response.status_code, elapsed)
        _audit(response)
        return response

    def refused(error: BridgeError) -> Response:
        g.refused_subject = error.subject
        return problems.problem_response(error)

    app.register_error_handler(BridgeError, refused)
    app.register_error_handler(HTTPException, problems.from_http_exception)
    app.register_error_handler(StoreError, problems.from_store_error)
    app.register_error_handler(Exception, problems.from_unexpected)
    app.extensions["mcp_bridge"] = {"gateway": gateway, "spec": spec, "settings": settings, "gate": gate}
    return app


def _audit(response: Response) -> None:
    """An admin operation's outcome, or a refusal, to the audit log."""
    status = response.status_code
    action = g.get("admin_action")
    if action is None and status not in DENIED:
        return
    found = g.get("principal")
    subject = found.subject if found is not None else g.get("refused_subject")
    request_id = request.headers.get("X-Request-Id")
    outcome = "ok" if status < 400 else ("denied" if status in DENIED else "refused")
    fields: dict[str, object] = {"method": request.method, "status": status}
    sent = g.get("body")
    if action is not None and isinstance(sent, dict):
        fields.update({k: safe_url(v) if k == "url" else v for k, v in sent.items() if k in _DETAILS})
    target = response.headers.get("Location") or request.path
    audit(action or "request.denied", subject, request_id, target=target, outcome=outcome, **fields)


#: What an admin request's body may add to its audit record (never its credentials).
_DETAILS = frozenset({"name", "transport", "url", "command", "types", "servers", "enabled"})
