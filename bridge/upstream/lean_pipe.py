"""Lean requests over a stdio child's pipes: each written as one JSON line, answered in the pipe's callback.

``LeanPipe`` is the stdio transport's ``LeanChannel`` (``bridge/upstream/lean_calls.py``). A
request goes to the child's stdin as one line beside the SDK session's own, with the same flow
control (the sender waits while the pipe is full); the transport (``bridge/upstream/stdio.py``)
recognises its answer by id and settles it, and its progress by token (its id) and hands it
over. A request abandoned by its caller (a deadline, a caller gone) is followed by
``notifications/cancelled``, as the SDK's dispatcher sends it. The lines are written with
pydantic-core's JSON codec, the SDK's own: orjson would be a little faster, but turns an integer
beyond 64 bits into a float or refuses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mcp.shared.dispatcher import ProgressFnT
from pydantic_core import to_json

from bridge.upstream.lean_calls import LeanRequests, cancellation, connection_closed

__all__ = ["LeanPipe", "Pipe"]


class Pipe(Protocol):
    """The child's stdin as the transport hands it over."""

    def write(self, data: bytes) -> None: ...
    def is_closing(self) -> bool: ...


class LeanPipe(LeanRequests):
    """Lean requests over one child's pipes; the transport attaches them once the child runs."""

    def __init__(self) -> None:
        super().__init__()
        self._stdin: Pipe | None = None
        self._drained: Callable[[], Awaitable[None]] | None = None

    def attach(self, stdin: Pipe, drained: Callable[[], Awaitable[None]]) -> None:
        """Write to ``stdin``; ``drained`` returns once the pipe has room again."""
        self._stdin = stdin
        self._drained = drained

    async def request(
        self, method: str, params: dict[str, Any], on_progress: ProgressFnT | None = None
    ) -> dict[str, Any]:
        stdin, drained = self._stdin, self._drained
        if stdin is None or drained is None or stdin.is_closing():
            raise connection_closed()
        stamped, _ = self.stamped(method, params, headers=False)
        request_id, answer = self.open(on_progress)
        if on_progress is not None:
            stamped = self.tokened(stamped, request_id)
        try:
            stdin.write(to_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": stamped}) + b"\n")
            await drained()
            result = await answer
            if on_progress is not None:
                await self.handed(request_id)
            return result
        except asyncio.CancelledError:
            # The deadline passed or the caller left: the server may stop working on it (as the SDK does).
            if not stdin.is_closing():
                stdin.write(to_json(cancellation(request_id)) + b"\n")
            raise
        finally:
            self.forget(request_id)
