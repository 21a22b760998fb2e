"""Changes behind a forwarding server reaching the clients that follow them.

``Followers`` knows who follows which resource: a handshake-era client session (``resources/subscribe``)
or a 2026-07-28 listen stream. ``ChangeAnnouncer`` hears the backend's changes and fans them out:
a resource update to its followers, a change of the tools, resources or prompts on offer to every
listen stream and every handshake-era session seen lately.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged

from bridge.mcpserver.backend import Subscriptions
from bridge.mcpserver.sessions import ClientSessions

__all__ = ["ChangeAnnouncer", "Follower", "Followers"]

log = logging.getLogger(__name__)

#: Who follows a resource: a handshake-era client session, or one 2026-07-28 listen stream.
Follower = tuple[str, str | None]


class Followers:
    """Which clients follow which resource URI; updates reach sessions directly, streams via the bus."""

    def __init__(self, bus: InMemorySubscriptionBus) -> None:
        self._by_uri: dict[str, dict[Follower, ServerSession | None]] = {}
        self._bus = bus

    def follow(self, uri: str, who: Follower, session: ServerSession | None, subscribed: bool) -> bool:
        """Record the change; True when ``uri`` gained its first or lost its last follower."""
        followers = self._by_uri.setdefault(uri, {})
        before = bool(followers)
        if subscribed:
            followers[who] = session
        else:
            followers.pop(who, None)
        if not followers:
            del self._by_uri[uri]
        return before != bool(followers)

    async def updated(self, uri: str) -> None:
        await self._bus.publish(ResourceUpdated(uri=uri))  # listen streams that asked for this URI
        for who, session in list(self._by_uri.get(uri, {}).items()):
            if session is None:
                continue
            try:
                await session.send_resource_updated(uri)
            except Exception:  # the client went away without unsubscribing
                log.debug("dropping a follower of %s", uri, exc_info=True)
                self._by_uri.get(uri, {}).pop(who, None)


class ChangeAnnouncer:
    """Tells clients what changed behind the server, without keeping the backend's listener waiting."""

    def __init__(self, bus: InMemorySubscriptionBus, followers: Followers, sessions: ClientSessions) -> None:
        self._bus = bus
        self._followers = followers
        self._sessions = sessions
        # Changes arrive on the sessions' loop, which also serves the clients: send from tasks
        # there, held until done (the loop keeps only weak references to tasks).
        self._running: set[asyncio.Task[None]] = set()

    def listen_to(self, subscriptions: Subscriptions) -> None:
        subscriptions.on_updated(self.resource_updated)
        subscriptions.on_changed(self.lists_changed)

    def resource_updated(self, uri: str) -> None:
        self._spawn(self._followers.updated(uri))

    def lists_changed(self) -> None:
        self._spawn(self._announce())

    async def _announce(self) -> None:
        for change in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
            await self._bus.publish(change)
        await self._sessions.announce()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
