"""A tool call asked to answer asynchronously (``Prefer: respond-async`` or ``wait=N``, RFC 7240).

The tool-call route hands a call here only when its ``Prefer`` asks for it; the call store
(``bridge.calls``) checks it exactly as a synchronous call is checked, keeps it and runs it.
``respond-async`` answers ``202 Accepted`` at once, with the call resource, ``Location:
/calls/{id}`` and ``Preference-Applied: respond-async``. ``wait=N`` answers as a synchronous
call would when the call ends within N seconds (its result, shaped by any ``return``
preference, or its problem), else 202 in the same way; a call that asks its caller something
meanwhile is answered 202 at once. ``Callback-Url`` names where the ended call is to be
POSTed, signed as webhooks are; it is checked here, before the call starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.calls import Calls
from bridge.errors import FieldError, RequestInvalid
from bridge.gateway.answers import PREFERENCE_APPLIED, RESPOND_ASYNC, AsyncPreference, lean_answer
from bridge.model import Principal

from .call_resources import PREFIX, etag
from .http import Headers, Scope, Send, send_json

__all__ = ["CALLBACK_HEADER", "AsyncCalls"]

CALLBACK_HEADER = "callback-url"
_CALLBACK_POINTER = "/header/Callback-Url"


class AsyncCalls:
    """Starts the tool calls that asked for an asynchronous answer, and answers them."""

    def __init__(self, calls: Calls, check_callback: Callable[[str], None] | None = None) -> None:
        self._calls = calls
        #: Refuses a callback URL that may not be used (``TargetRefused``-like ``ValueError``);
        #: None when the bridge cannot sign callbacks (no secret configured).
        self._check_callback = check_callback

    async def answer(
        self,
        send: Send,
        scope: Scope,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        principal: Principal,
        request_id: str | None,
        headers: Headers,
        wanted: AsyncPreference,
        prefer: str,
    ) -> int:
        """Start the call and answer: 202 with the call, or (``wait``) the synchronous answer; the status."""
        callback = self._callback(headers.get(CALLBACK_HEADER, "").strip())
        if wanted.wait is None:
            view = await self._calls.start(
                server, tool, arguments, principal=principal, request_id=request_id, callback=callback
            )
        else:
            result, waited = await self._calls.run_or_start(
                server,
                tool,
                arguments,
                principal=principal,
                wait=wanted.wait,
                request_id=request_id,
                callback=callback,
            )
            if waited is None:
                body, applied = lean_answer(result or {}, prefer)
                await send_json(send, body, headers=() if applied is None else ((PREFERENCE_APPLIED, applied),))
                return 200
            view = waited
        _, body = self._calls.encoded(view.id, principal)
        extra = [
            (b"location", f"{PREFIX}/{view.id}".encode()),
            (PREFERENCE_APPLIED.lower().encode(), RESPOND_ASYNC.encode()),
            (b"etag", etag(view.version).encode()),
        ]
        headers_out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": 202, "headers": headers_out})
        await send({"type": "http.response.body", "body": body})
        return 202

    def _callback(self, url: str) -> str | None:
        if not url:
            return None
        if self._check_callback is None:
            refusal = "this bridge sends no callbacks: its operator has configured no callback secret"
            raise RequestInvalid(f"{_CALLBACK_POINTER}: {refusal}", [FieldError(_CALLBACK_POINTER, refusal)])
        try:
            self._check_callback(url)
        except ValueError as exc:
            raise RequestInvalid(f"{_CALLBACK_POINTER}: {exc}", [FieldError(_CALLBACK_POINTER, str(exc))]) from exc
        return url
