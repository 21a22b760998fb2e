"""Tool calls over a stdio upstream take the lean channel, and end exactly as on the SDK's session.

Each test runs an upstream session on a loop of its own, in front of a real test server started
as a child process; the SDK's path is the same session's client (``session.request``), so both
paths meet the same server on the same connection.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import METHOD_NOT_FOUND
from pydantic import ValidationError

from bridge.config import ServerConfig
from bridge.errors import InputRequired, NotFound, UpstreamTimeout, UpstreamUnavailable
from bridge.telemetry import current
from bridge.telemetry.context import RequestContext
from bridge.upstream.lean_calls import LeanRequests
from bridge.upstream.lean_pipe import LeanPipe
from bridge.upstream.plain_results import plain_prompt_result, plain_resource_result, plain_tool_result, sdk_result
from bridge.upstream.session import UpstreamSession
from bridge.upstream.stdio import _ChildProtocol
from bridge.upstream.translate import to_bridge_error, to_json
from tests.lean_sessions import lean_of, progress_both_ways
from tests.lean_sessions import outcome as _outcome
from tests.lean_sessions import run_session as _run
from tests.lean_sessions import sdk_call as _sdk_call
from tests.lean_sessions import until as _until
from tests.support import rich_stdio

CALLS_SERVER = Path(__file__).resolve().parent / "servers" / "calls_server.py"
META_SERVER = Path(__file__).resolve().parent / "servers" / "meta_server.py"
RELAY_SERVER = Path(__file__).resolve().parent / "servers" / "relay_server.py"
SERVERS = Path(__file__).resolve().parent / "servers"
REVISIONS = ["modern", "legacy"]


def _relay(protocol: str) -> ServerConfig:
    return ServerConfig(
        name="relay", transport="stdio", command=sys.executable, args=(str(RELAY_SERVER),), protocol=protocol
    )


def calls_stdio(*, legacy: bool, timeout: float) -> ServerConfig:
    args = (str(CALLS_SERVER), "stdio", *(["--legacy"] if legacy else []))
    return ServerConfig(name="calls", transport="stdio", command=sys.executable, args=args, call_timeout=timeout)


class _NoSuchRequest(types.Request[types.RequestParams | None, Any]):
    method: Literal["no/such/method"] = "no/such/method"
    params: types.RequestParams | None = None


def _lean(session: UpstreamSession) -> LeanRequests:
    return lean_of(session, LeanRequests)


CALLS = [
    ("echo", {"text": "hello, world"}),
    ("add", {"a": 2, "b": 40}),
    ("all_content", {}),
    ("fail", {"message": "it broke"}),
    ("echo", {"text": 5}),
    ("book_flight", {}),
]


@pytest.mark.parametrize("revision", REVISIONS)
def test_lean_and_sdk_paths_give_byte_identical_results_for_every_kind_of_result(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for name, arguments in CALLS:
            sent = lean.sent
            by_lean = await _outcome(session.call_tool(name, arguments))
            assert lean.sent == sent + 1, f"{name} did not take the lean path"
            by_sdk = await _outcome(_sdk_call(session, name, arguments))
            assert by_lean == by_sdk, name

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_the_upstream_sees_the_same_meta_on_both_paths(protocol: str) -> None:
    """The caller's request id and trace context, and at 2026-07-28 the SDK's stamp (revision, client,
    capabilities: all but the tasks extension, which a lean call does not declare)."""
    meta = ServerConfig(
        name="meta", transport="stdio", command=sys.executable, args=(str(META_SERVER),), protocol=protocol
    )

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        current.set(RequestContext("call-7", "0" * 31 + "1", "0" * 15 + "2", sampled=True))
        by_lean = await session.call_tool("meta", {})
        assert lean.sent == 1
        by_sdk = await _sdk_call(session, "meta", {})
        seen = json.loads(by_lean["content"][0]["text"])
        by_session = json.loads(by_sdk["content"][0]["text"])
        if protocol == "auto":  # a lean call leaves the tasks extension out (it waits for the result)
            declared = by_session["io.modelcontextprotocol/clientCapabilities"]
            assert declared.pop("extensions") == {"io.modelcontextprotocol/tasks": {}}
            assert "extensions" not in seen["io.modelcontextprotocol/clientCapabilities"]
        assert seen == by_session
        assert seen["mcp-rest-bridge/requestId"] == "call-7"
        assert seen["traceparent"] == f"00-{'0' * 31}1-{'0' * 15}2-01"
        assert ("io.modelcontextprotocol/protocolVersion" in seen) == (protocol == "auto")

    _run(meta, scenario)


#: Results a server might send: plain ones, and ones only the SDK's reading decides.
RAW_RESULTS: list[dict[str, Any]] = [
    {"content": [{"type": "text", "text": "hi"}], "resultType": "complete"},
    {"content": [{"text": "hi", "type": "text"}], "isError": True, "resultType": "complete"},
    {
        "resultType": "complete",
        "structuredContent": {"a": None, "b": [1, 2.5, 123456789012345678901234567890]},
        "content": [
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
            {"type": "audio", "data": "", "mimeType": "x"},
        ],
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}, "k": None},
    },
    {"content": [], "resultType": "complete", "isError": False},
    {"content": [], "resultType": "complete", "_meta": {"io.modelcontextprotocol/serverInfo": 7, "progressToken": [1]}},
    {"content": [{"type": "text", "text": "hi"}]},
    {"content": [{"type": "text", "text": "hi", "annotations": {"priority": 0.5}}], "resultType": "complete"},
    {"content": [{"type": "text", "text": "hi", "extra": 1}], "resultType": "complete"},
    {"content": [{"type": "resource_link", "uri": "file:///a", "name": "a"}], "resultType": "complete"},
    {"content": [{"type": "text", "text": 5}], "resultType": "complete"},
    {"content": [{"type": "image", "data": "AAAA"}], "resultType": "complete"},
    {"content": "hi", "resultType": "complete"},
    {"content": [], "structuredContent": [1], "resultType": "complete"},
    {"content": [], "structuredContent": None, "resultType": "complete"},
    {"content": [], "isError": "yes", "resultType": "complete"},
    {"content": [], "isError": 1, "resultType": "complete"},
    {"content": [], "_meta": None, "resultType": "complete"},
    {"content": [], "ttlMs": -5, "resultType": "complete"},
    {"content": [], "resultType": "input_required"},
    {"content": [], "resultType": "bogus"},
    {"content": [], "resultType": "complete", "unknown": 1},
    {"resultType": "complete"},
]


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_plain_result_reads_exactly_as_the_sdk_reads_it_and_any_other_is_left_to_the_sdk(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        modern = session._link.modern
        assert modern == (revision == "modern")

        async def compare(c: Client) -> int:
            plain_ones = 0
            for raw in RAW_RESULTS:
                plain = plain_tool_result(raw, modern=modern)
                try:
                    read: str | None = json.dumps(to_json(sdk_result(c, "tools/call", json.loads(json.dumps(raw)))))
                except ValidationError:
                    read = None
                if plain is not None:
                    plain_ones += 1
                    assert json.dumps(plain) == read, raw
            return plain_ones

        plain_ones = await session.request(compare)
        assert plain_ones == (5 if modern else 6)

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_json_rpc_error_answer_raises_as_on_the_sdk_path(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        with pytest.raises(MCPError) as by_lean:
            await lean.request("no/such/method", {})
        assert by_lean.value.code == METHOD_NOT_FOUND

        async def sdk(c: Client) -> Any:
            return await c.session.send_request(_NoSuchRequest(), types.Result)

        with pytest.raises(NotFound) as by_sdk:
            await session.request(sdk)
        assert str(to_bridge_error(by_lean.value, server="rich", timeout=1)) == str(by_sdk.value)

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_call_past_its_deadline_answers_504_and_is_cancelled_upstream(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        with pytest.raises(UpstreamTimeout) as late:
            await session.call_tool("hold", {"seconds": 60})
        assert late.value.status == 504
        assert lean.sent == 1

        async def cancelled_upstream() -> bool:
            counts = await session.call_tool("cancellations", {})
            return counts["structuredContent"] == {"result": 1}

        await _until(cancelled_upstream)
        assert (await session.call_tool("holding", {}))["structuredContent"] == {"result": 0}

    _run(calls_stdio(legacy=revision == "legacy", timeout=1.0), scenario)


def test_a_child_that_dies_mid_call_answers_503_and_the_next_connection_is_lean_again() -> None:
    async def scenario(session: UpstreamSession) -> None:
        first = _lean(session)
        with pytest.raises(UpstreamUnavailable) as lost:
            await session.call_tool("crash", {})
        assert lost.value.status == 503
        assert first.sent == 1
        assert first.closed

        async def ready() -> bool:
            return session.status().state == "ready"

        await _until(ready)
        with pytest.raises(MCPError):  # the old connection's channel fails at once, as the SDK's does
            await first.request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        second = _lean(session)
        assert second is not first
        assert (await session.call_tool("echo", {"text": "back"}))["structuredContent"] == {"result": "back"}
        assert second.sent == 1

    _run(rich_stdio(), scenario)


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_question_from_the_tool_ends_as_on_the_sdk_path(revision: str) -> None:
    """Asked of a caller that cannot answer (a REST caller): an input-required round at 2026-07-28,
    an elicitation request before it; either way the SDK's handling decides the outcome."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        by_lean = await _outcome(session.call_tool("ask", {}))
        assert lean.sent == 1
        by_sdk = await _outcome(_sdk_call(session, "ask", {}))
        assert by_lean == by_sdk
        assert by_lean.startswith(InputRequired.__name__)

    _run(calls_stdio(legacy=revision == "legacy", timeout=10.0), scenario)


