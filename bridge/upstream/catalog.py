"""One upstream's catalog kept current: listed page by page on connect, listed again on a change.

A 2025-era server says a list changed with ``notifications/*/list_changed``; the listing then
runs in a task of its own, and closing waits for every one still running. At 2026-07-28 changes
arrive on a ``subscriptions/listen`` stream, which also carries the updates of the resources
callers follow (``bridge/upstream/following.py``) and is opened again when that set changes.
The tools' output schemas go to the result check (``bridge/upstream/results.py``) with each listing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client
from mcp.shared.subscriptions import ResourceUpdated

from bridge.model import JSON, Catalog, UpstreamListener
from bridge.upstream.following import FollowedResources
from bridge.upstream.link import Link
from bridge.upstream.results import OutputChecks
from bridge.upstream.translate import describe, to_json

__all__ = ["MAX_PAGES", "CatalogKeeper"]

log = logging.getLogger(__name__)

#: The catalog walk stops after this many pages: a server whose cursor never ends cannot hang us.
MAX_PAGES = 100


class CatalogKeeper:
    """Lists one server's catalog, and lists it again whenever the server says it changed."""

    def __init__(
        self,
        link: Link,
        following: FollowedResources,
        listener: UpstreamListener | None,
        *,
        refresh_timeout: float,
    ) -> None:
        self._link = link
        self._following = following
        self._listener = listener
        self._refresh_timeout = refresh_timeout
        self._catalog = Catalog()
        self._outputs = OutputChecks()
        #: Refreshes running in tasks of their own; each leaves the set when done.
        self._refreshing: set[asyncio.Task[None]] = set()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def outputs(self) -> OutputChecks:
        """The output schemas of the tools listed, to check results with."""
        return self._outputs

    def check_results(self, client: Client) -> None:
        """Hold ``client``'s tool results to the output schemas this catalog lists."""
        self._outputs.install(client.session)

    async def refresh(self, client: Client) -> None:
        """List everything the server offers, page by page, and replace the catalog whole."""
        caps = client.server_capabilities
        tools: dict[str, JSON] = {}
        prompts: dict[str, JSON] = {}
        resources: list[JSON] = []
        templates: list[JSON] = []
        if caps.tools is not None:
            for page in await _pages(lambda c: client.list_tools(cursor=c), "tools"):
                tools.update((t["name"], t) for t in page)
        if caps.resources is not None:
            resources = [r for p in await _pages(lambda c: client.list_resources(cursor=c), "resources") for r in p]
            templates = [
                t
                for p in await _pages(lambda c: client.list_resource_templates(cursor=c), "resourceTemplates")
                for t in p
            ]
        if caps.prompts is not None:
            for page in await _pages(lambda c: client.list_prompts(cursor=c), "prompts"):
                prompts.update((p["name"], p) for p in page)
        self._outputs.update(tools)
        self._catalog = Catalog(tools=tools, resources=tuple(resources), templates=tuple(templates), prompts=prompts)
        if self._listener is not None:
            self._listener.catalog_changed(self._link.name)

    def refresh_soon(self) -> None:
        """Refresh in a task of its own: from the client's message handler, listing would wait on itself."""
        task = asyncio.get_running_loop().create_task(self._refresh_after_change())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def close(self, timeout: float) -> None:
        """Wait, up to ``timeout`` seconds, for every refresh still running."""
        running = [task for task in self._refreshing if not task.done()]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=timeout)
        if late:
            name = self._link.name
            log.warning("upstream %s: %d catalog refreshes still running after %s s", name, len(late), timeout)

    async def _refresh_after_change(self) -> None:
        client = self._link.client
        if client is None:
            return
        try:
            with anyio.fail_after(self._refresh_timeout):
                await self.refresh(client)
        except Exception as exc:  # the old catalog stays; the next reconnect lists again
            self._link.degrade(f"catalog refresh failed: {describe(exc)}")

    async def listen(self, client: Client) -> None:
        """At 2026-07-28 changes arrive on a ``subscriptions/listen`` stream, not as notifications.

        The stream carries list changes and updates of the resources callers follow; when that
        set changes, the stream is opened again with the new one.
        """
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        follows = bool(caps.resources and caps.resources.subscribe)
        changed = self._following.changed
        while True:
            changed.clear()
            uris = self._following.uris() if follows else []
            if not (tools or prompts or resources or uris):
                await changed.wait()
                continue
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(_cancel_on, changed, group.cancel_scope)
                    async with client.listen(
                        tools_list_changed=tools,
                        prompts_list_changed=prompts,
                        resources_list_changed=resources,
                        resource_subscriptions=uris,
                    ) as subscription:
                        async for event in subscription:
                            if isinstance(event, ResourceUpdated):
                                self._following.updated(event.uri)
                            else:
                                await self._refresh_after_change()
                    group.cancel_scope.cancel()
            except Exception as exc:  # no change stream: the catalog still refreshes on reconnect
                log.info("upstream %s: no change stream (%s)", self._link.name, describe(exc))
                return
            if not changed.is_set():
                return  # the server ended the stream


async def _cancel_on(event: asyncio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _pages(fetch: Callable[[str | None], Awaitable[Any]], key: str) -> list[list[JSON]]:
    pages: list[list[JSON]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        result = to_json(await fetch(cursor))
        pages.append(list(result.get(key, [])))
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return pages
