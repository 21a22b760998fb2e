"""One forwarded request's way back to the client that made it: a ``bridge.model.Relay`` over the SDK.

Progress, log messages and questions (sampling, elicitation) that the upstream sends while the
call runs go out on that request's own stream, so they never reach another client. What the
caller asked for is read from the request once: its progress token, its log level (per request
at 2026-07-28, per session before), and on a 2026-07-28 retry its answers and the opaque state.

The SDK client hands each progress notification and log message to its callback in a task of
its own, so the upstream's answer can overtake the last of them; ``flushed`` waits for those
already on their way, so that none follows the result on the client's stream (where it would
be lost).

A 2026-07-28 upstream is told the capabilities the caller declared (``declared``), so it asks
only what the caller can answer, as it would if called directly; its questions come back as an
input-required result, of which ``answerable`` still keeps only those the caller can answer, and
refuses the request (-32021, naming what is missing) when none is left. A 2025-era upstream,
whose one session serves every caller, was told every capability, and asks mid-call instead: a
2026-07-28 client's relay then carries its ``held`` call (``holding``), and the question goes out
as a round of that call.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Coroutine
from typing import Any

import anyio
import mcp_types as types
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.mcpserver.holding import Held
from bridge.mcpserver.sessions import Ctx, LogLevels
from bridge.model import JSON, MISSING_CAPABILITY, RelayRefused

__all__ = ["CallerRelay", "RelayBase", "answerable", "question_types", "unanswerable"]

#: How long a finished request waits for its last progress notifications to go out.
FLUSH_TIMEOUT = 5.0

#: The server→client requests relayed: each one's request and result types, and the capability it needs.
_QUESTIONS: dict[str, tuple[type[Any], type[Any], types.ClientCapabilities]] = {
    "sampling/createMessage": (
        types.CreateMessageRequest,
        types.CreateMessageResult,
        types.ClientCapabilities(sampling=types.SamplingCapability()),
    ),
    "elicitation/create": (
        types.ElicitRequest,
        types.ElicitResult,
        types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    ),
}


#: The wire shape of each session's declared capabilities, by the typed object's identity.
_DUMPED: dict[int, tuple[types.ClientCapabilities, JSON]] = {}
#: Sessions whose capabilities ``_declared`` keeps dumped at most.
SESSIONS_DUMPED = 1024


def _declared(ctx: Ctx, modern: bool) -> JSON | None:
    """The capabilities the client of ``ctx`` declared, in wire shape: as this request carries them
    at 2026-07-28, as its session's ``initialize`` did before (dumped once per session)."""
    if modern:
        meta = (ctx.params or {}).get("_meta")
        declared = meta.get(types.CLIENT_CAPABILITIES_META_KEY) if isinstance(meta, dict) else None
        if isinstance(declared, dict):
            return declared
    typed = ctx.session.client_capabilities
    if typed is None:
        return None
    known = _DUMPED.get(id(typed))
    if known is not None and known[0] is typed:
        return known[1]
    if len(_DUMPED) >= SESSIONS_DUMPED:  # sessions come and go: forget the old ones
        _DUMPED.clear()
    dumped: JSON = typed.model_dump(by_alias=True, mode="json", exclude_none=True)
    _DUMPED[id(typed)] = (typed, dumped)
    return dumped


def question_types(method: str, params: JSON) -> tuple[type[Any], type[Any], types.ClientCapabilities]:
    """What a question ``method`` the upstream asks is checked as: its request type, its answer's
    type, and the capability the client must have declared.

    Raises:
        RelayRefused: ``method`` is not a question relayed to clients.
    """
    found = _QUESTIONS.get(method)
    if found is None:
        raise RelayRefused(f"{method} is not relayed", METHOD_NOT_FOUND)
    request_type, result_type, capability = found
    if method == "sampling/createMessage" and params.get("tools"):
        result_type = types.CreateMessageResultWithTools
    return request_type, result_type, capability


def _declares(method: str, params: JSON, declared: types.ClientCapabilities) -> bool:
    """Whether a client that declared ``declared`` can be asked ``method`` (unknown methods pass)."""
    if method == "sampling/createMessage":
        return declared.sampling is not None
    if method == "roots/list":
        return declared.roots is not None
    if method == "elicitation/create":
        form = declared.elicitation
        if params.get("mode") == "url":
            return form is not None and form.url is not None
        return form is not None and (form.form is not None or form.url is None)  # a bare {} means forms
    return True


#: What each kind of question needs the client to have declared, as -32021's data names it.
_NEEDED: dict[str, JSON] = {
    "sampling/createMessage": {"sampling": {}},
    "roots/list": {"roots": {}},
    "elicitation/create": {"elicitation": {}},
}


def answerable(result: JSON, declared: types.ClientCapabilities | None) -> JSON:
    """An input-required ``result`` with only the questions a client that ``declared`` these can answer.

    Raises:
        MCPError: -32021 with ``requiredCapabilities`` when it can answer none of them.
    """
    asked = result.get("inputRequests")
    if not isinstance(asked, dict) or not asked:
        return result
    declared = declared or types.ClientCapabilities()
    kept: JSON = {}
    needed: JSON = {}
    for key, question in asked.items():
        method = question.get("method", "") if isinstance(question, dict) else ""
        params = question.get("params") if isinstance(question, dict) else None
        if _declares(method, params if isinstance(params, dict) else {}, declared):
            kept[key] = question
        else:
            needed.update(_NEEDED.get(method, {}))
    if len(kept) == len(asked):
        return result
    if not kept:
        raise _missing(needed)
    return {**result, "inputRequests": kept}


