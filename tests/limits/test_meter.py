"""The limits as the gate and the gateway ask them, in this process: windows, slots, Redis gone."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

import pytest

from bridge.config import Limit, LimitSettings, parse_rate
from bridge.errors import RateLimited
from bridge.limits import Limits, Meter, windows
from bridge.limits.memory import SweptMemoryStorage
from bridge.limits.rates import EXACT_QUOTA
from bridge.model import Principal
from harness import accepting, free_port, poll, started
from tests.support import START_TIMEOUT

CALLER = Principal("key:tester")


def test_a_burst_larger_than_its_windows_rate_is_let_through_whole_then_the_rate_holds() -> None:
    # 10/second with a burst of 25: 25 in any 2 s (cut from 2.5) and 30 in any 3 s.
    rate = Limits.create(LimitSettings(caller=Limit(parse_rate("10/second", 25), None))).caller
    assert rate is not None
    for _ in range(25):
        rate.charge(CALLER)
    with pytest.raises(RateLimited) as refused:
        rate.charge(CALLER)
    assert refused.value.policy == "caller-burst"
    assert refused.value.headers()["RateLimit-Policy"] == '"caller-burst";q=25;w=2'
    assert 1 <= refused.value.retry_after <= 2


def test_a_window_past_the_exact_quota_is_kept_as_counters_and_still_refuses_past_it() -> None:
    rate = Limits.create(LimitSettings(caller=Limit(parse_rate(f"{EXACT_QUOTA + 500}/minute"), None))).caller
    assert rate is not None
    assert not rate.windows[0].exact
    for _ in range(EXACT_QUOTA + 500):
        rate.charge(CALLER)
    with pytest.raises(RateLimited) as refused:
        rate.charge(CALLER)
    assert refused.value.headers()["RateLimit-Policy"] == f'"caller";q={EXACT_QUOTA + 500};w=60'
    assert 1 <= refused.value.retry_after <= 60


def test_in_memory_checks_start_no_thread_and_one_sweeper_drops_what_expired() -> None:
    storage = SweptMemoryStorage(every=0.05)
    try:
        meter = Meter(storage)
        policy = windows("caller", parse_rate("100/second"))
        threads = {t.ident for t in threading.enumerate()}
        for i in range(500):
            meter.hit(policy, f"caller-{i % 50}", "this caller")
        assert {t.ident for t in threading.enumerate()} == threads  # the library's timer would start some
        assert len(storage.events) == 50
        poll(lambda: not any(storage.events.values()), 5, what="the expired windows swept")
    finally:
        storage.close()


def test_a_refused_request_leaves_the_window_as_it_was() -> None:
    rate = Limits.create(LimitSettings(caller=Limit(parse_rate("2/minute"), None))).caller
    assert rate is not None
    rate.charge(CALLER)
    rate.charge(CALLER)
    for _ in range(3):
        with pytest.raises(RateLimited):
            rate.charge(CALLER)
    rate.charge(Principal("key:someone-else"))  # another caller has a window of its own


def test_slots_are_taken_in_order_and_all_given_back_when_a_later_one_is_full() -> None:
    settings = LimitSettings(caller=Limit(None, 2), servers={"rich": Limit(None, 1)})
    upstream = Limits.create(settings).upstream
    assert upstream is not None

    async def scenario() -> list[str]:
        held = await upstream.acquire(CALLER, "rich", "echo", 60)
        assert held is not None
        with pytest.raises(RateLimited) as refused:  # the caller has a slot left, the server none
            await upstream.acquire(CALLER, "rich", "echo", 60)
        await held.release()
        await held.release()  # twice is once
        again = await upstream.acquire(CALLER, "rich", "echo", 60)
        assert again is not None
        await again.release()
        return [refused.value.policy]

    assert asyncio.run(scenario()) == ["server-concurrency"]
    assert upstream.slots.taken("caller:key:tester") == 0  # type: ignore[attr-defined]


def test_with_redis_gone_requests_go_through_and_the_failure_is_logged_without_its_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = shutil.which("redis-server")
    assert server is not None
    port = free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    url = f"redis://127.0.0.1:{port}/0"
    settings = LimitSettings(caller=Limit(parse_rate("1/minute"), 1), servers={"rich": Limit(None, 1)})
    with started("redis", argv, log=tmp_path / "redis.log") as redis_server:
        redis_server.wait_until(lambda: accepting(port), START_TIMEOUT, "accepting")
        limits = Limits.create(settings, url)
        assert limits.caller is not None
        assert limits.upstream is not None
        limits.caller.charge(CALLER)
        with pytest.raises(RateLimited):
            limits.caller.charge(CALLER)
    # Redis stopped: the rate and the slots let requests through, and say so in the log.
    with caplog.at_level(logging.WARNING, logger="bridge.limits"):
        limits.caller.charge(CALLER)
        upstream = limits.upstream

        async def on_the_loop() -> None:
            await limits.caller.acharge(CALLER)  # type: ignore[union-attr]
            lease = await upstream.acquire(CALLER, "rich", None, 1)
            assert lease is not None
            await lease.release()
            await limits.close()

        asyncio.run(on_the_loop())
    messages = [r.getMessage() for r in caplog.records]
    assert "rate-limit storage unavailable, request let through: ConnectionError" in messages
    assert "call slots unavailable, call let through: ConnectionError" in messages
    assert not any(str(port) in m for m in messages)
