"""Held calls on their own: rounds, tokens, who may resume, and when a call is let go."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from bridge.mcpserver.backend import Caller
from bridge.mcpserver.holding import HELD, Held, HeldCalls

ADA = Caller({"principal": "ada"})
EVE = Caller({"principal": "eve"})
UNKNOWN = "requestState names no call held for this client"


async def _asks_twice(held: list[Held[None]]) -> dict[str, Any]:
    first = await held[0].ask("elicitation/create", {"message": "name?"})
    second = await held[0].ask("sampling/createMessage", {"maxTokens": 1})
    return {"content": [first, second]}


async def _forever() -> dict[str, Any]:
    await asyncio.Event().wait()
    return {}


def _started(calls: HeldCalls[None], caller: Caller = ADA) -> Held[None]:
    box: list[Held[None]] = []
    held = calls.start(caller, None, _asks_twice(box))
    box.append(held)
    return held


def test_each_question_is_a_round_and_the_answers_finish_the_call() -> None:
    async def scenario() -> list[Any]:
        calls: HeldCalls[None] = HeldCalls()
        held = _started(calls)
        round1 = await calls.outcome(held)
        token1 = round1["requestState"]
        again = await calls.outcome(calls.resume(token1, ADA, {"other": {}}))  # not the answer: asked again
        token2 = again["requestState"]
        round2 = await calls.outcome(calls.resume(token2, ADA, {"question-1": {"action": "accept"}}))
        done = await calls.outcome(calls.resume(round2["requestState"], ADA, {"question-2": {"text": "hi"}}))
        return [round1, again["inputRequests"] == round1["inputRequests"], token1 != token2, round2, done]

    round1, same, fresh, round2, done = asyncio.run(scenario())
    assert round1["resultType"] == "input_required"
    assert round1["inputRequests"] == {"question-1": {"method": "elicitation/create", "params": {"message": "name?"}}}
    assert round1["requestState"].startswith(HELD)
    assert same
    assert fresh
    assert round2["inputRequests"] == {"question-2": {"method": "sampling/createMessage", "params": {"maxTokens": 1}}}
    assert done == {"content": [{"action": "accept"}, {"text": "hi"}]}


def test_a_token_is_for_its_own_caller_once() -> None:
    async def scenario() -> None:
        calls: HeldCalls[None] = HeldCalls()
        token = (await calls.outcome(_started(calls)))["requestState"]
        for caller, state in ((EVE, token), (ADA, token + "x"), (ADA, HELD + "made-up")):
            with pytest.raises(MCPError) as refused:
                calls.resume(state, caller, {})
            assert (refused.value.error.code, refused.value.error.message) == (-32602, UNKNOWN)
        held = calls.resume(token, ADA, {"question-1": {}})  # Eve's attempt left it held for Ada
        with pytest.raises(MCPError):
            calls.resume(token, ADA, {"question-1": {}})  # spent
        held.task.cancel()

    asyncio.run(scenario())


def test_a_call_nobody_resumes_is_cancelled_and_so_is_the_longest_held_beyond_the_cap() -> None:
    async def scenario() -> list[bool]:
        calls: HeldCalls[None] = HeldCalls(hold_seconds=0.05, max_held=2)
        expiring = _started(calls)
        await calls.outcome(expiring)
        await asyncio.sleep(0.2)
        calls_capped: HeldCalls[None] = HeldCalls(max_held=2)
        held = [_started(calls_capped) for _ in range(3)]
        for each in held:
            await calls_capped.outcome(each)
        await asyncio.sleep(0)
        cancelled = [expiring.task.cancelled(), *(each.task.cancelled() for each in held)]
        for each in held:
            each.task.cancel()
        return cancelled

    assert asyncio.run(scenario()) == [True, True, False, False]


def test_a_client_that_gives_up_or_cannot_answer_ends_the_call() -> None:
    async def scenario() -> list[Any]:
        calls: HeldCalls[None] = HeldCalls()
        waiting = calls.start(ADA, None, _forever())  # the client gives up before anything is asked
        waiter = asyncio.ensure_future(calls.outcome(waiting))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.sleep(0)
        refused = _started(calls)
        refused.refuse(MCPError(-32021, "needs sampling"))
        with pytest.raises(MCPError) as ended:
            await calls.outcome(refused)
        await asyncio.sleep(0)
        return [waiting.task.cancelled(), ended.value.error.code, refused.task.cancelled()]

    assert asyncio.run(scenario()) == [True, -32021, True]
