"""The call store's own interface (``bridge.calls.Calls``), in process over a real stdio upstream:
what the REST edge and the MCP tasks edge build on."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from bridge.calls import CallState, CallView
from bridge.config import ServerConfig
from bridge.errors import NotFound, NotWaitingForInput, RequestInvalid
from bridge.model import Principal
from bridge.runtime import Bridge
from tests.support import ROOT, in_process_bridge

ALICE = Principal("key:alice")
BOB = Principal("key:bob")


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    server = ServerConfig(
        name="calls",
        transport="stdio",
        command=sys.executable,
        args=("-m", "tests.servers.calls_server", "stdio"),
        cwd=str(ROOT),
    )
    with in_process_bridge([server]) as running:
        yield running


def test_watch_gives_every_state_it_sees_and_ends_with_the_last(bridge: Bridge) -> None:
    async def run() -> list[CallView]:
        view = await bridge.calls.start("calls", "slow", {"seconds": 0.2}, principal=ALICE)
        return [v async for v in bridge.calls.watch(view.id, ALICE)]

    seen = bridge.pool.run(run(), 30)
    assert seen[0].state is CallState.WORKING
    assert seen[-1].state is CallState.COMPLETED
    assert [v.version for v in seen] == sorted({v.version for v in seen})


def test_run_or_start_answers_the_result_or_the_view_of_a_call_that_asks(bridge: Bridge) -> None:
    async def run() -> tuple[object, object, CallView]:
        quick, _ = await bridge.calls.run_or_start("calls", "slow", {"seconds": 0}, principal=ALICE, wait=10)
        result, view = await bridge.calls.run_or_start("calls", "ask_both", {}, principal=ALICE, wait=10)
        assert view is not None
        asking = [v async for v in _until_both_asked(bridge, view.id)][-1]
        first = asking.questions["q1"]
        content = {"name": "Ada"} if first.params["message"] == "Name?" else {"age": 1}
        partly = await bridge.calls.answer(view.id, ALICE, {"q1": {"action": "accept", "content": content}})
        return quick, result, partly

    quick, result, partly = bridge.pool.run(run(), 30)
    assert isinstance(quick, dict)
    assert quick["structuredContent"] == {"result": "worked 0 s"}
    assert result is None
    assert partly.state is CallState.INPUT_REQUIRED  # one answered, one still pending
    assert list(partly.questions) == ["q2"]
    assert bridge.pool.run(bridge.calls.cancel(partly.id, ALICE), 30).state is CallState.CANCELLED


async def _until_both_asked(bridge: Bridge, call_id: str) -> AsyncIterator[CallView]:
    async for view in bridge.calls.watch(call_id, ALICE):
        yield view
        if len(view.questions) == 2:
            return


def test_another_callers_call_is_not_found_and_checks_come_before_anything_is_kept(bridge: Bridge) -> None:
    async def run() -> CallView:
        return await bridge.calls.start("calls", "slow", {"seconds": 0}, principal=ALICE)

    view = bridge.pool.run(run(), 30)
    with pytest.raises(NotFound):
        bridge.calls.get(view.id, BOB)
    assert bridge.calls.list(BOB) == []
    with pytest.raises(RequestInvalid):
        bridge.pool.run(bridge.calls.start("calls", "slow", {"seconds": "soon"}, principal=BOB), 30)
    assert bridge.calls.list(BOB) == []
    with pytest.raises(NotWaitingForInput):
        bridge.pool.run(bridge.calls.answer(view.id, ALICE, {"q1": {"action": "cancel"}}), 30)


def test_a_form_of_a_call_is_made_once_per_version_and_anew_when_it_changes(bridge: Bridge) -> None:
    """What a poll is answered with (``Calls.formed``): an unchanged call makes nothing anew."""
    made: list[int] = []

    def form(view: CallView, body: bytes) -> tuple[int, bytes]:
        made.append(view.version)
        return view.version, body

    async def run() -> tuple[list[tuple[int, bytes]], CallView]:
        view = await bridge.calls.start("calls", "slow", {"seconds": 0.2}, principal=ALICE)
        first = [bridge.calls.formed(view.id, ALICE, form) for _ in range(3)]
        ended = [v async for v in bridge.calls.watch(view.id, ALICE)][-1]
        return [*first, bridge.calls.formed(view.id, ALICE, form), bridge.calls.formed(view.id, ALICE, form)], ended

    formed, ended = bridge.pool.run(run(), 30)
    assert made == [1, ended.version]
    assert formed[0] is formed[1] is formed[2]
    assert formed[3] == (ended.version, bridge.calls.encoded(ended.id, ALICE)[1])
    with pytest.raises(NotFound):
        bridge.calls.formed(ended.id, BOB, form)
