"""The conformance fixture's 2026-07-28 input-required tools and prompt, as the suite names them.

Each answers the first call with an ``InputRequiredResult`` under the exact keys its scenario
expects (``user_name``, ``capital_question``, ``client_roots``, ...) and completes once the
retry carries the answers. What a round must remember between calls rides in ``requestState``,
signed with a key made when the process starts, so a state the client altered is refused
(-32602) rather than trusted. The test tools of the suite's ``server-stateless`` scenario
(``test_missing_capability``, ``test_streaming_elicitation``, ``test_logging_tool``) are here
too: they ask or log through the SDK's own machinery, which speaks both protocol eras.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Annotated, Any

import mcp_types as types
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve, Sample, UserMessage
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

__all__ = ["add_rounds"]

#: Signs ``requestState``; a fresh key per process, as nothing outlives the fixture.
_KEY = secrets.token_bytes(32)

Done = list[types.ContentBlock] | types.InputRequiredResult


def _sign(state: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()
    mac = hmac.new(_KEY, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _verify(token: str | None) -> dict[str, Any] | None:
    """The state the fixture signed, ``None`` on a first round; -32602 when it was altered."""
    if token is None:
        return None
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(mac, hmac.new(_KEY, body.encode(), hashlib.sha256).hexdigest()):
        raise MCPError(code=INVALID_PARAMS, message="requestState failed its integrity check")
    state: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    return state


def _form(message: str, field: str, kind: str = "string") -> types.ElicitRequest:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=schema))


def _sampling(text: str, max_tokens: int) -> types.CreateMessageRequest:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=text))
    return types.CreateMessageRequest(
        params=types.CreateMessageRequestParams(messages=[message], max_tokens=max_tokens)
    )


def _roots() -> types.ListRootsRequest:
    return types.ListRootsRequest(params=None)


def _ask(requests: dict[str, Any], state: dict[str, Any] | None = None) -> types.InputRequiredResult:
    return types.InputRequiredResult(input_requests=requests, request_state=_sign(state) if state else None)


async def _asked_now(ctx: Context, request: Any) -> Any:
    """One question asked the 2025-11-25 way: a request of the server's own, mid-call."""
    session = ctx.session
    if isinstance(request, types.ElicitRequest):
        params = request.params
        assert isinstance(params, types.ElicitRequestFormParams)
        return await session.elicit_form(params.message, params.requested_schema, ctx.request_id)
    if isinstance(request, types.CreateMessageRequest):
        sampled = request.params
        return await session.create_message(
            sampled.messages, max_tokens=sampled.max_tokens, related_request_id=ctx.request_id
        )
    return await session.list_roots()