@dataclass
class _Passing:
    """A caller that speaks 2026-07-28: input-required rounds pass through to it (a ``Relay``)."""

    input_responses: dict[str, Any] | None = None
    request_state: str | None = None
    wants_progress = False
    detached = False
    log_level: str | None = None
    takes_input_required = True
    declared: dict[str, Any] | None = None  # the gateway's own stand is told upstream

    def __post_init__(self) -> None:
        self.logs: list[Any] = []

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        raise AssertionError("no progress was asked for")

    async def log(self, params: dict[str, Any]) -> None:
        assert self.log_level is not None, "no log was asked for"
        self.logs.append(params["data"])

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a caller that takes input-required rounds is never asked mid-call")


def test_an_input_required_round_passes_through_to_a_modern_caller_as_on_the_sdk_path() -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        by_lean = await session.call_tool("ask", {}, relay=_Passing())
        assert lean.sent == 1

        async def sdk(c: Client) -> Any:
            return await c.session.call_tool("ask", {}, allow_input_required=True, allow_claimed=True)

        by_sdk = to_json(await session.request(sdk))
        assert by_lean["resultType"] == "input_required"
        assert list(by_lean) == list(by_sdk)
        assert by_lean["inputRequests"] == by_sdk["inputRequests"]
        # The caller's answers come back on the SDK's path (answers are passed on as validated), and the call ends.
        (key,) = by_lean["inputRequests"]
        answers = {key: {"action": "accept", "content": {"name": "Ada"}}}
        retry = _Passing(input_responses=answers, request_state=by_lean.get("requestState"))
        done = await session.call_tool("ask", {}, relay=retry)
        assert lean.sent == 1
        assert done["content"] == [{"type": "text", "text": "hello Ada"}]

    _run(calls_stdio(legacy=False, timeout=10.0), scenario)


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_the_logs_of_a_lean_call_reach_its_caller(protocol: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        caller = _Passing(log_level="info")
        caller.takes_input_required = False
        result = await session.call_tool("steps", {"count": 3}, relay=caller)
        assert lean.sent == 1
        assert result["content"] == [{"type": "text", "text": "counted to 3"}]
        assert caller.logs == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]

    _run(_relay(protocol), scenario)


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_the_progress_of_a_lean_call_reaches_its_caller_as_on_the_sdk_path(protocol: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        by_lean, by_sdk, heard, by_sdk_heard = await progress_both_ways(session, "steps", {"count": 3})
        assert lean.sent == 1  # the SDK's own call_tool passes the session, not the lean channel
        assert by_lean == by_sdk
        expected = [(n, 3.0, f"step {n:g}") for n in (1.0, 2.0, 3.0)]
        assert heard == expected  # in order, and all of it before the call returned

        async def sdk_heard_all() -> bool:
            return len(by_sdk_heard) == 3

        await _until(sdk_heard_all)
        assert sorted(by_sdk_heard) == expected

    _run(_relay(protocol), scenario)


def test_an_answer_behind_messages_the_session_has_not_taken_waits_for_them() -> None:
    """A log sent just before the answer is taken by the session before its call ends, as on the
    session's own path: else the log would find no call, or another caller's, in flight."""

    async def scenario() -> None:
        lean = LeanPipe()
        protocol = _ChildProtocol(lean)
        first, answered_first = lean.open()
        protocol.pipe_data_received(1, b'{"jsonrpc":"2.0","id":"%s","result":{"n":1}}\n' % first.encode())
        assert answered_first.result() == {"n": 1}  # nothing waits: settled at once

        second, answered_second = lean.open()
        log = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}'
        answer = b'{"jsonrpc":"2.0","id":"%s","result":{"n":2}}' % second.encode()
        protocol.pipe_data_received(1, log + b"\n" + answer + b"\n")
        assert not answered_second.done()
        taken = await protocol.inbox.receive()
        assert not isinstance(taken, Exception)
        assert taken.message.method == "notifications/message"  # type: ignore[union-attr]
        assert not answered_second.done()
        reading = asyncio.create_task(protocol.inbox.receive())
        await asyncio.sleep(0)
        assert answered_second.result() == {"n": 2}
        reading.cancel()

    asyncio.run(scenario())


