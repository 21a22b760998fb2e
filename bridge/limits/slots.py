"""Calls in flight per key, with a ceiling: in this process, or in Redis shared by several bridges.

A slot is taken before a call goes upstream and given back when it ends, however it ends. In
memory that is a count per key (touched only from the event loop, so it needs no lock). In
Redis each slot is a *lease*: a member of a sorted set per key, scored by when it lapses (the
call's timeout and a margin, in Redis's own clock, so the bridges' clocks need not agree).
Taking one drops the lapsed leases, counts the rest and adds one only below the ceiling, all
in one script, so two bridges cannot both take the last slot; a bridge that dies holding
leases loses them when they lapse, not never.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Protocol

import redis.asyncio

__all__ = ["MemorySlots", "RedisSlots", "Slots"]
#: Lease ids: this process's prefix and a counter, unique across bridges without a random draw per call.
_LEASE_PREFIX = f"{os.uname().nodename}-{os.getpid()}-{time.time_ns():x}-"

_TAKE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
    return 0
end
redis.call('ZADD', KEYS[1], ms + ttl, ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"""


class Slots(Protocol):
    """Where slots are counted."""

    async def take(self, key: str, ceiling: int, ttl: float) -> str | None:
        """A lease on one of ``key``'s ``ceiling`` slots, good for at most ``ttl`` seconds; None if all are taken."""
        ...

    async def give_back(self, key: str, lease: str) -> None: ...

    async def close(self) -> None: ...


class MemorySlots:
    """Slots counted in this process, on its event loop."""

    def __init__(self) -> None:
        self._taken: dict[str, int] = {}

    async def take(self, key: str, ceiling: int, ttl: float) -> str | None:
        taken = self._taken.get(key, 0)
        if taken >= ceiling:
            return None
        self._taken[key] = taken + 1
        return key

    async def give_back(self, key: str, lease: str) -> None:
        left = self._taken.get(key, 0) - 1
        if left > 0:
            self._taken[key] = left
        else:
            self._taken.pop(key, None)

    def taken(self, key: str) -> int:
        return self._taken.get(key, 0)

    async def close(self) -> None:
        self._taken.clear()


class RedisSlots:
    """Slots as leases in Redis sorted sets (see the module's notes)."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._ids = itertools.count(1)

    @classmethod
    def from_url(cls, url: str, prefix: str, timeout: float) -> RedisSlots:
        return cls(redis.asyncio.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout), prefix)

    async def take(self, key: str, ceiling: int, ttl: float) -> str | None:
        lease = _LEASE_PREFIX + str(next(self._ids))
        taken = await self._take(keys=[self._prefix + key], args=[ceiling, lease, int(ttl * 1000)])
        return lease if taken == 1 else None

    async def give_back(self, key: str, lease: str) -> None:
        await self._client.zrem(self._prefix + key, lease)

    async def close(self) -> None:
        await self._client.aclose()
