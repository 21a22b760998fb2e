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
from typing import Any, Protocol

from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY

__all__ = ["INPUT_REQUIRED", "Relay", "RelayRefused", "RelayTracker"]

JSON = dict[str, Any]
#: The ``resultType`` of a 2026-07-28 result asking the caller for input and a retry.
INPUT_REQUIRED = "input_required"


class RelayRefused(Exception):
    """The caller cannot answer this question (no capability, no back channel, no caller)."""

    def __init__(self, message: str, code: int = MISSING_REQUIRED_CLIENT_CAPABILITY) -> None:
        super().__init__(message)
        self.code = code


class Relay(Protocol):
    """The caller's side of one in-flight upstream call."""

    @property
    def wants_progress(self) -> bool: ...

    @property
    def log_level(self) -> str | None:
        """The lowest log level the caller asked for, or None for no logs."""
        ...

    @property
    def takes_input_required(self) -> bool:
        """The caller speaks 2026-07-28: an input-required result can be handed to it as it is."""
        ...

    @property
    def input_responses(self) -> JSON | None:
        """On a retry, the caller's answers to the input requests (wire shape), passed on verbatim."""
        ...

    @property
    def request_state(self) -> str | None:
        """On a retry, the opaque state the server handed out, passed on verbatim."""
        ...

    async def progress(self, progress: float, total: float | None, message: str | None) -> None: ...

    async def log(self, params: JSON) -> None:
        """A ``notifications/message`` params object, in wire shape."""
        ...

    async def ask(self, method: str, params: JSON) -> JSON:
        """Forward a server→client request; its result in wire shape, or ``RelayRefused``."""
        ...


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
