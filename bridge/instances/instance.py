"""This bridge instance as the others know it: an id, a Redis client, and a heartbeat.

An instance is alive while its heartbeat key (``mcp-bridge:instance:{id}``) exists: it is set
every ``BEAT`` seconds to lapse after ``LAPSE``, so an instance killed without a word is known
gone within ``LAPSE`` seconds. What the others hand an instance (a call's cancel or answers)
goes to its own channel, the same name as its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection
from typing import Any, cast

import redis.asyncio
from redis.exceptions import RedisError

__all__ = ["BEAT", "CLOSE_TIMEOUT", "LAPSE", "PREFIX", "Instance", "ended"]

log = logging.getLogger(__name__)

#: Every key and channel the instances share starts with this.
PREFIX = "mcp-bridge:"
#: Seconds between two heartbeats.
BEAT = 1.0
#: Seconds after its last heartbeat that an instance counts as gone: a few beats, so a busy
#: loop or a slow Redis does not make a live instance look dead.
LAPSE = 4.0
#: Seconds to wait for Redis on one command (a blocking read waits longer: see ``fanout``).
TIMEOUT = 5.0
#: Seconds a cancelled task of an instance has to end before it is named in the log and cancelled again.
CLOSE_TIMEOUT = 5.0


async def ended(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until they have ended; a Redis error one ended with is left unsaid,
    any other is raised once all have ended.

    A task still running ``CLOSE_TIMEOUT`` seconds after its cancel (an await in its cleanup that
    never ends) is named in the log, with where it waits, and cancelled again: a bridge stopping
    never waits on Redis for good.
    """
    for task in tasks:
        task.cancel()
    failed: list[BaseException] = []
    pending: Collection[asyncio.Task[Any]] = tasks
    while pending:
        done, pending = await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        failed += [e for t in done if not t.cancelled() and (e := t.exception()) and not isinstance(e, RedisError)]
        for task in pending:
            where = _awaiting(task)
            log.warning(
                "%s still runs %g s after its cancel, at %s: cancelled again", task.get_name(), CLOSE_TIMEOUT, where
            )
            task.cancel()
    if failed:
        raise failed[0]


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Where ``task`` waits: each coroutine it awaits through, outermost first, as ``file:line``."""
    chain, awaited = [], cast(object, task.get_coro())
    while (frame := getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)) is not None:
        chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return " > ".join(chain) or "an unknown place"


class Instance:
    """This instance: its id, its Redis client, its heartbeat (``start`` … ``close``)."""

    def __init__(self, client: redis.asyncio.Redis, url: str) -> None:
        self.client = client
        self.url = url
        #: For subscriptions, which wait on their connection as long as nothing is said: no timeout.
        self.listener = self.connect(read_timeout=None)
        #: Host, process and a random part: readable in Redis, unique across restarts.
        self.id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._beating: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str) -> Instance:
        return cls(redis.asyncio.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT), url)

    def connect(self, *, read_timeout: float | None = None) -> redis.asyncio.Redis:
        """Another client to the same Redis (a blocking read holds its connection)."""
        return redis.asyncio.Redis.from_url(
            self.url, socket_timeout=read_timeout, socket_connect_timeout=TIMEOUT, socket_keepalive=True
        )

    async def listen(self, channel: str, heard: Callable[[bytes], None]) -> None:
        """Hand what is said on ``channel`` to ``heard``, for good (subscribed again after a failure)."""
        while True:
            pubsub = self.listener.pubsub()
            try:
                await pubsub.subscribe(channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        heard(message["data"])
            except RedisError as exc:
                log.warning("listening on %s failed (again in %g s): %s", channel, BEAT, exc)
            finally:
                with contextlib.suppress(RedisError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            await asyncio.sleep(BEAT)

    @staticmethod
    def key(instance: str) -> str:
        """The heartbeat key of ``instance``, and the name of its channel."""
        return f"{PREFIX}instance:{instance}"

    async def start(self) -> None:
        await self._beat()  # alive before the first request can name it
        self._beating = asyncio.create_task(self._beat_forever(), name="instance-heartbeat")

    async def alive(self, instance: str) -> bool:
        return instance == self.id or bool(await self.client.exists(self.key(instance)))

    async def _beat(self) -> None:
        await self.client.set(self.key(self.id), b"1", px=int(LAPSE * 1000))

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(BEAT)
            try:
                await self._beat()
            except RedisError as exc:  # the others may count this one gone meanwhile: said once per beat
                log.warning("heartbeat to Redis failed: %s", exc)

    async def close(self) -> None:
        if self._beating is not None:
            await ended([self._beating])
        with contextlib.suppress(RedisError):
            await self.client.delete(self.key(self.id))  # gone now, not in LAPSE seconds
        await self.client.aclose()
        await self.listener.aclose()
