"""The operator's limits, as the gate and the gateway ask them.

- ``CallerRate``: each request a caller sends counts against its rate. The gate's edges charge
  it once they know who is calling (Flask's workers with ``charge``, the loop's routes with
  ``acharge``); the WebSocket charges each request on the socket.
- ``UpstreamLimits``: before a call goes upstream the gateway takes a slot for the caller's
  calls in flight, for the server's and for the tool's, then counts the call against the
  server's and the tool's rates; the ``Lease`` gives the slots back when the call ends. Slots
  come first: a slot refused costs nothing, a rate counted cannot be taken back.

``Limits.create`` builds only what was configured; with nothing configured there is nothing,
and the gate and the gateway skip the whole matter on one ``is None``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.storage import RedisStorage, Storage
from redis.exceptions import RedisError

from bridge.config import ConfigError, Limit, LimitSettings
from bridge.errors import RateLimited
from bridge.limits.memory import SweptMemoryStorage
from bridge.limits.rates import Meter, Window, windows
from bridge.limits.slots import MemorySlots, RedisSlots, Slots
from bridge.model import Principal

__all__ = ["LEASE_GRACE", "CallerRate", "Lease", "Limits", "UpstreamLimits"]

log = logging.getLogger(__name__)

#: Seconds a Redis lease outlives its call's timeout: by then the call has ended (504) and given it back.
LEASE_GRACE = 30.0
#: Every key the bridge keeps in Redis for limits starts with this.
KEY_PREFIX = "mcp-bridge:limits"
#: Seconds to wait for Redis before a request goes on without it (see ``bridge.limits.rates``).
REDIS_TIMEOUT = 1.0


class CallerRate:
    """One caller's requests, counted against ``--rate-limit`` (with ``--rate-burst``)."""

    def __init__(self, meter: Meter, policy: tuple[Window, ...]) -> None:
        self._meter = meter
        self.windows = policy

    @property
    def local(self) -> bool:
        """Whether the counts are kept in this process: then ``allows`` and ``charge`` may run on the loop."""
        return self._meter.local

    def allows(self, principal: Principal) -> bool:
        """Whether one more request of ``principal`` is within the rate now, counting nothing."""
        return self._meter.allows(self.windows, principal.subject)

    def charge(self, principal: Principal) -> None:
        """Count one request; ``RateLimited`` past the rate. From a worker thread."""
        self._meter.hit(self.windows, principal.subject, "this caller")

    async def acharge(self, principal: Principal) -> None:
        """The same, from the event loop."""
        await self._meter.ahit(self.windows, principal.subject, "this caller")


@dataclass(frozen=True, slots=True)
class _Ceiling:
    """What one server or tool may take: its rate's windows, and its calls in flight."""

    kind: str
    name: str
    windows: tuple[Window, ...] = ()
    concurrency: int | None = None

    @property
    def what(self) -> str:
        return f"{self.kind} {self.name!r}"


@dataclass(slots=True)
class Lease:
    """The slots one call holds; ``release`` gives them back (once, however the call ended)."""

    slots: Slots
    held: list[tuple[str, str]] = field(default_factory=list)

    async def release(self) -> None:
        held, self.held = self.held, []
        for key, lease in reversed(held):
            try:
                await self.slots.give_back(key, lease)
            except RedisError as exc:  # the lease lapses on its own
                log.warning("could not give a call slot back: %s", type(exc).__name__)


