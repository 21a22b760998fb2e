"""Two bridge processes, one Redis: they count one rate and one set of call slots together.

Each request goes to one bridge or the other, by Flask (``GET /servers``: a worker thread, the
blocking Redis client) or by the fast route (the event loop, the asyncio client): both keep
the same counts. Call slots are leases in Redis; one a bridge never gives back lapses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from bridge.limits import RedisSlots
from harness import apoll, poll
from tests.limits.conftest import call, limited, rich_config
from tests.support import BridgeProcess, bridge_process, problem

RATE_KEY = "shared-rate-key"
SLOT_KEY = "shared-slot-key"
SLOTS = "mcp-bridge:limits:slots:server:rich"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:
    args = ["--api-key", RATE_KEY, "--api-key", SLOT_KEY, "--redis-url", redis_url]
    args += ["--rate-limit", "6/minute", "--server-limit", "rich=concurrent=1"]
    where = tmp_path_factory.mktemp("shared")
    with bridge_process(where, rich_config(), *args) as one, bridge_process(where, rich_config(), *args) as two:
        yield one, two


def test_two_bridges_count_one_callers_requests_together(pair: tuple[BridgeProcess, BridgeProcess]) -> None:
    one, two = pair
    headers = {"X-API-Key": RATE_KEY}
    statuses = []
    for i in range(3):
        statuses.append(requests.get(f"{one.url}/servers", headers=headers, timeout=10).status_code)
        statuses.append(call(two, RATE_KEY, "add", {"a": i, "b": 0}).status_code)
    assert statuses == [200] * 6
    on_one = requests.get(f"{one.url}/servers", headers=headers, timeout=10)
    on_two = call(two, RATE_KEY, "add", {"a": 1, "b": 0})
    for refused, instance in ((on_one, "/servers"), (on_two, "/servers/rich/tools/add")):
        retry = int(refused.headers["Retry-After"])
        assert refused.headers["RateLimit-Policy"] == '"caller";q=6;w=60'
        detail = f"this caller is past its limit of 6 in 60 seconds; retry in {retry} s"
        assert problem(refused) == limited(detail, "caller", retry, instance)


def test_a_server_slot_held_on_one_bridge_is_full_on_the_other(
    pair: tuple[BridgeProcess, BridgeProcess], redis_client: redis.Redis
) -> None:
    one, two = pair
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(call, one, SLOT_KEY, "slow", {"seconds": 3})
        poll(lambda: redis_client.zcard(SLOTS) == 1, 10, what="the slot held in Redis")
        refused = call(two, SLOT_KEY, "slow", {"seconds": 0})
        detail = "server 'rich' has 1 call in flight, its limit; retry when one has ended"
        assert problem(refused) == limited(detail, "server-concurrency", 1, "/servers/rich/tools/slow")
        assert holding.result().status_code == 200
    assert redis_client.zcard(SLOTS) == 0  # given back, not left to lapse
    assert call(two, SLOT_KEY, "slow", {"seconds": 0}).status_code == 200


def test_a_lease_never_given_back_lapses_after_its_time(redis_url: str, redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[str | None, str | None, str, float]:
        slots = RedisSlots.from_url(redis_url, "test:slots:", 1.0)
        try:
            first = await slots.take("lapsing", 1, 0.5)  # as a bridge that dies holding it
            second = await slots.take("lapsing", 1, 0.5)
            started = time.monotonic()
            third = await apoll(lambda: slots.take("lapsing", 1, 0.5), 5, what="the lapsed lease's slot")
            return first, second, third, time.monotonic() - started
        finally:
            await slots.close()

    first, second, third, waited = asyncio.run(scenario())
    assert first is not None
    assert second is None
    assert third != first
    assert 0.2 < waited < 2
    assert redis_client.pttl("test:slots:lapsing") <= 500  # the key goes with its last lease
