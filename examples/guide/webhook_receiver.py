"""The integration guide's "Webhook Receiver": a Flask app that takes the bridge's signed webhooks.

Changed from the guide, and why: none of its lines. The guide leaves ``verify_signature`` and
``process_tool_execution`` undefined, so both are written here: ``verify_signature`` checks
``X-MCP-Signature`` with the generated client's helper (``verify_mcp_signature``: the HMAC of the
request's ``webhook-timestamp`` and body under the secret, compared in constant time, a stale
timestamp refused), and ``process_tool_execution`` records what it got, one JSON line per
delivery with its ``webhook-id``, in the file ``WEBHOOK_RECEIVED`` names (``received.jsonl`` by
default). A ``__main__`` block serves the app on 127.0.0.1, port ``PORT`` (5000 by default).

The guide's ``@mcp.on_tool_execution`` handler, which posted each call to ``WEBHOOK_URL``, is the
bridge's own work instead: start it with ``WEBHOOK_URL`` and ``WEBHOOK_SECRET`` set (see
``webhook_config.md``), and it keeps each call's event in its outbox and delivers it, signed.

Run it: ``WEBHOOK_SECRET=whsec_... PYTHONPATH=generated/python python examples/guide/webhook_receiver.py``
"""

import json
import os

from flask import Flask, request
from mcp_bridge_client import verify_mcp_signature

SECRET = os.environ["WEBHOOK_SECRET"]
RECEIVED = os.environ.get("WEBHOOK_RECEIVED", "received.jsonl")


def verify_signature(payload, signature):
    return verify_mcp_signature(SECRET, payload, signature, request.headers.get("webhook-timestamp"))


def process_tool_execution(data):
    with open(RECEIVED, "a", encoding="utf-8") as received:
        received.write(json.dumps({"webhookId": request.headers.get("webhook-id"), "data": data}) + "\n")


app = Flask(__name__)

@app.route('/webhook/mcp', methods=['POST'])
def receive_webhook():
    data = request.json
    
    # Verify webhook signature
    signature = request.headers.get('X-MCP-Signature')
    if not verify_signature(request.data, signature):
        return {'error': 'Invalid signature'}, 401
    
    # Process webhook
    event_type = data.get('event')
    if event_type == 'tool_executed':
        process_tool_execution(data)
    
    return {'status': 'received'}, 200


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
