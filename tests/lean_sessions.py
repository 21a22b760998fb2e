"""One upstream session run for a test, and the helpers the lean upstream tests (stdio, HTTP) share.

``run_session`` starts an ``UpstreamSession`` on a config, waits for it to be ready, runs the
scenario and closes it; ``sdk_call`` makes the same call through the SDK client's own
``call_tool`` on that session, so a lean call's outcome can be compared with it (``outcome``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp import Client

from bridge.config import ServerConfig
from bridge.errors import BridgeError
from bridge.telemetry import current
from bridge.upstream.session import UpstreamSession
from bridge.upstream.translate import to_json
from harness import WAIT

__all__ = ["Heard", "lean_of", "outcome", "progress_both_ways", "run_session", "sdk_call", "until"]

T = TypeVar("T")
#: The progress a listener heard: (progress, total, message) each.
Heard = list[tuple[float, float | None, str | None]]


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {WAIT} s")
        await asyncio.sleep(0.05)


def run_session(config: ServerConfig, scenario: Callable[[UpstreamSession], Awaitable[None]]) -> None:
    async def main() -> None:
        session = UpstreamSession(config, connect_timeout=WAIT)
        session.start()
        try:
            await session.wait_first_attempt(WAIT)
            assert session.status().state == "ready"
            await scenario(session)
        finally:
            await session.close()

    asyncio.run(main())


def lean_of(session: UpstreamSession, kind: type[T]) -> T:
    """The session's lean channel, checked to be a ``kind``."""
    lean = session._link.lean
    assert isinstance(lean, kind)
    return lean


async def sdk_call(session: UpstreamSession, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The same call through the SDK client's own ``call_tool`` on the same session, with the same ``_meta``."""
    context = current.get()
    meta: Any = None if context is None else context.meta()

    async def call(c: Client) -> Any:
        return await c.call_tool(name, arguments, meta=meta)

    return to_json(await session.request(call))


async def outcome(call: Awaitable[dict[str, Any]]) -> str:
    """A call's result or error, as bytes to compare."""
    try:
        return json.dumps(await call)
    except BridgeError as exc:
        return f"{type(exc).__name__}: {exc}"


async def progress_both_ways(
    session: UpstreamSession, name: str, arguments: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], Heard, Heard]:
    """``name`` called with a progress listener on the session (its lean path) and through the SDK
    client's own ``call_tool``: both results, what the first listener had heard when its call
    returned, and the second listener's list (the SDK hands progress over in tasks of its own,
    which may still be running)."""
    lean: Heard = []
    sdk: Heard = []

    def listener(heard: Heard) -> Any:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            heard.append((progress, total, message))

        return on_progress

    by_lean = await session.call_tool(name, arguments, on_progress=listener(lean))
    returned = list(lean)

    async def call(c: Client) -> Any:
        return to_json(await c.call_tool(name, arguments, progress_callback=listener(sdk)))

    by_sdk = await session.request(call)
    return by_lean, by_sdk, returned, sdk