class UpstreamLimits:
    """Limits on calls going upstream: per caller in flight, per server and per tool."""

    def __init__(self, meter: Meter, slots: Slots, settings: LimitSettings) -> None:
        self._meter = meter
        self.slots = slots
        self._caller = settings.caller.concurrency
        self._servers = {name: _ceiling("server", name, limit) for name, limit in settings.servers.items()}
        self._tools = {name: _ceiling("tool", name, limit) for name, limit in settings.tools.items()}

    async def acquire(self, principal: Principal, server: str, tool: str | None, timeout: float) -> Lease | None:
        """The slots for one call to ``server`` (and ``tool``); ``RateLimited`` if one is full or a rate spent.

        None when no slot is needed. ``timeout`` is the call's own: a lease in Redis lapses after it.
        """
        by_tool = None if tool is None else self._tools.get(f"{server}.{tool}")
        ceilings = [c for c in (self._servers.get(server), by_tool) if c is not None]
        lease = None
        try:
            if self._caller is not None:
                lease = Lease(self.slots)
                await self._take(lease, "caller", principal.subject, self._caller, timeout, "this caller")
            for ceiling in ceilings:
                if ceiling.concurrency is not None:
                    lease = lease or Lease(self.slots)
                    await self._take(lease, ceiling.kind, ceiling.name, ceiling.concurrency, timeout, ceiling.what)
            for ceiling in ceilings:
                if ceiling.windows:
                    await self._meter.ahit(ceiling.windows, ceiling.name, ceiling.what)
        except BaseException:
            if lease is not None:
                await lease.release()
            raise
        return lease

    async def _take(self, lease: Lease, kind: str, name: str, ceiling: int, timeout: float, what: str) -> None:
        key = f"{kind}:{name}"
        try:
            taken = await self.slots.take(key, ceiling, timeout + LEASE_GRACE)
        except RedisError as exc:
            log.warning("call slots unavailable, call let through: %s", type(exc).__name__)
            return
        if taken is None:
            raise RateLimited(
                f"{what} has {ceiling} call{'s' if ceiling != 1 else ''} in flight, its limit; "
                "retry when one has ended",
                policy=f"{kind}-concurrency",
                quota=ceiling,
                window=None,
                retry_after=1,
            )
        lease.held.append((key, taken))


def _ceiling(kind: str, name: str, limit: Limit) -> _Ceiling:
    return _Ceiling(kind, name, windows(kind, limit.rate) if limit.rate is not None else (), limit.concurrency)


@dataclass
class Limits:
    """What ``LimitSettings`` asks for, built; both parts None when nothing was configured."""

    caller: CallerRate | None = None
    upstream: UpstreamLimits | None = None
    #: The in-process storage, whose sweeper ``close`` stops (None in Redis, or with no limits).
    memory: SweptMemoryStorage | None = None

    @classmethod
    def create(cls, settings: LimitSettings, redis_url: str | None = None) -> Limits:
        """In memory, or in Redis at ``redis_url`` (reached once here: unreachable stops start-up)."""
        if not settings.enabled:
            return cls()
        meter, slots, memory = _memory() if redis_url is None else _redis(redis_url)
        caller = None if settings.caller.rate is None else CallerRate(meter, windows("caller", settings.caller.rate))
        upstream = None
        if settings.caller.concurrency is not None or settings.servers or settings.tools:
            upstream = UpstreamLimits(meter, slots, settings)
        return cls(caller, upstream, memory)

    async def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
        if self.upstream is not None:
            await self.upstream.slots.close()


def _memory() -> tuple[Meter, Slots, SweptMemoryStorage]:
    storage = SweptMemoryStorage()
    return Meter(storage), MemorySlots(), storage


def _redis(url: str) -> tuple[Meter, Slots, None]:
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigError("the Redis URL must start with redis:// or rediss://")
    options: Mapping[str, float] = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    storage: Storage = RedisStorage(url, None, KEY_PREFIX, True, **options)
    if not storage.check():
        raise ConfigError("Redis for the limits does not answer at the --redis-url given")
    shared = AsyncRedisStorage(
        "async+" + url, key_prefix=KEY_PREFIX, wrap_exceptions=True, implementation="redispy", **options
    )
    return Meter(storage, shared), RedisSlots.from_url(url, KEY_PREFIX + ":slots:", REDIS_TIMEOUT), None
