"""A server's catalog is listed again on each change, and closing waits for every listing still running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import mcp_types as types
from mcp import Client

from bridge.upstream.catalog import CatalogKeeper
from bridge.upstream.following import FollowedResources
from bridge.upstream.link import Link
from tests.support import HeardUpstream


class _GatedLister:
    """A connected client whose every ``tools/list`` waits until the test opens that call's own gate."""

    server_capabilities = types.ServerCapabilities(tools=types.ToolsCapability(list_changed=True))

    def __init__(self) -> None:
        self.gates: list[asyncio.Event] = []
        self.listed = 0

    async def list_tools(self, cursor: str | None = None) -> dict[str, Any]:
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        self.listed += 1
        return {"tools": [{"name": f"tool_{self.listed}", "inputSchema": {"type": "object"}}]}


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds; everything here is on one loop, with no I/O."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met")


def test_closing_waits_for_every_catalog_refresh_still_running() -> None:
    heard = HeardUpstream()

    async def scenario() -> CatalogKeeper:
        link = Link("s", heard)
        keeper = CatalogKeeper(link, FollowedResources(link, heard), heard, refresh_timeout=30)
        client = _GatedLister()
        link.client = cast(Client, client)
        keeper.refresh_soon()
        keeper.refresh_soon()  # a second list_changed while the first listing still runs
        await _until(lambda: len(client.gates) == 2)
        client.gates[1].set()
        await _until(lambda: client.listed == 1)

        closing = asyncio.create_task(keeper.close(timeout=30))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not closing.done()  # the first listing has not ended
        client.gates[0].set()
        await closing
        assert client.listed == 2
        return keeper

    keeper = asyncio.run(scenario())
    assert heard.catalogs == ["s", "s"]
    assert set(keeper.catalog.tools) == {"tool_2"}  # each listing replaces the catalog whole


def test_closing_with_no_refresh_running_returns_at_once() -> None:
    async def scenario() -> None:
        link = Link("s", None)
        keeper = CatalogKeeper(link, FollowedResources(link, None), None, refresh_timeout=30)
        await asyncio.wait_for(keeper.close(timeout=30), 1)

    asyncio.run(scenario())
