"""An upstream that runs a tool call as a task of its own (the tasks extension) is followed as such.

The bridge's client to a 2026-07-28 upstream declares ``io.modelcontextprotocol/tasks``; when the
upstream answers a ``tools/call`` with a ``CreateTaskResult``, ``UpstreamTasks`` (a claim on
that result shape, which the SDK's client hands to it) follows the task to its end instead of
holding a request open: it polls ``tasks/get`` at the interval the upstream asks for, passes the
task's input requests to the caller of the call (the same ``BackChannel`` a mid-call question
takes) and sends the answers with ``tasks/update``, and when the call is cancelled it sends
``tasks/cancel``. What the caller gets is the tool's result (or the task's error), as if the
call had been answered at once; a caller that runs the call as a task of the gateway's sees the
questions and the cancellation through its own task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Final, Literal

import anyio
import mcp_types as types
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR

from bridge.model import JSON
from bridge.upstream.relaying import BackChannel

__all__ = ["TASKS", "UpstreamTasks"]

log = logging.getLogger(__name__)

TASKS: Final = "io.modelcontextprotocol/tasks"
#: Seconds between polls when the upstream names no interval; bounds for the one it names, so a
#: careless upstream neither floods nor stalls a call.
DEFAULT_POLL: Final = 0.5
MIN_POLL: Final = 0.05
MAX_POLL: Final = 5.0
#: Seconds a ``tasks/cancel`` may take while the call that sends it is being cancelled.
CANCEL_TIMEOUT: Final = 5.0


class CreatedTask(types.Result):
    """An upstream's ``CreateTaskResult``: what this follower needs of it."""

    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class DetailedTask(types.Result):
    """An upstream's ``tasks/get`` answer: its status and, by status, the result, error or input requests."""

    result_type: str | None = None
    status: str
    result: JSON | None = None
    error: JSON | None = None
    input_requests: JSON | None = None


class Ack(types.Result):
    """``tasks/update`` and ``tasks/cancel`` answer nothing but that they were taken."""

    result_type: str | None = None


class TaskParams(types.RequestParams):
    task_id: str


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any]


class _TaskRequest(types.Request[TaskParams, Any]):
    name_param: ClassVar[str | None] = "taskId"  # tasks/* carry the task id as Mcp-Name
    params: TaskParams


class GetTask(_TaskRequest):
    method: Literal["tasks/get"] = "tasks/get"


class CancelTask(_TaskRequest):
    method: Literal["tasks/cancel"] = "tasks/cancel"


class UpdateTask(types.Request[TaskUpdateParams, Any]):
    name_param: ClassVar[str | None] = "taskId"
    method: Literal["tasks/update"] = "tasks/update"
    params: TaskUpdateParams


class UpstreamTasks(ClientExtension):
    """The tasks extension on the bridge's side of one upstream session."""

    identifier = TASKS

    def __init__(self, back: BackChannel) -> None:
        self._back = back

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.follow)]

    async def follow(self, created: CreatedTask, context: ClaimContext) -> types.CallToolResult:
        """The task's outcome: its result, or its error raised; cancelled upstream if this is cancelled."""
        session = context.session
        interval = DEFAULT_POLL if created.poll_interval_ms is None else created.poll_interval_ms / 1000
        interval = min(MAX_POLL, max(MIN_POLL, interval))
        answered: set[str] = set()
        try:
            while True:
                task = await session.send_request(GetTask(params=TaskParams(task_id=created.task_id)), DetailedTask)
                status = task.status
                if status == "completed":
                    return types.CallToolResult.model_validate(task.result or {})
                if status in ("failed", "cancelled"):
                    error = task.error or {}
                    code = error["code"] if isinstance(error.get("code"), int) else INTERNAL_ERROR
                    raise MCPError(code, str(error.get("message") or f"the upstream task {status}"), error.get("data"))
                asked = {k: v for k, v in (task.input_requests or {}).items() if k not in answered}
                if status == "input_required" and asked:
                    answers = await self._ask(asked)
                    answered.update(answers)
                    update = UpdateTask(params=TaskUpdateParams(task_id=created.task_id, input_responses=answers))
                    await session.send_request(update, Ack)
                    continue
                await anyio.sleep(interval)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_TIMEOUT):
                await _cancel(session, created.task_id)
            raise

    async def _ask(self, asked: JSON) -> JSON:
        """The caller's answers to the task's input requests, asked at once; an error refuses the call."""
        ids = list(asked)
        replies = await asyncio.gather(
            *(self._back.ask(str(asked[i].get("method")), asked[i].get("params") or {}) for i in ids)
        )
        answers: JSON = {}
        for qid, reply in zip(ids, replies, strict=True):
            if isinstance(reply, types.ErrorData):
                raise MCPError(reply.code, reply.message, reply.data)
            answers[qid] = reply
        return answers


async def _cancel(session: ClientSession, task_id: str) -> None:
    try:
        await session.send_request(CancelTask(params=TaskParams(task_id=task_id)), Ack)
    except Exception:  # the upstream may be gone; the caller's call is cancelled either way
        log.debug("could not cancel upstream task %s", task_id, exc_info=True)
