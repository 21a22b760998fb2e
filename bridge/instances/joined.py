"""This instance joined to the others through Redis: its heartbeat, its events and its calls,
started and stopped together."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError

from bridge.calls import Calls
from bridge.config import ConfigError
from bridge.feed import Feed
from bridge.store import Store

from .fanout import RedisFanout
from .instance import Instance
from .peers import RedisCallPeers

__all__ = ["Joined"]


class Joined:
    """This instance among the others (``start`` on the bridge's loop, before the calls are opened)."""

    def __init__(self, instance: Instance, fanout: RedisFanout, peers: RedisCallPeers) -> None:
        self.instance = instance
        self.fanout = fanout
        self.peers = peers

    @classmethod
    async def start(cls, url: str, feed: Feed, calls: Calls, store: Store) -> Joined:
        if not url.startswith(("redis://", "rediss://")):
            raise ConfigError("the Redis URL must start with redis:// or rediss://")
        instance = Instance.from_url(url)
        try:
            await instance.start()
        except RedisError as exc:  # said as the limits say it: the bridge does not start
            await instance.close()
            raise ConfigError(f"Redis does not answer at the --redis-url given ({type(exc).__name__})") from exc
        fanout = RedisFanout(feed, instance, asyncio.get_running_loop())
        await fanout.start()
        peers = RedisCallPeers(calls, instance, store.calls, store.writer)
        await peers.start()
        calls.peers = peers
        return cls(instance, fanout, peers)

    async def close(self) -> None:
        """After the calls are closed: how they ended reaches the others, then this instance leaves."""
        await self.peers.close()
        await self.fanout.close()
        await self.instance.close()
