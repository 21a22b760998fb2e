"""What flows back to the caller while an upstream call runs: progress, logs, and questions.

An MCP server may, in the middle of a tool call, report progress, send log messages, or ask
its client something (``sampling/createMessage``, ``elicitation/create``). One upstream session
serves every caller of the bridge, so each of these must reach the caller whose call caused it,
and nobody else. A caller that can take them (an MCP client of the gateway's ``/mcp``) passes a
``Relay`` with its call; REST callers pass none, and such a question is refused.

Attribution:
- progress rides the call's own progress token, so it is always exact;
- at 2026-07-28 a question comes back inside the call's own result (input required). A caller
  that speaks 2026-07-28 too gets that result as it is and retries with its answers, which go
  upstream verbatim (the bridge keeps no state between the rounds); for an older caller the
  SDK asks it in the caller's own task: exact either way;
- on handshake-era sessions a question or a log arrives on the shared session with nothing
  naming the request that caused it. It goes to the one call in flight that carries a relay;
  when several are in flight it cannot be attributed and is refused (a question) or dropped
  (a log), never sent to a caller it may not belong to.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from bridge.model import Relay

__all__ = ["RelayTracker"]


_CURRENT: contextvars.ContextVar[Relay | None] = contextvars.ContextVar("bridge_relay", default=None)


class RelayTracker:
    """The relays of one session's calls in flight, and the rule that attributes messages to them."""

    def __init__(self) -> None:
        self._inflight: dict[int, Relay] = {}

    def carrying(self, relay: Relay | None) -> AbstractContextManager[None]:
        """While a call with ``relay`` (if any) is in flight, messages may be attributed to it.

        Every REST call passes here without a relay: that costs it no generator at all.
        """
        return nullcontext() if relay is None else self._carrying(relay)

    @contextmanager
    def _carrying(self, relay: Relay) -> Iterator[None]:
        self._inflight[id(relay)] = relay
        token = _CURRENT.set(relay)
        try:
            yield
        finally:
            self._inflight.pop(id(relay), None)
            _CURRENT.reset(token)

    def owner(self) -> Relay | None:
        """The relay a message arriving now belongs to, or None when that cannot be known."""
        current = _CURRENT.get()
        if current is not None:
            return current
        if len(self._inflight) == 1:
            return next(iter(self._inflight.values()))
        return None