READS = ["text://greeting", "bin://pixel.png", "bin://bytes", "item://42", "nothing://here"]


@pytest.mark.parametrize("revision", REVISIONS)
def test_lean_and_sdk_paths_read_resources_byte_identically(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for uri in READS:
            sent = lean.sent
            by_lean = await _outcome(session.read_resource(uri))
            assert lean.sent == sent + 1, f"{uri} was not read on the lean path"

            async def read(c: Client, uri: str = uri) -> Any:
                return await c.read_resource(uri)

            by_sdk = await _outcome(_as_json(session.request(read)))
            assert by_lean == by_sdk, uri

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


async def _as_json(result: Awaitable[Any]) -> dict[str, Any]:
    return to_json(await result)


RAW_READS: list[dict[str, Any]] = [
    {"contents": [{"uri": "a://b", "text": "t"}], "resultType": "complete"},
    {
        "resultType": "complete",
        "contents": [{"blob": "AAEC", "mimeType": "x/y", "uri": "weird uri"}],
        "_meta": {"k": None},
    },
    {"contents": [], "resultType": "complete", "ttlMs": 60000, "cacheScope": "public"},
    {"contents": [], "resultType": "complete", "ttlMs": -1},
    {"contents": [{"uri": "a://b", "text": "t"}]},
    {"contents": [{"uri": "a://b", "text": "t", "blob": "AA"}], "resultType": "complete"},
    {"contents": [{"uri": "a://b", "text": "t", "_meta": {}}], "resultType": "complete"},
    {"contents": [{"uri": "a://b", "text": "t", "mimeType": None}], "resultType": "complete"},
    {"contents": [{"uri": 5, "text": "t"}], "resultType": "complete"},
    {"contents": [{"uri": "a://b"}], "resultType": "complete"},
    {"contents": [], "resultType": "complete", "ttlMs": 1.5},
    {"contents": [], "resultType": "complete", "ttlMs": True},
    {"contents": [], "resultType": "complete", "cacheScope": "shared"},
    {"contents": [], "resultType": "input_required"},
    {"contents": {}, "resultType": "complete"},
    {"contents": [], "resultType": "complete", "other": 1},
    {"resultType": "complete"},
]


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_plain_read_reads_exactly_as_the_sdk_reads_it_and_any_other_is_left_to_the_sdk(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        modern = session._link.modern

        async def compare(c: Client) -> int:
            plain_ones = 0
            for raw in RAW_READS:
                plain = plain_resource_result(raw, modern=modern)
                try:
                    read: str | None = json.dumps(to_json(sdk_result(c, "resources/read", json.loads(json.dumps(raw)))))
                except ValidationError:
                    read = None
                if plain is not None:
                    plain_ones += 1
                    assert json.dumps(plain) == read, raw
            return plain_ones

        assert await session.request(compare) == (4 if modern else 3)

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


PROMPTS: list[tuple[str, dict[str, str]]] = [
    ("greet", {"name": "Ada"}),
    ("review_code", {"code": "print(1)"}),
    ("review_code", {}),
    ("no_such_prompt", {}),
]


@pytest.mark.parametrize("revision", REVISIONS)
def test_lean_and_sdk_paths_get_prompts_byte_identically(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for name, arguments in PROMPTS:
            sent = lean.sent
            by_lean = await _outcome(session.get_prompt(name, arguments))
            assert lean.sent == sent + 1, f"{name} was not got on the lean path"

            async def get(c: Client, name: str = name, arguments: dict[str, str] = arguments) -> Any:
                return await c.get_prompt(name, arguments)

            by_sdk = await _outcome(_as_json(session.request(get)))
            assert by_lean == by_sdk, name

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


RAW_PROMPTS: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "resultType": "complete"},
    {
        "resultType": "complete",
        "messages": [{"content": {"mimeType": "image/png", "data": "AA", "type": "image"}, "role": "assistant"}],
        "description": "d",
        "_meta": {"k": [None]},
    },
    {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}]},
    {"messages": [], "resultType": "complete", "description": None},
    {"messages": [{"role": "system", "content": {"type": "text", "text": "hi"}}], "resultType": "complete"},
    {
        "messages": [{"role": "user", "content": {"type": "resource_link", "uri": "a://b", "name": "b"}}],
        "resultType": "complete",
    },
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "resultType": "complete"},
    {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}, "x": 1}], "resultType": "complete"},
    {"messages": [], "resultType": "complete", "description": 5},
    {"messages": [], "resultType": "input_required"},
    {"messages": {}, "resultType": "complete"},
    {"resultType": "complete"},
]


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_plain_prompt_reads_exactly_as_the_sdk_reads_it_and_any_other_is_left_to_the_sdk(revision: str) -> None:
    async def scenario(session: UpstreamSession) -> None:
        modern = session._link.modern

        async def compare(c: Client) -> int:
            plain_ones = 0
            for raw in RAW_PROMPTS:
                plain = plain_prompt_result(raw, modern=modern)
                try:
                    read: str | None = json.dumps(to_json(sdk_result(c, "prompts/get", json.loads(json.dumps(raw)))))
                except ValidationError:
                    read = None
                if plain is not None:
                    plain_ones += 1
                    assert json.dumps(plain) == read, raw
            return plain_ones

        assert await session.request(compare) == (2 if modern else 3)

    _run(rich_stdio(legacy=revision == "legacy"), scenario)