def unanswerable(method: str) -> MCPError:
    """-32021 for a question ``method`` the client did not declare it can answer."""
    return _missing(_NEEDED[method])


def _missing(needed: JSON) -> MCPError:
    """-32021, naming the capabilities the client did not declare."""
    missing = ", ".join(sorted(needed))
    message = f"the server needs the client capability {missing}, which this client did not declare"
    return MCPError(MISSING_CAPABILITY, message, {"requiredCapabilities": needed})


class RelayBase:
    """What every relay to a client keeps: the progress token and log level the request asked for,
    its generation, and the notifications on their way, which ``flushed`` waits for."""

    # What ``bridge.model.Relay`` asks, as attributes: every call through a relay reads each of them
    # once, and an attribute costs no call (``_asked`` keeps them in step with the token and level).
    detached = False
    input_responses: JSON | None = None
    request_state: str | None = None
    declared: JSON | None = None

    def __init__(self, token: Any, level: str | None, modern: bool) -> None:
        self._asked(token, level)
        self.takes_input_required = modern
        self._unsent = 0  # notifications on their way to the client
        self._sent: anyio.Event | None = None

    def _asked(self, token: Any, level: str | None) -> None:
        """What the request asked for: progress under ``token`` (None: none), logs from ``level`` (None: none)."""
        self._token = token
        self.wants_progress = token is not None
        self.log_level = level

    async def _sending(self, notification: Awaitable[None]) -> None:
        """Send one notification, counted among those ``flushed`` waits for."""
        self._unsent += 1
        try:
            await notification
        finally:
            self._unsent -= 1
            if not self._unsent and self._sent is not None:
                self._sent.set()

    def flushed(self) -> Awaitable[None] | None:
        """Something that returns once the notifications already on their way have gone out
        (bounded); None when none are (nearly every call: no coroutine made for it)."""
        return self._flushing() if self._unsent else None

    async def _flushing(self) -> None:
        self._sent = anyio.Event()
        with anyio.move_on_after(FLUSH_TIMEOUT):
            await self._sent.wait()


class CallerRelay(RelayBase):
    """One forwarded request's way back to its client."""

    def __init__(self, ctx: Ctx, levels: LogLevels) -> None:
        self._ctx = ctx
        meta = ctx.meta or {}
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        # At 2026-07-28 the request opts in itself; before, the session's setLevel (default: all).
        level = meta.get(types.LOG_LEVEL_META_KEY) if modern else (levels.get(ctx) or "debug")
        super().__init__(meta.get("progress_token"), level if isinstance(level, str) else None, modern)
        params = ctx.params or {}
        answers = params.get("inputResponses")
        self.input_responses = answers if isinstance(answers, dict) else None
        state = params.get("requestState")
        self.request_state = state if isinstance(state, str) else None
        self.declared = _declared(ctx, modern)
        #: The call held open for this 2026-07-28 client, whose questions go out as rounds.
        self.held: Held[CallerRelay] | None = None
        self._live = True  # False while held: the request it came with has been answered

    def rebind(self, ctx: Ctx) -> None:
        """Reach the client through ``ctx``, the request that resumed the held call."""
        self._ctx = ctx
        self.declared = _declared(ctx, self.takes_input_required)
        meta = ctx.meta or {}
        level = meta.get(types.LOG_LEVEL_META_KEY)
        self._asked(meta.get("progress_token"), level if isinstance(level, str) else None)
        self._live = True

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self._token is not None:
            await self._sending(
                self._ctx.session.send_progress_notification(
                    self._token, progress, total, message, related_request_id=str(self._ctx.request_id)
                )
            )

    async def log(self, params: JSON) -> None:
        with warnings.catch_warnings():  # logging is deprecated at 2026-07-28, still served before it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            sent = self._ctx.session.send_log_message(
                params["level"], params.get("data"), params.get("logger"), related_request_id=self._ctx.request_id
            )
        await self._sending(sent)

    async def _sending(self, notification: Awaitable[None]) -> None:
        """Send one notification, counted among those ``flushed`` waits for; none while held."""
        if not self._live:
            if isinstance(notification, Coroutine):
                notification.close()
            return
        await super()._sending(notification)

    async def ask(self, method: str, params: JSON) -> JSON:
        session: ServerSession = self._ctx.session
        request_type, result_type, capability = question_types(method, params)
        if not session.check_client_capability(capability):
            if self.held is not None:  # a 2026-07-28 client is told, as it would be by the server itself
                self.held.refuse(_missing(_NEEDED[method]))
            raise RelayRefused(f"the client did not declare the capability {method} needs")
        if self.held is not None:
            self._live = False
            return await self.held.ask(method, params)
        if not session.can_send_request:
            raise RelayRefused(f"{method}: this request has no channel back to its client")
        try:
            answer = await session.send_request(
                request_type.model_validate({"method": method, "params": params}),
                result_type,
                metadata=ServerMessageMetadata(related_request_id=self._ctx.request_id),
            )
        except MCPError as exc:
            raise RelayRefused(exc.error.message, exc.error.code) from exc
        result: JSON = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        return result
