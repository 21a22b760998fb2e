"""Liveness and readiness; both stay open when API keys are set."""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.gateway import Gateway
from bridge.rest.http import json_response

__all__ = ["create_blueprint"]


def create_blueprint(gateway: Gateway) -> Blueprint:
    bp = Blueprint("health", __name__)

    def healthz() -> Response:
        return json_response({"status": "ok"})

    def readyz() -> Response:
        ready, body = gateway.readiness()
        return json_response(body, 200 if ready else 503)

    bp.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    bp.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    return bp
