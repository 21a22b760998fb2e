"""Keeping one upstream connected: connect, serve while pings answer, reconnect with backoff.

The supervisor is one task per server. It connects (``bridge/upstream/connecting.py``), lists
the catalog and follows the callers' resources again, then serves until the connection should
be dropped: close(), a call that found it lost, or a ping that failed. It reconnects with
exponential backoff and jitter, and meanwhile calls fail fast with 503. A failure to connect
is a reason to retry, never to stop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from contextlib import AsyncExitStack

import anyio
from mcp import Client

from bridge.upstream.catalog import CatalogKeeper
from bridge.upstream.connecting import Connector
from bridge.upstream.following import FollowedResources
from bridge.upstream.link import Link
from bridge.upstream.translate import describe

__all__ = ["BACKOFF_INITIAL", "BACKOFF_MAX", "CLOSE_TIMEOUT", "PING_INTERVAL", "PING_TIMEOUT", "Supervisor"]

log = logging.getLogger(__name__)

#: First reconnect delay; doubles per failed attempt up to BACKOFF_MAX.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
#: An idle connection is pinged this often, so a dead or hung upstream is noticed between calls.
PING_INTERVAL = 10.0
PING_TIMEOUT = 5.0
#: How long closing waits for the SDK to stop a child (it escalates to SIGTERM, then SIGKILL).
CLOSE_TIMEOUT = 15.0


class Supervisor:
    """The task that keeps one server connected, and the way to stop it."""

    def __init__(
        self,
        link: Link,
        connector: Connector,
        catalog: CatalogKeeper,
        following: FollowedResources,
        *,
        connect_timeout: float,
    ) -> None:
        self._link = link
        self._connector = connector
        self._catalog = catalog
        self._following = following
        self._connect_timeout = connect_timeout
        #: Set when the connection should be dropped (a call found it lost, or close()).
        self._drop = asyncio.Event()
        self._first_attempt_done = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()

    @property
    def attempted(self) -> bool:
        """The first attempt to connect has ended, one way or the other."""
        return self._first_attempt_done.is_set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"upstream:{self._link.name}")

    async def wait_first_attempt(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._first_attempt_done.wait()

    def lost(self, reason: str) -> None:
        """A call found the connection gone: down at once, and reconnect."""
        if self._link.lost(reason, retry_at=time.monotonic() + BACKOFF_INITIAL):
            self._drop.set()

    async def close(self) -> None:
        """Drop the connection for good; a stdio child is terminated by its transport.

        Cancellation goes through the supervisor's own anyio scope, never ``Task.cancel()``:
        the SDK shields its child-process shutdown from anyio cancellation only.
        """
        self._stopping = True
        self._drop.set()
        self._scope.cancel()
        task = self._task
        if task is None or task.done():
            return
        try:
            with anyio.fail_after(CLOSE_TIMEOUT):
                await asyncio.shield(task)
        except TimeoutError:
            log.warning("upstream %s did not close within %s s", self._link.name, CLOSE_TIMEOUT)
        except Exception:  # the supervisor logs its own failures
            log.debug("upstream %s closed with an error", self._link.name, exc_info=True)

    async def _supervise(self) -> None:
        with self._scope:
            await self._reconnect_forever()
        self._link.down()

    async def _reconnect_forever(self) -> None:
        link = self._link
        delay = BACKOFF_INITIAL
        while not self._stopping:
            # A drop asked for is the last connection's: left set, it would cut every backoff
            # short (a connection that failed under a call is dropped by both, the call and its error).
            self._drop.clear()
            link.connecting()
            try:
                await self._connect_and_serve()
                delay = BACKOFF_INITIAL
            except Exception as exc:  # any failure to connect is a reason to retry, never to die
                link.failed(describe(exc))
                self._connector.forget()
                log.warning("upstream %s: %s", link.name, link.last_error)
            finally:
                link.client = link.lean = None
                self._first_attempt_done.set()
            if self._stopping:
                break
            jittered = delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not secrecy
            link.down(retry_at=time.monotonic() + jittered)
            with anyio.move_on_after(jittered):
                await self._drop.wait()  # close() interrupts the wait
            delay = min(delay * 2, BACKOFF_MAX)

    async def _connect_and_serve(self) -> None:
        link = self._link
        # The connect deadline must cover the client's own cancel scopes, which live as long as
        # the connection: so one scope spans it all and its deadline is lifted once connected.
        with anyio.CancelScope(deadline=anyio.current_time() + self._connect_timeout) as scope:
            async with AsyncExitStack() as stack:
                client = await self._connector.connect(stack)
                self._catalog.check_results(client)
                await self._catalog.refresh(client)
                await self._following.follow_again(client)
                scope.deadline = math.inf
                link.connected(client, self._connector.lean)
                self._first_attempt_done.set()
                log.info("upstream %s ready (protocol %s)", link.name, link.protocol_version)
                async with anyio.create_task_group() as group:
                    if link.modern:
                        group.start_soon(self._catalog.listen, client)
                    await self._watch(client)
                    group.cancel_scope.cancel()
                link.client = link.lean = None
        if scope.cancelled_caught:
            raise TimeoutError(f"no MCP handshake within {self._connect_timeout:g} s")

    async def _watch(self, client: Client) -> None:
        """Return when the connection should be dropped: close(), a lost call, or a failed ping."""
        while not self._stopping:
            with anyio.move_on_after(PING_INTERVAL):
                await self._drop.wait()
                self._drop.clear()
                return
            try:
                with anyio.fail_after(PING_TIMEOUT):
                    await self._probe(client)
                self._link.recover()
            except Exception as exc:  # a dead or hung upstream: reconnect
                self._link.failed(f"ping failed: {describe(exc)}")
                return

    async def _probe(self, client: Client) -> None:
        """A cheap round trip: ``ping`` where it exists, ``server/discover`` at 2026-07-28 (no ping)."""
        version = self._link.protocol_version
        if version is not None and self._link.modern:
            await client.session.send_discover(version)
        else:
            await client.send_ping()
