"""What one upstream session knows about its connection now, and the one place its state changes.

The session's parts (supervisor, catalog, following, requests) read the live client, the state
and the negotiated revision from one ``Link``. Each change of state goes through ``Link._enter``,
which tells the listener (``UpstreamListener.state_changed``) once per actual change::

    connecting ──▶ ready ◀──▶ degraded
       ▲   │         │           │
       │   ▼         ▼           │
       └── down ◀────┴───────────┘

Ready becomes degraded when a call times out or a catalog refresh fails, and ready again on the
next success; down is where an attempt, a call or a ping that finds no connection leads, and
where every state goes on close.
"""

from __future__ import annotations

import logging
import time

from mcp import Client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.model import JSON, SERVING, ServerState, ServerStatus, UpstreamListener
from bridge.upstream.lean_calls import LeanChannel

__all__ = ["Link"]

log = logging.getLogger(__name__)


class Link:
    """One server's connection as its session's parts see it: the client, the state, the revision."""

    def __init__(self, name: str, listener: UpstreamListener | None) -> None:
        self.name = name
        self._listener = listener
        #: The connected SDK client; None while connecting or down.
        self.client: Client | None = None
        #: Lean requests beside the client's session, where the transport offers them; None while not connected.
        self.lean: LeanChannel | None = None
        #: Read it freely; only ``_enter`` assigns it, so that no change goes unreported.
        self.state: ServerState = "connecting"
        self.last_error: str | None = None
        #: When the next reconnect attempt is due (``time.monotonic``), while down.
        self.retry_at = 0.0
        #: What the last connection negotiated (``negotiated``); kept while down.
        self.protocol_version: str | None = None
        #: It speaks 2026-07-28: no handshake, no ping, changes on a listen stream, input-required rounds.
        self.modern = False
        self.server_info: JSON | None = None
        self.capabilities: JSON | None = None

    def negotiated(self, version: str, server_info: JSON | None, capabilities: JSON) -> None:
        self.protocol_version = version
        self.modern = version in MODERN_PROTOCOL_VERSIONS
        self.server_info = server_info
        self.capabilities = capabilities

    def status(self) -> ServerStatus:
        return ServerStatus(
            state=self.state,
            protocol_version=self.protocol_version,
            server_info=self.server_info,
            capabilities=self.capabilities,
            last_error=self.last_error,
            retry_after=max(1, round(self.retry_at - time.monotonic())),
        )

    # -- transitions -------------------------------------------------------------------------

    def connecting(self) -> None:
        """An attempt to connect begins; the last error stays visible meanwhile."""
        self._enter("connecting")

    def connected(self, client: Client, lean: LeanChannel | None = None) -> None:
        self.client = client
        self.lean = lean
        self.last_error = None
        self._enter("ready")

    def failed(self, error: str) -> None:
        """The connection, or the attempt at one, failed; the supervisor moves on from here."""
        self.last_error = error

    def down(self, retry_at: float | None = None) -> None:
        """Not connected; the next attempt is due at ``retry_at`` (none is, once closed)."""
        if retry_at is not None:
            self.retry_at = retry_at
        self._enter("down")

    def lost(self, error: str, retry_at: float) -> bool:
        """A call found the connection gone: down, unless it already was. True when it was not."""
        if self.state not in SERVING:
            return False
        self.last_error = error
        self.down(retry_at)
        return True

    def degrade(self, reason: str) -> None:
        """Still connected and serving, but the last call timed out or the catalog is stale."""
        if self.state == "ready":
            self.last_error = reason
            self._enter("degraded")
            log.warning("upstream %s degraded: %s", self.name, reason)

    def recover(self) -> None:
        """A call succeeded: a degraded connection is ready again. Every successful call passes here."""
        if self.state == "degraded":
            self.last_error = None
            self._enter("ready")
            log.info("upstream %s ready again", self.name)

    def _enter(self, state: ServerState) -> None:
        """The one place ``state`` is assigned; the listener hears of each actual change, once."""
        if state == self.state:
            return
        self.state = state
        if self._listener is not None:
            self._listener.state_changed(self.name, self.status())
