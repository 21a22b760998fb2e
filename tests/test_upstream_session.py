"""An upstream session tells its listener what happens upstream: each change of state once, as it happens.

A session runs here on a loop of the test's own, in front of the rich test server over stdio;
the bridge's pool is not involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bridge.errors import UpstreamTimeout, UpstreamUnavailable
from bridge.upstream.session import UpstreamSession
from harness import WAIT
from tests.support import HeardUpstream, rich_stdio


async def _until(condition: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {WAIT} s")
        await asyncio.sleep(0.05)


def test_every_change_of_state_reaches_the_listener_once_and_in_order() -> None:
    heard = HeardUpstream()

    async def scenario() -> None:
        session = UpstreamSession(rich_stdio(timeout=1.0), connect_timeout=WAIT, listener=heard)
        session.start()
        try:
            await session.wait_first_attempt(WAIT)
            with pytest.raises(UpstreamTimeout):
                await session.call_tool("slow", {"seconds": 5})
            await session.call_tool("echo", {"text": "still here"})
            with pytest.raises(UpstreamUnavailable):
                await session.call_tool("crash", {})
            await _until(lambda: session.status().state == "ready")
        finally:
            await session.close()

    asyncio.run(scenario())
    states = [(server, status.state) for server, status in heard.states]
    assert states == [
        ("rich", state) for state in ("ready", "degraded", "ready", "down", "connecting", "ready", "down")
    ]
    assert heard.states[1][1].last_error == "a call timed out after 1 s"
    assert heard.states[3][1].last_error  # down, saying why
    assert heard.catalogs == ["rich", "rich"]  # listed on connecting, and again on reconnecting
    assert heard.updates == []  # no resource is followed
