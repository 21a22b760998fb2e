"""The resources callers follow on one upstream, followed the way the server's revision has it.

Before 2026-07-28 a server is told with ``resources/subscribe`` and ``unsubscribe``, and says
``notifications/resources/updated``; a new connection knows no subscriptions, so after a
reconnect it is told the whole set again. At 2026-07-28 the set rides the ``subscriptions/listen``
stream (``bridge/upstream/catalog.py``), opened again whenever the set changes, and updates
arrive on that stream. Either way the set outlives connections.

The set is what the gateway asks for on behalf of its callers (``UpstreamSession.subscribe``);
an update goes to the session's listener (``UpstreamListener.resource_updated``), which tells
the callers that follow the URI.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mcp_types as types
from mcp import Client

from bridge.model import UpstreamListener
from bridge.upstream.link import Link
from bridge.upstream.translate import describe

__all__ = ["FollowedResources"]

log = logging.getLogger(__name__)


class FollowedResources:
    """The URIs some caller follows on one server, kept across reconnects, and their updates."""

    def __init__(self, link: Link, listener: UpstreamListener | None) -> None:
        self._link = link
        self._listener = listener
        self._uris: set[str] = set()
        #: Set when the set changes, so a 2026-07-28 listen stream is opened again with the new one.
        self.changed = asyncio.Event()

    def uris(self) -> list[str]:
        return sorted(self._uris)

    def follow(self, uri: str, subscribed: bool) -> bool:
        """Follow ``uri`` (or stop); True when the server must be told with a request of its own."""
        if subscribed:
            self._uris.add(uri)
        else:
            self._uris.discard(uri)
        if self._link.modern:
            self.changed.set()
            return False
        return True

    async def send(self, client: Client, uri: str, subscribed: bool) -> None:
        """``resources/subscribe`` or ``unsubscribe``, where the server's revision and capabilities have them."""
        resources = (self._link.capabilities or {}).get("resources") or {}
        if self._link.modern or not resources.get("subscribe"):
            return
        if subscribed:
            request: Any = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
        else:
            request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
        await client.session.send_request(request, types.EmptyResult)

    async def follow_again(self, client: Client) -> None:
        """A new 2025-era connection knows no subscriptions: make the callers' again."""
        for uri in self.uris():
            try:
                await self.send(client, uri, True)
            except Exception as exc:  # the caller's subscription is kept; the next reconnect tries again
                log.warning("upstream %s: could not follow %s again: %s", self._link.name, uri, describe(exc))

    def updated(self, uri: str) -> None:
        """The server says ``uri`` changed."""
        if self._listener is not None:
            self._listener.resource_updated(self._link.name, uri)
