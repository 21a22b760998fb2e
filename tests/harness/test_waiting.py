"""Bounded waits return as soon as their condition holds, and fail, naming it, once the bound is spent."""

import asyncio
import itertools
import time

import pytest

from harness import TimedOut, apoll, poll


def test_poll_returns_the_first_truthy_answer() -> None:
    answers = iter([0, [], None, "here", "later"])
    assert poll(lambda: next(answers), timeout=5, interval=0.001) == "here"


def test_poll_asks_once_more_after_the_bound_then_fails_naming_what_it_waited_for() -> None:
    asked = itertools.count(1)
    began = time.monotonic()
    with pytest.raises(TimedOut, match=r"^the answer not met within 0.2 s$"):
        poll(lambda: next(asked) and False, timeout=0.2, interval=0.05, what="the answer")
    assert 0.2 <= time.monotonic() - began < 5
    assert next(asked) >= 4  # asked all along the window, and at its end


def test_apoll_awaits_a_coroutine_condition_while_the_loop_runs_what_it_waits_for() -> None:
    async def main() -> str:
        seen: list[str] = []

        async def arrive() -> None:
            await asyncio.sleep(0)
            seen.append("arrived")

        async def condition() -> list[str]:
            return seen

        task = asyncio.create_task(arrive())
        found = await apoll(condition, timeout=5, interval=0.001)
        await task
        return found[0]

    assert asyncio.run(main()) == "arrived"


def test_apoll_fails_naming_what_it_waited_for() -> None:
    with pytest.raises(TimedOut, match=r"^nothing not met within 0.1 s$"):
        asyncio.run(apoll(lambda: False, timeout=0.1, what="nothing"))
