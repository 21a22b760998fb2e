"""The MCP tasks extension (``io.modelcontextprotocol/tasks``, SEP-2663) on a forwarding server.

A 2026-07-28 client that declares the extension in a request's client capabilities may have
any tool call become a task: the backend starts it as a call of its call store, and the client
polls ``tasks/get``, answers the tool's questions with ``tasks/update`` and stops it with
``tasks/cancel``. The server decides (server-directed creation):

- a call that ends within ``IMMEDIATE`` seconds is answered as a plain result, as without
  tasks; any other call answers a ``CreateTaskResult`` naming its task;
- a tool the upstream declares task support ``required`` for gathers the questions it asks
  before its first result in multi-round-trip rounds (``InputRequiredResult``, whose
  ``requestState`` names the call), and becomes a task on the round that leaves it working
  (the composition SEP-2663 describes); a client that did not declare the extension is
  refused such a tool with -32021 and the capability it lacks;
- ``tasks/*`` from a client that did not declare the extension answer -32021; ``tasks/result``
  and ``tasks/list`` (removed in this version of the extension) are not served, so -32601.

``TaskWire`` renders a call's view as the extension's wire shapes; ``TaskHandlers`` serves the
methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from datetime import datetime
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import HEADER_MISMATCH
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from bridge.calls import TERMINAL, CallState, CallView
from bridge.errors import jsonrpc_error_from_problem
from bridge.mcpserver.backend import Caller, Tasks, TaskSupport
from bridge.mcpserver.handlers import as_ours
from bridge.mcpserver.sessions import Ctx, caller_of
from bridge.model import INPUT_REQUIRED, JSON, MISSING_CAPABILITY

__all__ = ["IMMEDIATE", "POLL_INTERVAL_MS", "TASKS", "TaskHandlers", "TaskIdParams", "TaskUpdateParams", "task_wire"]

#: The extension's identifier, under ``capabilities.extensions`` on both sides.
TASKS: Final = "io.modelcontextprotocol/tasks"
#: Seconds a call may take and still be answered as a plain result: a quick tool (a greeting, a
#: lookup) gains nothing from a task, and a busy machine still answers it well within this.
IMMEDIATE: Final = 0.5
#: How often a client is asked to poll ``tasks/get``: the latency of noticing a change, against
#: one cheap read (no upstream request) per poll.
POLL_INTERVAL_MS: Final = 500
_REQUIRED_CAPABILITY: Final[JSON] = {"requiredCapabilities": {"extensions": {TASKS: {}}}}


class TaskIdParams(types.RequestParams):
    """``tasks/get`` and ``tasks/cancel``: the task."""

    task_id: str = Field(alias="taskId")


class TaskUpdateParams(TaskIdParams):
    """``tasks/update``: answers to some of the task's pending input requests, keyed as they were asked."""

    input_responses: dict[str, Any] = Field(alias="inputResponses", default_factory=dict)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(view: CallView) -> str:
    """The task's status: a tool that ran and reported an error *completed* (its result says so)."""
    if view.state is CallState.FAILED and view.result is not None:
        return CallState.COMPLETED.value
    return view.state.value


def _envelope(view: CallView) -> JSON:
    """What every task shape carries: the flat ``Task`` of SEP-2663."""
    ttl = max(1, round((view.expires - view.created).total_seconds() * 1000))
    task: JSON = {
        "taskId": view.id,
        "status": _status(view),
        "createdAt": _stamp(view.created),
        "lastUpdatedAt": _stamp(view.updated),
        "ttlMs": ttl,
        "pollIntervalMs": POLL_INTERVAL_MS,
    }
    if view.progress is not None and view.progress.message:
        task["statusMessage"] = view.progress.message
    return task


def _error(view: CallView) -> JSON:
    problem = view.problem or {}
    return jsonrpc_error_from_problem(int(problem.get("status", 500)), problem)


def task_wire(view: CallView, *, detailed: bool) -> JSON:
    """``view`` as a ``CreateTaskResult`` (``detailed=False``) or a ``tasks/get`` ``DetailedTask``.

    Only the detailed shape inlines the result, the error, or the pending input requests.
    """
    if not detailed:
        return {"resultType": "task", **_envelope(view)}
    task: JSON = {"resultType": "complete", **_envelope(view)}
    status = task["status"]
    if status == CallState.COMPLETED.value and view.result is not None:
        task["result"] = as_ours(dict(view.result))
    elif status in (CallState.FAILED.value, CallState.CANCELLED.value) and view.problem is not None:
        task["error"] = _error(view)
    elif status == CallState.INPUT_REQUIRED.value and view.questions:
        task["inputRequests"] = _input_requests(view)
    return task


