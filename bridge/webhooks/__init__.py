"""Webhooks: subscriptions over REST, a durable outbox fed by the event feed, signed deliveries.

Modules, one job each; the first four have no event loop (the REST edge uses them), the last
three run on the bridge's loop:

- ``subscriptions``: the admin side (create, change, rotate, delivery log, redelivery) and the
  cached view of subscriptions the outbox matches against
- ``signing``: secrets, Standard Webhooks signatures and ``X-MCP-Signature``
- ``addresses``: which hosts a webhook may reach (SSRF guard), checked at subscribe and delivery
- ``schedule``: the retry schedule (exponential backoff with jitter, ``Retry-After``)
- ``outbox``: the feed sink that keeps deliveries, durably, before a call is answered
- ``dispatcher``: per-subscription lanes that attempt, record and retry deliveries
- ``client``: the lean, safe HTTP client deliveries go out with

The package exports only the loop-free parts, so importing it brings in no event loop; the
runtime imports ``outbox`` and ``dispatcher`` by name.
"""

from bridge.webhooks.addresses import TargetRefused
from bridge.webhooks.schedule import DEFAULT_DELAYS, RetrySchedule
from bridge.webhooks.signing import new_secret, signature_headers
from bridge.webhooks.subscriptions import DEFAULT_OVERLAP, WebhookSubscriptions

__all__ = [
    "DEFAULT_DELAYS",
    "DEFAULT_OVERLAP",
    "RetrySchedule",
    "TargetRefused",
    "WebhookSubscriptions",
    "new_secret",
    "signature_headers",
]