def test_a_lean_call_to_a_server_that_makes_tasks_ends_as_the_sdk_path_s_task_does() -> None:
    """The tasks extension's server (over stdio here) makes a task of any call that declares the
    extension, as the SDK's session does: a lean call does not, and is answered at once, with what
    the SDK's path gets by following the task to its end, for a REST caller and one that takes
    rounds alike."""
    code = (
        f"import sys; sys.path.insert(0, {str(SERVERS)!r}); from native_tasks_server import build; build().run('stdio')"
    )
    native = ServerConfig(name="native", transport="stdio", command=sys.executable, args=("-c", code), call_timeout=20)

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        raw = await lean.request("tools/call", {"name": "native_slow", "arguments": {"seconds": 0}})
        assert raw["resultType"] == "complete"  # no task: the lean call did not declare the extension
        computed = {"type": "text", "text": "natively computed x"}
        by_lean = await session.call_tool("native_slow", {"seconds": 0.1, "label": "x"})
        assert lean.sent == 2
        assert by_lean["content"] == [computed]
        by_sdk = await _sdk_call(session, "native_slow", {"seconds": 0.1, "label": "x"})
        # The same result; the server stamps its own answer's _meta, not a task's result.
        assert json.dumps({k: v for k, v in by_lean.items() if k != "_meta"}) == json.dumps(by_sdk)
        passed = await session.call_tool("native_slow", {"seconds": 0.1, "label": "x"}, relay=_Passing())
        assert lean.sent == 3
        assert passed["content"] == [computed]
        # This server asks only inside a task: the SDK's path (which declares the extension) is asked,
        # and a REST caller cannot answer; the lean call is not, and the tool confirms by itself.
        asked = await _outcome(_sdk_call(session, "native_confirm", {"filename": "a"}))
        assert asked.startswith(InputRequired.__name__)
        confirmed = await session.call_tool("native_confirm", {"filename": "a"})
        assert confirmed["content"] == [{"type": "text", "text": "natively deleted a"}]

    _run(native, scenario)
