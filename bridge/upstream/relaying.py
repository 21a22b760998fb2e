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
  naming the request that caused it. It goes to the one call in flight that carries a relay
  and is not waiting for the answer to a question of its own (such a call is stopped where it
  asked; a call held open for a 2026-07-28 client waits there between its client's rounds);
  when several are in flight it cannot be attributed and is refused (a question) or dropped
  (a log), never sent to a caller it may not belong to.

``RelayTracker`` knows the relays of the calls in flight and applies that rule; ``BackChannel``
is the SDK client's side of it: the callbacks that take a log or a question from the server and
hand it to the caller it belongs to, or refuse it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import mcp_types as types
from mcp.client.context import ClientRequestContext
from mcp_types.jsonrpc import INTERNAL_ERROR, MISSING_REQUIRED_CLIENT_CAPABILITY

from bridge.model import JSON, Relay, RelayRefused
from bridge.upstream.translate import to_json

__all__ = ["BackChannel", "RelayTracker"]

log = logging.getLogger(__name__)

#: Rank of each MCP log level (RFC 5424's severities), lowest first.
_LOG_RANK = {
    level: rank
    for rank, level in enumerate(("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"))
}


_CURRENT: contextvars.ContextVar[Relay | None] = contextvars.ContextVar("bridge_relay", default=None)


class _Carrying:
    """``RelayTracker.carrying`` a relay: a plain context manager (a generator's costs every call three more)."""

    __slots__ = ("_inflight", "_relay", "_token")

    def __init__(self, inflight: dict[int, Relay], relay: Relay) -> None:
        self._inflight = inflight
        self._relay = relay

    def __enter__(self) -> None:
        self._inflight[id(self._relay)] = self._relay
        self._token = _CURRENT.set(self._relay)

    def __exit__(self, *exc: object) -> None:
        self._inflight.pop(id(self._relay), None)
        _CURRENT.reset(self._token)


class RelayTracker:
    """The relays of one session's calls in flight, and the rule that attributes messages to them."""

    def __init__(self) -> None:
        self._inflight: dict[int, Relay] = {}
        #: Calls waiting for their caller's answer to a question: they ask nothing more meanwhile.
        self._asking: set[int] = set()

    def carrying(self, relay: Relay | None) -> AbstractContextManager[None]:
        """While a call with ``relay`` (if any) is in flight, messages may be attributed to it.

        Every REST call passes here without a relay: that costs it no generator at all.
        """
        return nullcontext() if relay is None else _Carrying(self._inflight, relay)

    def owner(self) -> Relay | None:
        """The relay a message arriving now belongs to, or None when that cannot be known."""
        current = _CURRENT.get()
        if current is not None:
            return current
        if not self._asking:
            return next(iter(self._inflight.values())) if len(self._inflight) == 1 else None
        idle = [relay for key, relay in self._inflight.items() if key not in self._asking]
        return idle[0] if len(idle) == 1 else None

    @contextmanager
    def asking(self, relay: Relay) -> Iterator[None]:
        """While ``relay``'s caller is being asked something, it is not who asks the next question."""
        self._asking.add(id(relay))
        try:
            yield
        finally:
            self._asking.discard(id(relay))


class BackChannel:
    """The SDK client's callbacks for what one server sends mid-call: each goes to the caller it belongs to."""

    def __init__(self, server: str, relays: RelayTracker) -> None:
        self._server = server
        self._relays = relays

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        relay = self._relays.owner()
        wanted = relay.log_level if relay is not None else None
        if relay is None or wanted is None or not _at_least(params.level, wanted):
            log.debug("upstream %s: log message with no caller to take it", self._server)
            return
        await relay.log(to_json(params))

    async def on_sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        answer = await self.ask("sampling/createMessage", to_json(params))
        if isinstance(answer, types.ErrorData):
            return answer
        if isinstance(answer.get("content"), list):
            return types.CreateMessageResultWithTools.model_validate(answer)
        return types.CreateMessageResult.model_validate(answer)

    async def on_elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        answer = await self.ask("elicitation/create", to_json(params))
        return answer if isinstance(answer, types.ErrorData) else types.ElicitResult.model_validate(answer)

    async def ask(self, method: str, params: JSON) -> JSON | types.ErrorData:
        """The caller's answer, or the error the server is given when there is no caller to ask."""
        params = _without_hop_context(params)
        relay = self._relays.owner()
        if relay is None:
            refusal = f"{method}: no caller of this bridge can answer"
            return types.ErrorData(code=MISSING_REQUIRED_CLIENT_CAPABILITY, message=refusal)
        try:
            with self._relays.asking(relay):
                return await relay.ask(method, params)
        except RelayRefused as exc:
            return types.ErrorData(code=exc.code, message=str(exc))
        except asyncio.CancelledError:
            # The question was withdrawn (its call was cancelled or ended) while this task goes on:
            # the server hears so; the cancellation must not end the task that reads the session.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return types.ErrorData(code=INTERNAL_ERROR, message=f"{method}: the call that asked was cancelled")


#: W3C trace context an upstream's SDK puts in its question's ``_meta``: the bridge-to-upstream
#: hop's (continued from the call's ``_meta``), not the caller's, so not passed on.
_HOP_CONTEXT = ("traceparent", "tracestate", "baggage")


def _without_hop_context(params: JSON) -> JSON:
    """A question's params without the upstream hop's trace context (and ``_meta`` gone if that was all)."""
    meta = params.get("_meta")
    if not isinstance(meta, dict) or not any(key in meta for key in _HOP_CONTEXT):
        return params
    kept = {key: value for key, value in meta.items() if key not in _HOP_CONTEXT}
    trimmed = {key: value for key, value in params.items() if key != "_meta"}
    if kept:
        trimmed["_meta"] = kept
    return trimmed


def _at_least(level: str, floor: str) -> bool:
    return _LOG_RANK.get(level, len(_LOG_RANK)) >= _LOG_RANK.get(floor, 0)