def _input_requests(view: CallView) -> JSON:
    return {qid: {"method": q.method, "params": q.params} for qid, q in view.questions.items()}


def _declares_tasks(ctx: Ctx) -> bool:
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and TASKS in (capabilities.extensions or {})


def _missing_extension(what: str) -> MCPError:
    return MCPError(
        MISSING_CAPABILITY,
        f"{what} needs the {TASKS} extension, which this request did not declare",
        _REQUIRED_CAPABILITY,
    )


PlainCall = Callable[[Ctx, types.CallToolRequestParams], Awaitable[types.CallToolResult | types.InputRequiredResult]]


class TaskHandlers:
    """The extension's methods, and ``tools/call`` for clients that declared it (others get ``plain``)."""

    def __init__(self, tasks: Tasks, plain: PlainCall) -> None:
        self.tasks = tasks
        self.plain = plain

    async def call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult | JSON:
        caller = caller_of(ctx)
        support: TaskSupport = self.tasks.task_support(params.name, caller)
        if not _declares_tasks(ctx):
            if support == "required":
                raise _missing_extension(f"tool {params.name!r}")
            return await self.plain(ctx, params)
        required = support == "required"
        if params.request_state is not None:  # a round of a task-required tool's questions, answered
            view = self.tasks.task(params.request_state, caller)
            answers = (ctx.params or {}).get("inputResponses")  # in wire shape, as the client sent them
            view = await self._answer(view, caller, answers if isinstance(answers, dict) else {})
        else:
            view = await self.tasks.start_task(params.name, params.arguments or {}, caller)
        view = await self._settle(view, caller)
        if view.state in TERMINAL and (view.result is not None or view.state is CallState.FAILED):
            if view.result is not None:
                return types.CallToolResult.model_validate(as_ours(dict(view.result)))
            error = _error(view)
            raise MCPError(error["code"], error["message"], error.get("data"))
        if required and view.state is CallState.INPUT_REQUIRED:
            return {"resultType": INPUT_REQUIRED, "inputRequests": _input_requests(view), "requestState": view.id}
        return task_wire(view, detailed=False)

    async def get(self, ctx: Ctx, params: TaskIdParams) -> JSON:
        self._admit(ctx, params.task_id)
        return task_wire(self.tasks.task(params.task_id, caller_of(ctx)), detailed=True)

    async def update(self, ctx: Ctx, params: TaskUpdateParams) -> JSON:
        self._admit(ctx, params.task_id)
        caller = caller_of(ctx)
        await self._answer(self.tasks.task(params.task_id, caller), caller, params.input_responses)
        return {"resultType": "complete"}

    async def cancel(self, ctx: Ctx, params: TaskIdParams) -> JSON:
        self._admit(ctx, params.task_id)
        await self.tasks.cancel_task(params.task_id, caller_of(ctx))
        return {"resultType": "complete"}

    @staticmethod
    def _admit(ctx: Ctx, task_id: str) -> None:
        """Refuse a client without the extension (-32021), and an ``Mcp-Name`` that is not the task (-32020)."""
        if not _declares_tasks(ctx):
            raise _missing_extension(ctx.method)
        headers = getattr(ctx.request, "headers", None)
        if headers is not None and headers.get("mcp-name", "").strip() != task_id:
            raise MCPError(HEADER_MISMATCH, "the Mcp-Name header does not match the request body's 'taskId'")

    async def _answer(self, view: CallView, caller: Caller, answers: Mapping[str, Any]) -> CallView:
        """Pass on the answers to questions still pending; others (answered, unknown) are ignored."""
        pending = {qid: answer for qid, answer in answers.items() if qid in view.questions}
        if not pending:
            return view
        return await self.tasks.answer_task(view.id, caller, pending)

    async def _settle(self, view: CallView, caller: Caller) -> CallView:
        """The call's view once it ends or asks something, or when ``IMMEDIATE`` seconds have passed."""
        latest = view
        with anyio.move_on_after(IMMEDIATE):
            async with aclosing(self.tasks.watch_task(view.id, caller)) as views:
                async for latest in views:
                    if latest.state is not CallState.WORKING:
                        break
        return latest
