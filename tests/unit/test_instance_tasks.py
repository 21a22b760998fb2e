"""``bridge.instances.instance.ended``: an instance's tasks end when it closes, whatever their cleanup does."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bridge.instances import instance


async def _stuck_in_cleanup() -> None:
    try:
        await asyncio.Event().wait()
    finally:  # a cleanup that waits for good, as a Redis connection's close once did
        await asyncio.Event().wait()


async def _failing(exc: BaseException) -> None:
    await asyncio.sleep(0)
    raise exc


def test_a_task_stuck_in_its_cleanup_is_named_and_cancelled_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(instance, "CLOSE_TIMEOUT", 0.2)

    async def scenario() -> asyncio.Task[None]:
        stuck = asyncio.create_task(_stuck_in_cleanup(), name="stuck-reader")
        quick = asyncio.create_task(asyncio.Event().wait(), name="quick")
        await asyncio.sleep(0)
        await asyncio.wait_for(instance.ended([stuck, quick]), 5)
        assert quick.cancelled()
        return stuck

    with caplog.at_level(logging.WARNING, logger="bridge.instances.instance"):
        stuck = asyncio.run(scenario())
    assert stuck.cancelled()
    [record] = caplog.records
    assert "stuck-reader still runs 0.2 s after its cancel" in record.getMessage()
    assert "test_instance_tasks.py:18 > " in record.getMessage()  # where it waited: the cleanup's await


def test_a_redis_error_a_task_ended_with_is_left_unsaid_and_any_other_raised() -> None:
    async def scenario(exc: BaseException) -> None:
        task = asyncio.create_task(_failing(exc))
        await asyncio.sleep(0.01)  # it has failed before it is cancelled
        await instance.ended([task])

    asyncio.run(scenario(RedisConnectionError("gone")))
    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(scenario(ValueError("a bug")))