async def _gather(
    ctx: Context, asked: dict[str, Any], state: dict[str, Any] | None = None
) -> dict[str, Any] | types.InputRequiredResult:
    """The answers to ``asked``, by key: from the retry at 2026-07-28 (else a round asking for
    them, under ``state``), or asked one by one mid-call before it."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        given = ctx.input_responses or {}
        # Where a round has state, its answers count only beside the state it handed out.
        if all(key in given for key in asked) and (state is None or ctx.request_state is not None):
            return {key: given[key] for key in asked}
        return _ask(asked, state)
    return {key: await _asked_now(ctx, request) for key, request in asked.items()}


def _accepted(answer: Any, field: str) -> Any:
    if not isinstance(answer, types.ElicitResult) or answer.action != "accept" or not answer.content:
        raise MCPError(code=INVALID_PARAMS, message=f"expected an accepted elicitation carrying {field!r}")
    return answer.content.get(field)


def _said(answer: Any) -> str:
    content = getattr(answer, "content", None)
    return content.text if isinstance(content, types.TextContent) else json.dumps(str(content))


def _text(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


class Confirmation(BaseModel):
    ok: bool


def add_rounds(server: MCPServer) -> None:
    """Register the input-required tools and prompt, and the stateless scenario's test tools, on ``server``."""

    @server.tool(description="Ask the client's user for a name, then greet them.", structured_output=False)
    async def test_input_required_result_elicitation(ctx: Context) -> Done:
        got = await _gather(ctx, {"user_name": _form("What is your name?", "name")})
        if isinstance(got, types.InputRequiredResult):
            return got
        return _text(f"Hello, {_accepted(got['user_name'], 'name')}!")

    @server.tool(description="Ask the client's LLM for the capital of France.", structured_output=False)
    async def test_input_required_result_sampling(ctx: Context) -> Done:
        got = await _gather(ctx, {"capital_question": _sampling("What is the capital of France?", 100)})
        if isinstance(got, types.InputRequiredResult):
            return got
        return _text(f"LLM said: {_said(got['capital_question'])}")

    @server.tool(description="Ask the client for its roots.", structured_output=False)
    async def test_input_required_result_list_roots(ctx: Context) -> Done:
        got = await _gather(ctx, {"client_roots": _roots()})
        if isinstance(got, types.InputRequiredResult):
            return got
        roots = getattr(got["client_roots"], "roots", [])
        return _text("Roots: " + ", ".join(str(root.uri) for root in roots))

    @server.tool(description="Ask for a confirmation, keeping state across the round.", structured_output=False)
    async def test_input_required_result_request_state(ctx: Context) -> Done:
        state = _verify(ctx.request_state) or {"round": 1, "nonce": secrets.token_hex(8)}
        got = await _gather(ctx, {"confirm": _form("Please confirm", "ok", "boolean")}, state)
        if isinstance(got, types.InputRequiredResult):
            return got
        return _text(f"state-ok: round {state['round']} confirmed={_accepted(got['confirm'], 'ok')}")

    @server.tool(description="Ask for a name, a greeting and the roots in one round.", structured_output=False)
    async def test_input_required_result_multiple_inputs(ctx: Context) -> Done:
        asked = {
            "user_name": _form("What is your name?", "name"),
            "greeting": _sampling("Generate a greeting", 50),
            "client_roots": _roots(),
        }
        got = await _gather(ctx, asked, _verify(ctx.request_state) or {"round": 1})
        if isinstance(got, types.InputRequiredResult):
            return got
        roots = len(getattr(got["client_roots"], "roots", []))
        return _text(f"{_said(got['greeting'])} {_accepted(got['user_name'], 'name')} ({roots} roots)")

    @server.tool(description="Ask for a name, then a colour, in two rounds.", structured_output=False)
    async def test_input_required_result_multi_round(ctx: Context) -> Done:
        state = _verify(ctx.request_state) or {"round": 1}
        if state["round"] == 1:
            first = await _gather(ctx, {"step1": _form("Step 1: What is your name?", "name")}, state)
            if isinstance(first, types.InputRequiredResult):
                return first
            state = {"round": 2, "name": _accepted(first["step1"], "name")}
        second = await _gather(ctx, {"step2": _form("Step 2: What is your favorite color?", "color")}, state)
        if isinstance(second, types.InputRequiredResult):
            return second
        return _text(f"{state['name']} likes {_accepted(second['step2'], 'color')}")

    @server.tool(description="Ask for a confirmation under a signed state.", structured_output=False)
    async def test_input_required_result_tampered_state(ctx: Context) -> Done:
        state = _verify(ctx.request_state) or {"round": 1}
        got = await _gather(ctx, {"confirm": _form("Please confirm", "ok", "boolean")}, state)
        if isinstance(got, types.InputRequiredResult):
            return got
        return _text(f"confirmed={_accepted(got['confirm'], 'ok')}")

    @server.tool(description="Ask only what the client declared it can answer.", structured_output=False)
    async def test_input_required_result_capabilities(ctx: Context) -> Done:
        declared = ctx.client_capabilities or types.ClientCapabilities()
        wanted = {"question": _sampling("Pick a number", 10)} if declared.sampling is not None else {}
        if declared.elicitation is not None:
            wanted["name"] = _form("What is your name?", "name")
        got = await _gather(ctx, wanted)
        if isinstance(got, types.InputRequiredResult):
            return got
        return _text(f"answered: {sorted(got)}")

    @server.prompt(description="A prompt that asks what context to use.")
    async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | types.InputRequiredResult:
        got = await _gather(ctx, {"user_context": _form("What context should the prompt use?", "context")})
        if isinstance(got, types.InputRequiredResult):
            return got
        return [UserMessage(f"Use this context: {_accepted(got['user_context'], 'context')}")]

    @server.tool(description="Needs sampling, which a client may not have declared.", structured_output=False)
    def test_missing_capability(
        answer: Annotated[
            types.CreateMessageResult, Resolve(lambda: Sample([_sampling("Hi", 10).params.messages[0]], max_tokens=10))
        ],
    ) -> list[types.ContentBlock]:
        return _text(f"sampled: {_said(answer)}")

    @server.tool(description="Ask the user a question mid-call.", structured_output=False)
    def test_streaming_elicitation(
        answer: Annotated[ElicitationResult[Confirmation], Resolve(lambda: Elicit("Continue?", Confirmation))],
    ) -> list[types.ContentBlock]:
        return _text(f"elicitation: {answer.action}")

    @server.tool(description="Log one message at info.", structured_output=False)
    async def test_logging_tool(ctx: Context) -> list[types.ContentBlock]:
        await ctx.info("test_logging_tool ran")
        return _text("logged")
