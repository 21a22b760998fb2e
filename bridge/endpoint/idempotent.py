"""A tool call with an ``Idempotency-Key`` on the event loop: replayed, or answered, kept, then sent.

``bridge.gate.idempotency`` decides; this module does the loop's part. The store is read from a
worker thread. The answer the handler sends is held back (``send`` records it), kept when it is
to be kept, and sent once the store's writer has committed it: an answer a caller could have
seen is never lost to a crash. Whatever the handler sends goes through the same recording, so
an asynchronous call's ``202`` and its ``Location`` are kept as a ``200`` would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from bridge.gate.idempotency import COMMIT_WAIT, Answer, Claim, Idempotency, fingerprint, keeps, not_kept, parse_key

from .http import Scope, Send

__all__ = ["KeyedCall"]

_HEADER = b"idempotency-key"


class KeyedCall:
    """One request under a key; ``send`` is what the handler answers through."""

    def __init__(self, claim: Claim | None, send: Send, replay: Answer | None) -> None:
        self._claim = claim
        self._send = send
        #: The answer kept for the key: sent again instead of calling the tool.
        self.replay = replay
        self._messages: list[MutableMapping[str, Any]] = []

    @classmethod
    async def begin(cls, keys: Idempotency, scope: Scope, subject: str, arguments: Any, send: Send) -> KeyedCall:
        """Hold the request's key (400, 409 or 422 when that cannot be), and find its kept answer."""
        key = parse_key([v.decode("latin-1") for k, v in scope["headers"] if k.lower() == _HEADER])
        claim = keys.claim(subject, key, fingerprint("POST", scope["path"], arguments))
        try:
            earlier = await asyncio.to_thread(claim.earlier)
        except BaseException:
            claim.release()
            raise
        if earlier is not None:
            claim.release()
            return cls(None, send, earlier)
        return cls(claim, send, None)

    async def send_replay(self) -> int:
        """Send the kept answer again; its status."""
        answer = self.replay
        assert answer is not None, "send_replay() is for a replay"
        headers = [(b"content-length", str(len(answer.body)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.replayed()]
        await self._send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await self._send({"type": "http.response.body", "body": answer.body})
        return answer.status

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self._messages.append(message)

    async def end(self, error: BaseException | None) -> None:
        """Keep the recorded answer if it is to be kept, then send it; the key is free after."""
        try:
            answer = self._answer()
            if answer is not None and self._claim is not None and keeps(answer.status, error):
                await self._committed(self._claim, answer)
            for message in self._messages:
                await self._send(message)
        finally:
            self.release()

    def release(self) -> None:
        if self._claim is not None:
            self._claim.release()

    def _answer(self) -> Answer | None:
        start = next((m for m in self._messages if m["type"] == "http.response.start"), None)
        if start is None:
            return None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", ())]
        body = b"".join(m.get("body", b"") for m in self._messages if m["type"] == "http.response.body")
        return Answer.of(start["status"], headers, body)

    @staticmethod
    async def _committed(claim: Claim, answer: Answer) -> None:
        loop = asyncio.get_running_loop()
        written: asyncio.Future[BaseException | None] = loop.create_future()

        def done(error: BaseException | None) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(_settle, written, error)

        claim.keep(answer, done)
        try:
            failure = await asyncio.wait_for(asyncio.shield(written), COMMIT_WAIT)
        except TimeoutError:
            failure = TimeoutError(f"not committed within {COMMIT_WAIT:g} s")
        if failure is not None:
            not_kept(failure)


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)
