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


def _answers(ctx: Context, *keys: str) -> dict[str, Any] | None:
    """The retry's answers to ``keys``, each a typed result; ``None`` unless all of them came."""
    given = ctx.input_responses or {}
    if not all(key in given for key in keys):
        return None
    return {key: given[key] for key in keys}


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
    def test_input_required_result_elicitation(ctx: Context) -> Done:
        got = _answers(ctx, "user_name")
        if got is None:
            return _ask({"user_name": _form("What is your name?", "name")})
        return _text(f"Hello, {_accepted(got['user_name'], 'name')}!")

    @server.tool(description="Ask the client's LLM for the capital of France.", structured_output=False)
    def test_input_required_result_sampling(ctx: Context) -> Done:
        got = _answers(ctx, "capital_question")
        if got is None:
            return _ask({"capital_question": _sampling("What is the capital of France?", 100)})
        return _text(f"LLM said: {_said(got['capital_question'])}")

    @server.tool(description="Ask the client for its roots.", structured_output=False)
    def test_input_required_result_list_roots(ctx: Context) -> Done:
        got = _answers(ctx, "client_roots")
        if got is None:
            return _ask({"client_roots": _roots()})
        roots = getattr(got["client_roots"], "roots", [])
        return _text("Roots: " + ", ".join(str(root.uri) for root in roots))

    @server.tool(description="Ask for a confirmation, keeping state across the round.", structured_output=False)
    def test_input_required_result_request_state(ctx: Context) -> Done:
        state = _verify(ctx.request_state)
        got = _answers(ctx, "confirm")
        if got is None or state is None:
            return _ask(
                {"confirm": _form("Please confirm", "ok", "boolean")}, {"round": 1, "nonce": secrets.token_hex(8)}
            )
        return _text(f"state-ok: round {state['round']} confirmed={_accepted(got['confirm'], 'ok')}")

    @server.tool(description="Ask for a name, a greeting and the roots in one round.", structured_output=False)
    def test_input_required_result_multiple_inputs(ctx: Context) -> Done:
        state = _verify(ctx.request_state)
        got = _answers(ctx, "user_name", "greeting", "client_roots")
        if got is None or state is None:
            asked = {
                "user_name": _form("What is your name?", "name"),
                "greeting": _sampling("Generate a greeting", 50),
                "client_roots": _roots(),
            }
            return _ask(asked, {"round": 1})
        roots = len(getattr(got["client_roots"], "roots", []))
        return _text(f"{_said(got['greeting'])} {_accepted(got['user_name'], 'name')} ({roots} roots)")

    @server.tool(description="Ask for a name, then a colour, in two rounds.", structured_output=False)
    def test_input_required_result_multi_round(ctx: Context) -> Done:
        state = _verify(ctx.request_state)
        if state is None or (state["round"] == 1 and _answers(ctx, "step1") is None):
            return _ask({"step1": _form("Step 1: What is your name?", "name")}, {"round": 1})
        if state["round"] == 1:
            name = _accepted(ctx.input_responses["step1"], "name")  # type: ignore[index]
            return _ask({"step2": _form("Step 2: What is your favorite color?", "color")}, {"round": 2, "name": name})
        got = _answers(ctx, "step2")
        if got is None:
            return _ask({"step2": _form("Step 2: What is your favorite color?", "color")}, state)
        return _text(f"{state['name']} likes {_accepted(got['step2'], 'color')}")

    @server.tool(description="Ask for a confirmation under a signed state.", structured_output=False)
    def test_input_required_result_tampered_state(ctx: Context) -> Done:
        state = _verify(ctx.request_state)
        got = _answers(ctx, "confirm")
        if got is None or state is None:
            return _ask({"confirm": _form("Please confirm", "ok", "boolean")}, {"round": 1})
        return _text(f"confirmed={_accepted(got['confirm'], 'ok')}")

    @server.tool(description="Ask only what the client declared it can answer.", structured_output=False)
    def test_input_required_result_capabilities(ctx: Context) -> Done:
        declared = ctx.client_capabilities or types.ClientCapabilities()
        wanted = {"question": _sampling("Pick a number", 10)} if declared.sampling is not None else {}
        if declared.elicitation is not None:
            wanted["name"] = _form("What is your name?", "name")
        got = _answers(ctx, *wanted)
        if got is None and wanted:
            return _ask(wanted)
        return _text(f"answered: {sorted(got or {})}")

    @server.prompt(description="A prompt that asks what context to use.")
    def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | types.InputRequiredResult:
        got = _answers(ctx, "user_context")
        if got is None:
            return _ask({"user_context": _form("What context should the prompt use?", "context")})
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
