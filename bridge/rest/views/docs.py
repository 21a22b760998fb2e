"""``/openapi.json``: the live contract, static operations plus one per tool and prompt.

The document is open. A request that carries credentials gets the document for its principal,
with only the operations it may call (a bad key is 401, as anywhere); one without gets them all.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from bridge.gate import Gate
from bridge.gate.credentials import presented_credential
from bridge.rest.livespec import LiveSpec

__all__ = ["create_blueprint"]


def create_blueprint(live: LiveSpec, gate: Gate) -> Blueprint:
    bp = Blueprint("docs", __name__)

    def openapi_json() -> Response:
        caller = gate.principal(request.headers) if presented_credential(request.headers) is not None else None
        body, etag = live.render(caller)
        response = Response(
            body,
            mimetype="application/json",
            headers={"Cache-Control": "no-cache", "Vary": "Authorization, X-API-Key"},
        )
        response.set_etag(etag)
        response.make_conditional(request)  # 304 when If-None-Match names this document
        return response

    bp.add_url_rule("/openapi.json", "openapiDocument", openapi_json, methods=["GET"])
    return bp
