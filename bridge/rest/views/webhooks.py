"""``/webhooks``: subscriptions to the bridge's events (admin), their secrets, delivery log and redelivery."""

from __future__ import annotations

from flask import Blueprint, Response, request

from bridge.rest.http import body, json_response
from bridge.webhooks import WebhookSubscriptions

__all__ = ["create_blueprint"]


def create_blueprint(webhooks: WebhookSubscriptions) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    def list_webhooks() -> Response:
        return json_response({"webhooks": webhooks.list()})

    def create_webhook() -> Response:
        made = webhooks.create(body())
        return json_response(made, 201, {"Location": f"/webhooks/{made['id']}", "Cache-Control": "no-store"})

    def get_webhook(webhook: str) -> Response:
        return json_response(webhooks.get(webhook))

    def update_webhook(webhook: str) -> Response:
        return json_response(webhooks.update(webhook, body()))

    def delete_webhook(webhook: str) -> Response:
        webhooks.delete(webhook)
        return Response(status=204)

    def rotate_webhook_secret(webhook: str) -> Response:
        return json_response(webhooks.rotate(webhook, body({})), headers={"Cache-Control": "no-store"})

    def list_webhook_deliveries(webhook: str) -> Response:
        args = request.args
        page = webhooks.deliveries(
            webhook, limit=int(args.get("limit", 50)), before=args.get("before"), status=args.get("status")
        )
        return json_response(page)

    def get_webhook_delivery(webhook: str, delivery: str) -> Response:
        return json_response(webhooks.delivery(webhook, delivery))

    def redeliver_webhook_delivery(webhook: str, delivery: str) -> Response:
        return json_response(webhooks.redeliver_one(webhook, delivery), 202)

    def redeliver_webhook_events(webhook: str) -> Response:
        return json_response(webhooks.redeliver(webhook, body()), 202)

    bp.add_url_rule("/webhooks", "listWebhooks", list_webhooks, methods=["GET"])
    bp.add_url_rule("/webhooks", "createWebhook", create_webhook, methods=["POST"])
    bp.add_url_rule("/webhooks/<webhook>", "getWebhook", get_webhook, methods=["GET"])
    bp.add_url_rule("/webhooks/<webhook>", "updateWebhook", update_webhook, methods=["PATCH"])
    bp.add_url_rule("/webhooks/<webhook>", "deleteWebhook", delete_webhook, methods=["DELETE"])
    bp.add_url_rule("/webhooks/<webhook>/rotate", "rotateWebhookSecret", rotate_webhook_secret, methods=["POST"])
    bp.add_url_rule("/webhooks/<webhook>/deliveries", "listWebhookDeliveries", list_webhook_deliveries)
    bp.add_url_rule("/webhooks/<webhook>/deliveries/<delivery>", "getWebhookDelivery", get_webhook_delivery)
    bp.add_url_rule(
        "/webhooks/<webhook>/deliveries/<delivery>/redeliver",
        "redeliverWebhookDelivery",
        redeliver_webhook_delivery,
        methods=["POST"],
    )
    bp.add_url_rule(
        "/webhooks/<webhook>/redeliver", "redeliverWebhookEvents", redeliver_webhook_events, methods=["POST"]
    )
    return bp
