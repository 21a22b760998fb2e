"""The session's requests on the lean channel: which may take it, and how each ends as on the SDK's path.

A tool call, a resource read and a prompt take the connection's lean channel
(``bridge/upstream/lean_calls.py``) instead of the SDK's session when nothing the SDK would add
to them is wanted: no answers or state of an input-required round to pass on (progress is handed
over by the channel, as the SDK's dispatcher hands it), no identity told per call
(``identity``), no task the tool may make of it, no trace exported. The first round of a request
whose input-required rounds pass through to the caller goes lean too.

The result ends as on the SDK's path: a plain one is taken as it is
(``bridge/upstream/plain_results.py``; a tool's is checked here against its output schema), any
other is read by the SDK and ended as ``UpstreamSession`` ends it on that path: its input-
required rounds passed to the caller as they are, or driven by the SDK client's own round driver
asking through the back channel, and a task the upstream made of a call followed to its end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import HEADER_MISMATCH
from opentelemetry.trace import get_current_span

from bridge.model import JSON, Principal, task_support_of
from bridge.upstream.catalog import CatalogKeeper
from bridge.upstream.lean_calls import LeanChannel
from bridge.upstream.link import Link
from bridge.upstream.plain_results import plain_prompt_result, plain_resource_result, plain_tool_result, sdk_result
from bridge.upstream.tasks import CreatedTask, UpstreamTasks
from bridge.upstream.translate import to_json

__all__ = ["LeanPath"]

Retry = Callable[[types.InputResponses | None, str | None], Awaitable[Any]]


class LeanPath:
    """One upstream session's requests on its connection's lean channel."""

    def __init__(self, link: Link, keeper: CatalogKeeper, tasks: UpstreamTasks, *, identifies: bool) -> None:
        self._link = link
        self._keeper = keeper
        self._tasks = tasks
        self._identifies = identifies

    def channel(self, plain: bool, caller: Principal | None, tool: str | None = None) -> LeanChannel | None:
        """The lean channel, when a request loses nothing on it that the SDK's session would give it.

        ``plain``: no answers or state of an input-required round to pass on, and not a detached
        call (``Relay.detached``: its upstream may make a task of it, which the SDK's session follows);
        ``tool``: the tool a call is of, which must be listed and not run as a task.
        """
        lean = self._link.lean
        if lean is None or not plain or (caller is not None and self._identifies):
            return None
        if tool is not None:
            listed = self._keeper.catalog.tools.get(tool)
            if listed is None or task_support_of(listed) in ("optional", "required"):
                return None
        if get_current_span().is_recording():  # the SDK's client span carries the trace upstream
            return None
        return lean

    async def call_tool(
        self,
        client: Client,
        lean: LeanChannel,
        name: str,
        arguments: Mapping[str, Any],
        meta: Any,
        passing: bool,
        progress: ProgressFnT | None = None,
    ) -> JSON:
        """``passing``: an input-required result goes to the caller as it is (as on the SDK's path);
        ``progress`` hears the call's progress, as the SDK's ``progress_callback``."""
        # Sent as they are (the stamp and the wire copy what they change): a dict is not copied again.
        params: dict[str, Any] = {"name": name, "arguments": arguments if type(arguments) is dict else dict(arguments)}
        if meta is not None:
            params["_meta"] = meta if type(meta) is dict else dict(meta)
        try:
            raw = await lean.request("tools/call", params, progress)
        except MCPError as exc:
            if exc.code != HEADER_MISMATCH or not self._link.modern or passing:
                raise
            # The SDK's client lists the tool again and resends (its session alone, as when passing, does not).
            return to_json(await client.call_tool(name, dict(arguments), progress_callback=progress, meta=meta))
        plain = plain_tool_result(raw, modern=self._link.modern)
        if plain is not None and (plain["isError"] or self._keeper.outputs.check_plain(name, plain)):
            return plain
        return to_json(await self._finish(client, name, arguments, meta, raw, passing))

    async def _finish(
        self, client: Client, name: str, arguments: Mapping[str, Any], meta: Any, raw: dict[str, Any], passing: bool
    ) -> types.Result:
        """A lean call's result that is not plain, ended as the SDK's path ends it: when ``passing``,
        as ``ClientSession.call_tool`` with its rounds passed through, else as ``Client.call_tool``,
        which drives the rounds itself."""
        session = client.session
        first = sdk_result(client, "tools/call", raw)
        if isinstance(first, types.CallToolResult):
            if not first.is_error:
                await session.validate_tool_result(name, first)
            return first
        context = ClaimContext(session=session, tool_name=name, read_timeout_seconds=None)
        if passing:
            return await self._tasks.follow(first, context) if isinstance(first, CreatedTask) else first

        async def retry(answers: types.InputResponses | None, state: str | None) -> Any:
            return await session.call_tool(
                name,
                dict(arguments),
                meta=meta,
                input_responses=answers,
                request_state=state,
                allow_input_required=True,
                allow_claimed=True,
            )

        # The SDK client's own round driver, asking through the back channel as its call_tool does.
        result = await client._drive_input_required(first, retry)
        if isinstance(result, types.CallToolResult):
            return result
        if not isinstance(result, CreatedTask):
            raise RuntimeError(f"tools/call answered an unclaimed result: {type(result).__name__}")
        final = await self._tasks.follow(result, context)
        if not final.is_error:
            await session.validate_tool_result(name, final)
        return final

    async def read_resource(self, client: Client, lean: LeanChannel, uri: str, meta: Any, passing: bool) -> JSON:
        session = client.session

        async def retry(answers: types.InputResponses | None, state: str | None) -> Any:
            return await session.read_resource(
                uri, input_responses=answers, request_state=state, meta=meta, allow_input_required=True
            )

        return await self._fetch(client, lean, "resources/read", {"uri": uri}, meta, passing, retry)

    async def get_prompt(
        self, client: Client, lean: LeanChannel, name: str, arguments: Mapping[str, str], meta: Any, passing: bool
    ) -> JSON:
        session = client.session

        async def retry(answers: types.InputResponses | None, state: str | None) -> Any:
            return await session.get_prompt(
                name,
                dict(arguments),
                input_responses=answers,
                request_state=state,
                meta=meta,
                allow_input_required=True,
            )

        params: dict[str, Any] = {"name": name, "arguments": dict(arguments)}
        return await self._fetch(client, lean, "prompts/get", params, meta, passing, retry)

    async def _fetch(
        self,
        client: Client,
        lean: LeanChannel,
        method: str,
        params: dict[str, Any],
        meta: Any,
        passing: bool,
        retry: Retry,
    ) -> JSON:
        """A read or a prompt: a plain result as it is, any other read by the SDK and, for a caller
        that does not take rounds, driven through them as ``Client`` does."""
        if meta is not None:
            params["_meta"] = dict(meta)
        raw = await lean.request(method, params)
        modern = self._link.modern
        read = plain_resource_result if method == "resources/read" else plain_prompt_result
        plain = read(raw, modern=modern)
        if plain is not None:
            return plain
        first = sdk_result(client, method, raw)
        if passing or not isinstance(first, types.InputRequiredResult):
            return to_json(first)
        return to_json(await client._drive_input_required(first, retry))
