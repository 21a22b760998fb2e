"""A call's view as the tasks extension's wire shapes (``task_wire``), state by state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge.calls import CallState, CallView, Progress, Question
from bridge.errors import ToolFailed, UpstreamError
from bridge.mcpserver.tasks import POLL_INTERVAL_MS, task_wire

CREATED = datetime(2026, 12, 6, 5, 0, 0, tzinfo=UTC)
WORKING = CallView(
    id="t1",
    subject="key:abc",
    server="s",
    tool="slow",
    state=CallState.WORKING,
    created=CREATED,
    updated=CREATED + timedelta(seconds=1),
    progress=Progress(1, 4, "a quarter done"),
    questions={},
    result=None,
    problem=None,
    expires=CREATED + timedelta(hours=1),
    version=2,
)
ENVELOPE = {
    "taskId": "t1",
    "createdAt": "2026-12-06T05:00:00.000Z",
    "lastUpdatedAt": "2026-12-06T05:00:01.000Z",
    "ttlMs": 3_600_000,
    "pollIntervalMs": POLL_INTERVAL_MS,
    "statusMessage": "a quarter done",
}
RESULT = {"content": [{"type": "text", "text": "done"}], "isError": False}


def test_a_working_call_is_created_as_a_flat_task_without_result_or_error() -> None:
    assert task_wire(WORKING, detailed=False) == {"resultType": "task", "status": "working", **ENVELOPE}
    assert task_wire(WORKING, detailed=True) == {"resultType": "complete", "status": "working", **ENVELOPE}


def test_a_completed_call_inlines_its_result_without_the_upstreams_server_info() -> None:
    stamped = {**RESULT, "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "upstream", "version": "1"}}}
    done = replace(WORKING, state=CallState.COMPLETED, result=stamped)
    assert task_wire(done, detailed=True) == {
        "resultType": "complete",
        "status": "completed",
        "result": RESULT,
        **ENVELOPE,
    }


def test_a_tool_that_reported_an_error_completed_and_says_so_in_its_result() -> None:
    failed = {"content": [{"type": "text", "text": "no"}], "isError": True}
    view = replace(WORKING, state=CallState.FAILED, result=failed, problem=ToolFailed("no", failed).to_problem())
    assert task_wire(view, detailed=True) == {
        "resultType": "complete",
        "status": "completed",
        "result": failed,
        **ENVELOPE,
    }


def test_a_failed_call_carries_the_json_rpc_error_the_sync_call_would_have_raised() -> None:
    problem = UpstreamError("the upstream broke", server="s").to_problem()
    view = replace(WORKING, state=CallState.FAILED, problem=problem)
    assert task_wire(view, detailed=True) == {
        "resultType": "complete",
        "status": "failed",
        "error": {"code": -32603, "message": "the upstream broke", "data": problem},
        **ENVELOPE,
    }


def test_a_call_waiting_for_input_lists_its_pending_questions_by_id() -> None:
    asked = {"mode": "form", "message": "Sure?", "requestedSchema": {"type": "object", "properties": {}}}
    view = replace(
        WORKING, state=CallState.INPUT_REQUIRED, questions={"q2": Question("q2", "elicitation/create", asked)}
    )
    assert task_wire(view, detailed=True) == {
        "resultType": "complete",
        "status": "input_required",
        "inputRequests": {"q2": {"method": "elicitation/create", "params": asked}},
        **ENVELOPE,
    }
    assert "inputRequests" not in task_wire(view, detailed=False)
