"""The client sessions a forwarding server remembers: what a handshake-era client chose, and a way to reach it.

A 2025-era client sets its log level once per session and hears ``list_changed`` notifications on
that session; a 2026-07-28 client says both on each request or listen stream, so nothing of it is
kept here. Memory is bounded: the least recently used sessions are forgotten first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Generic, TypeVar

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.mcpserver.backend import Caller

__all__ = ["MAX_SESSIONS", "ClientSessions", "Ctx", "LogLevels", "PerSession", "client_session"]

log = logging.getLogger(__name__)

Ctx = ServerRequestContext[Any, Any]
V = TypeVar("V")

#: How many handshake-era client sessions are remembered (their log level, a way to reach them).
MAX_SESSIONS = 10_000


def caller_of(ctx: Ctx) -> Caller:
    """Who sent the request: the state the admitting edge attached to its HTTP request (none on stdio)."""
    scope = getattr(ctx.request, "scope", None)
    state = scope.get("state") if isinstance(scope, dict) else None
    request_id = None if ctx.request_id is None else str(ctx.request_id)
    return Caller(state, request_id) if isinstance(state, dict) else Caller(request_id=request_id)


def client_session(ctx: Ctx) -> str | None:
    """Which client session a request belongs to: its ``Mcp-Session-Id`` (None on stdio, one client).

    ``ctx.session`` is a new object for every request, so it cannot tell two requests of one
    client apart from requests of two clients.
    """
    headers = getattr(ctx.request, "headers", None)
    return headers.get("mcp-session-id") if headers is not None else None


class PerSession(Generic[V]):
    """A value per client session, the most recently used ``MAX_SESSIONS`` kept."""

    def __init__(self) -> None:
        self._values: OrderedDict[str | None, V] = OrderedDict()

    def set(self, ctx: Ctx, value: V) -> None:
        key = client_session(ctx)
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > MAX_SESSIONS:
            self._values.popitem(last=False)

    def get(self, ctx: Ctx) -> V | None:
        return self._values.get(client_session(ctx))

    def of(self, key: str | None) -> V | None:
        """The value of the client session ``key`` (its ``Mcp-Session-Id``), for an edge that has no ``ctx``."""
        return self._values.get(key)

    def touch(self, key: str) -> bool:
        """Whether the client session ``key`` has a value kept; it is then the most recently used."""
        if key not in self._values:
            return False
        self._values.move_to_end(key)
        return True

    def items(self) -> list[tuple[str | None, V]]:
        return list(self._values.items())

    def forget(self, key: str | None) -> None:
        self._values.pop(key, None)


#: The ``logging/setLevel`` each handshake-era client session chose.
LogLevels = PerSession[str]


class ClientSessions(PerSession[ServerSession]):
    """The handshake-era client sessions seen lately, to tell them that the lists changed.

    A 2026-07-28 client listens instead (``subscriptions/listen``), and hears it on that stream.
    """

    def seen(self, ctx: Ctx) -> None:
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self.set(ctx, ctx.session)

    async def announce(self) -> None:
        changes = (
            types.ToolListChangedNotification(),
            types.PromptListChangedNotification(),
            types.ResourceListChangedNotification(),
        )
        for key, session in self.items():
            try:
                for change in changes:
                    await session.send_notification(change)
            except Exception:  # gone: it will be seen again if it comes back
                log.debug("dropping a client session", exc_info=True)
                self.forget(key)
