"""One forwarded request's way back to the client that made it: a ``bridge.model.Relay`` over the SDK.

Progress, log messages and questions (sampling, elicitation) that the upstream sends while the
call runs go out on that request's own stream, so they never reach another client. What the
caller asked for is read from the request once: its progress token, its log level (per request
at 2026-07-28, per session before), and on a 2026-07-28 retry its answers and the opaque state.
"""

from __future__ import annotations

import warnings
from typing import Any

import mcp_types as types
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bridge.mcpserver.sessions import Ctx, LogLevels
from bridge.model import JSON, RelayRefused

__all__ = ["CallerRelay"]

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


class CallerRelay:
    """One forwarded request's way back to its client."""

    def __init__(self, ctx: Ctx, levels: LogLevels) -> None:
        self._ctx = ctx
        meta = ctx.meta or {}
        self._token = meta.get("progress_token")
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        self._modern = modern
        params = ctx.params or {}
        answers = params.get("inputResponses")
        self._answers: JSON | None = answers if isinstance(answers, dict) else None
        state = params.get("requestState")
        self._state = state if isinstance(state, str) else None
        # At 2026-07-28 the request opts in itself; before, the session's setLevel (default: all).
        level = meta.get(types.LOG_LEVEL_META_KEY) if modern else (levels.get(ctx) or "debug")
        self._level = level if isinstance(level, str) else None

    @property
    def wants_progress(self) -> bool:
        return self._token is not None

    @property
    def log_level(self) -> str | None:
        return self._level

    @property
    def takes_input_required(self) -> bool:
        return self._modern

    @property
    def input_responses(self) -> JSON | None:
        return self._answers

    @property
    def request_state(self) -> str | None:
        return self._state

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self._token is not None:
            await self._ctx.session.send_progress_notification(
                self._token, progress, total, message, related_request_id=str(self._ctx.request_id)
            )

    async def log(self, params: JSON) -> None:
        with warnings.catch_warnings():  # logging is deprecated at 2026-07-28, still served before it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await self._ctx.session.send_log_message(
                params["level"], params.get("data"), params.get("logger"), related_request_id=self._ctx.request_id
            )

    async def ask(self, method: str, params: JSON) -> JSON:
        session: ServerSession = self._ctx.session
        request_type, result_type, capability = _QUESTIONS.get(method, (None, None, None))
        if request_type is None or result_type is None or capability is None:
            raise RelayRefused(f"{method} is not relayed", METHOD_NOT_FOUND)
        if not session.check_client_capability(capability):
            raise RelayRefused(f"the client did not declare the capability {method} needs")
        if not session.can_send_request:
            raise RelayRefused(f"{method}: this request has no channel back to its client")
        if method == "sampling/createMessage" and params.get("tools"):
            result_type = types.CreateMessageResultWithTools
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
