"""Every error leaves the bridge as RFC 9457 ``application/problem+json``, rendered here once."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Response, request
from werkzeug.exceptions import HTTPException

from bridge.errors import PROBLEM_BASE, UNEXPECTED, BridgeError, StoreUnavailable
from bridge.store import StoreError
from bridge.telemetry import with_request_id

__all__ = ["PROBLEM_JSON", "from_http_exception", "from_unexpected", "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def _render(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    body.setdefault("instance", request.path)
    with_request_id(body)
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def problem_response(error: BridgeError) -> Response:
    return _render(error.to_problem(), error.status, error.headers())


def from_http_exception(error: HTTPException) -> Response:
    """Werkzeug's own errors (unknown route, wrong method, body too large) as problems."""
    status = error.code or 500
    slug = (error.name or "error").lower().replace(" ", "-")
    body = {"type": PROBLEM_BASE + slug, "title": error.name, "status": status, "detail": error.description}
    headers = {}
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    return _render(body, status, headers)


def from_store_error(error: StoreError) -> Response:
    """The store failed (a database down, locked, out of connections): 503, logged in a line."""
    log.warning("the store failed on %s %s: %s", request.method, request.path, error)
    return problem_response(StoreUnavailable())


def from_unexpected(error: Exception) -> Response:
    """A bug in the bridge: logged with its traceback, answered without internals."""
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    body = {
        "type": PROBLEM_BASE + "internal",
        "title": "Internal error",
        "status": 500,
        "detail": UNEXPECTED,
    }
    return _render(body, 500)
