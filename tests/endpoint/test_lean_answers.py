"""How the lean ``/mcp`` path sends one call's answer (``lean_exchange.Exchange`` with its ``Watch``),
at both protocol revisions: JSON when nothing came before the answer, with a 2025-era session's id;
SSE once a notification comes or the call stays silent for ``PING_SECONDS`` (then pinged). The
ASGI messages are the ones uvicorn would write; the live path is in ``tests/test_mcp_lean_path.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from bridge.endpoint import lean_exchange
from bridge.endpoint.lean_exchange import Exchange, Watch, Watches, sse

ANSWER = {"jsonrpc": "2.0", "id": 7, "result": {"content": [], "isError": False}}


class Sent:
    """An ASGI ``send`` that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def head(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _answered(modern: bool, before: bytes | None, wait: float) -> Sent:
    sent = Sent()
    exchange = Exchange(sent, modern, "session-1")
    watches = Watches()
    me = asyncio.current_task()
    assert me is not None
    watch = Watch(exchange, _never, me)
    watches.add(watch)
    try:
        if before is not None:
            await exchange.event(before)
        await asyncio.sleep(wait)
    finally:
        watches.remove(watch)
    await exchange.finish(ANSWER)
    return sent


@pytest.mark.parametrize("modern", [True, False], ids=["2026-07-28", "2025-11-25"])
def test_a_lone_answer_is_json(modern: bool) -> None:
    sent = asyncio.run(_answered(modern, None, 0))
    assert sent.messages[0]["status"] == 200
    assert sent.head[b"content-type"] == b"application/json"
    assert int(sent.head[b"content-length"]) == len(sent.body)
    assert orjson.loads(sent.body) == ANSWER
    assert sent.head.get(b"mcp-session-id") == (None if modern else b"session-1")


@pytest.mark.parametrize("modern", [True, False], ids=["2026-07-28", "2025-11-25"])
def test_a_notification_first_makes_the_answer_sse(modern: bool) -> None:
    note = sse({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}})
    sent = asyncio.run(_answered(modern, note, 0))
    assert sent.head[b"content-type"] == b"text/event-stream"
    assert b"content-length" not in sent.head
    assert sent.body == note + sse(ANSWER)
    assert sent.head.get(b"mcp-session-id") == (None if modern else b"session-1")


@pytest.mark.parametrize("modern", [True, False], ids=["2026-07-28", "2025-11-25"])
def test_a_silent_call_is_committed_to_sse_and_pinged(modern: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_exchange, "PING_SECONDS", 0.12)
    sent = asyncio.run(_answered(modern, None, 0.45))
    assert sent.head[b"content-type"] == b"text/event-stream"
    assert sent.body.count(b": ping\r\n\r\n") >= 2, sent.body
    assert sent.body.endswith(sse(ANSWER))
    assert sent.head.get(b"mcp-session-id") == (None if modern else b"session-1")
