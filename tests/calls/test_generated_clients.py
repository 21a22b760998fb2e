"""The generated Python clients (sync and async) start an asynchronous call, read it, answer its
question, list and cancel calls, over a real bridge."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from harness import poll
from tests.calls.conftest import ALICE, BOB, calls_bridge
from tests.support import ROOT, BridgeProcess


@pytest.fixture(scope="module")
def client_package() -> Iterator[Any]:
    sys.path.insert(0, str(ROOT / "generated" / "python"))
    try:
        yield importlib.import_module("mcp_bridge_client")
    finally:
        sys.path.remove(str(ROOT / "generated" / "python"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with calls_bridge(tmp_path_factory.mktemp("client"), "modern") as bridge:
        yield bridge


def test_the_sync_client_starts_reads_answers_and_cancels_calls(client_package: Any, served: BridgeProcess) -> None:
    errors = client_package.errors
    with client_package.Client(served.url, api_key=ALICE) as client:
        call = client.start_call("ask", server="calls")
        assert call.state == "working"
        asking = poll(
            lambda: (c := client.api.get_call(call.id)).state == "input_required" and c, 20, what="a question"
        )
        [question] = asking.questions
        assert question.method == "elicitation/create"
        with pytest.raises(errors.InvalidRequest) as wrong:
            client.api.answer_call(call.id, {"answers": {question.id: {"action": "accept", "content": {"name": 1}}}})
        assert wrong.value.problem["errors"][0]["pointer"] == f"/body/answers/{question.id}/content/name"
        client.api.answer_call(call.id, {"answers": {question.id: {"action": "accept", "content": {"name": "Ada"}}}})
        done = poll(lambda: (c := client.api.get_call(call.id)).state == "completed" and c, 20, what="the end")
        assert done.result.content[0].text == "hello Ada"

        held = client.start_call("calls.hold", {"seconds": 60})
        assert client.api.cancel_call(held.id).state == "cancelled"
        assert [c.id for c in client.api.list_calls().calls][:2] == [held.id, call.id]
        with pytest.raises(errors.NotWaitingForInput):
            client.api.answer_call(held.id, {"answers": {"q1": {"action": "cancel"}}})
    with client_package.Client(served.url, api_key=BOB) as other, pytest.raises(errors.NotFound):
        other.api.get_call(call.id)


def test_the_async_client_starts_and_reads_a_call(client_package: Any, served: BridgeProcess) -> None:
    async def run() -> Any:
        async with client_package.AsyncClient(served.url, api_key=ALICE) as client:
            call = await client.start_call(server="calls", tool="slow", params={"seconds": 0})
            for _ in range(200):
                found = await client.api.get_call(call.id)
                if found.state == "completed":
                    return found
                await asyncio.sleep(0.05)
            raise AssertionError("the call did not complete")

    done = asyncio.run(run())
    assert done.result.structuredContent == {"result": "worked 0 s"}


def test_a_start_with_one_idempotency_key_is_one_call(client_package: Any, served: BridgeProcess) -> None:
    with client_package.Client(served.url, api_key=ALICE) as client:
        first = client.start_call("calls.slow", {"seconds": 0}, idempotency_key="start-once")
        again = client.start_call("calls.slow", {"seconds": 0}, idempotency_key="start-once")
        other = client.start_call("calls.slow", {"seconds": 0})
    assert again.id == first.id
    assert other.id != first.id
