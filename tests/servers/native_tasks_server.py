"""An upstream that runs tool calls as tasks of its own (the tasks extension, 2026-07-28), written
with the official SDK, to show that the gateway follows such a task instead of making its own.

A client that declares ``io.modelcontextprotocol/tasks`` on a ``tools/call`` of ``native_slow``
or ``native_confirm`` gets a ``CreateTaskResult`` and drives the task with ``tasks/get``,
``tasks/update`` and ``tasks/cancel``; any other client gets the tool's result at once (and
``native_confirm`` then confirms by itself). ``native_cancelled`` lists the tasks cancelled
with ``tasks/cancel``, so a test can see that a cancellation arrived. Run it as::

    python tests/servers/native_tasks_server.py --port P    (Streamable HTTP at /mcp)
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from pydantic import Field

TASKS = "io.modelcontextprotocol/tasks"
_CONFIRM = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": False}


class TaskIdParams(types.RequestParams):
    task_id: str = Field(alias="taskId")


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(alias="inputResponses", default_factory=dict)


class NativeTask:
    """One task of this server's: its state, and the questions it waits on."""

    def __init__(self, label: str) -> None:
        self.id = secrets.token_hex(8)
        self.label = label
        self.status = "working"
        self.created = self.updated = _now()
        self.result: dict[str, Any] | None = None
        self.asked: dict[str, dict[str, Any]] = {}
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.runner: asyncio.Task[None] | None = None

    def wire(self) -> dict[str, Any]:
        task = {
            "taskId": self.id,
            "status": self.status,
            "createdAt": self.created,
            "lastUpdatedAt": self.updated,
            "ttlMs": 600_000,
            "pollIntervalMs": 100,
        }
        if self.status == "completed":
            task["result"] = self.result
        if self.status == "input_required":
            task["inputRequests"] = dict(self.asked)
        return task

    def move(self, status: str) -> None:
        self.status, self.updated = status, _now()

    async def ask(self, qid: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.asked[qid] = {"method": method, "params": params}
        self.waiting[qid] = asyncio.get_running_loop().create_future()
        self.move("input_required")
        return await self.waiting[qid]


Body = Callable[[NativeTask, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _slow(task: NativeTask, arguments: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(float(arguments.get("seconds", 0)))
    return _text(f"natively computed {task.label}")


async def _confirm(task: NativeTask, arguments: dict[str, Any]) -> dict[str, Any]:
    message = f"Delete {arguments.get('filename')}?"
    answer = await task.ask(
        "c1", "elicitation/create", {"mode": "form", "message": message, "requestedSchema": _CONFIRM}
    )
    confirmed = answer.get("action") == "accept" and (answer.get("content") or {}).get("confirm") is True
    return _text(f"natively {'deleted' if confirmed else 'kept'} {arguments.get('filename')}")


BODIES: dict[str, Body] = {"native_slow": _slow, "native_confirm": _confirm}


class NativeTasks(Extension):
    """The tasks extension, served by this server for its own tools."""

    identifier = TASKS

    def __init__(self) -> None:
        self.tasks: dict[str, NativeTask] = {}
        self.cancelled: list[str] = []

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskIdParams, self.get),
            MethodBinding("tasks/update", UpdateParams, self.update),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel),
        ]

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        body = BODIES.get(params.name)
        capabilities = ctx.session.client_capabilities
        if body is None or capabilities is None or TASKS not in (capabilities.extensions or {}):
            return await call_next(ctx)
        arguments = params.arguments or {}
        task = NativeTask(str(arguments.get("label", arguments.get("filename", ""))))
        self.tasks[task.id] = task
        task.runner = asyncio.get_running_loop().create_task(self._run(task, body, arguments))
        return {"resultType": "task", **task.wire()}

    async def _run(self, task: NativeTask, body: Body, arguments: dict[str, Any]) -> None:
        task.result = await body(task, arguments)
        task.move("completed")

    def _task(self, task_id: str) -> NativeTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise MCPError(types.INVALID_PARAMS, f"no task {task_id!r}")
        return task

    async def get(self, _ctx: Any, params: TaskIdParams) -> dict[str, Any]:
        return {"resultType": "complete", **self._task(params.task_id).wire()}

    async def update(self, _ctx: Any, params: UpdateParams) -> dict[str, Any]:
        task = self._task(params.task_id)
        for qid, answer in params.input_responses.items():
            waiting = task.waiting.pop(qid, None)
            task.asked.pop(qid, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(answer)
        if task.status == "input_required" and not task.asked:
            task.move("working")
        return {"resultType": "complete"}

    async def cancel(self, _ctx: Any, params: TaskIdParams) -> dict[str, Any]:
        task = self._task(params.task_id)
        if task.runner is not None and not task.runner.done():
            task.runner.cancel()
            task.move("cancelled")
            self.cancelled.append(task.label)
        return {"resultType": "complete"}


def build() -> MCPServer:
    tasks = NativeTasks()
    server = MCPServer("native", version="1.0.0", log_level="WARNING", extensions=[tasks])

    @server.tool(description="Sleep `seconds`, then answer; a task of this server's own.", structured_output=False)
    async def native_slow(seconds: float, label: str = "") -> list[types.ContentBlock]:
        await asyncio.sleep(seconds)
        return [types.TextContent(type="text", text=f"natively computed {label}")]

    @server.tool(description="Ask before deleting a file; a task of this server's own.", structured_output=False)
    def native_confirm(filename: str) -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text=f"natively deleted {filename}")]

    @server.tool(description="The labels of the tasks cancelled with tasks/cancel.")
    def native_cancelled() -> list[str]:
        return tasks.cancelled

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build().streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
