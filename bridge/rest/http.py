"""Small response helpers shared by the views."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, g

from bridge.gate import NO_BODY
from bridge.model import Principal

__all__ = ["body", "json_response", "principal"]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(orjson.dumps(value), status=status, mimetype="application/json")
    for key, val in (headers or {}).items():
        response.headers[key] = val
    return response


def body(default: Any = NO_BODY) -> Any:
    """The request body, parsed and validated against the spec by the app's before-request hook."""
    value = g.get("body", NO_BODY)
    return default if value is NO_BODY else value


def principal() -> Principal:
    """Who sent the request, as the gate established it."""
    found: Principal = g.principal
    return found
