"""Events on the wire: one envelope, an event log for replay, live fan-out, and the feed that
connects them to the gateway's bus; the SSE stream, the WebSocket and webhooks consume it."""

from bridge.feed.envelope import EVENT_TYPES, EventFilter, WireEvent, to_wire
from bridge.feed.feed import Feed, FeedSettings

__all__ = ["EVENT_TYPES", "EventFilter", "Feed", "FeedSettings", "WireEvent", "to_wire"]
