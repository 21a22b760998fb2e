"""Tool calls to a Streamable HTTP upstream take the lean channel, and end exactly as on the SDK's session.

Each test runs an upstream session on a loop of its own, in front of a real test server started
as a process on 127.0.0.1 (the rich server, or ``tests/servers/lean_server.py``, which answers
with its request's own id), at both protocol generations and with both kinds of answer (JSON
bodies and event streams). The SDK's path is the same session's client (``session.request``), so
both paths meet the same server on the same connection.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import METHOD_NOT_FOUND

from bridge.config import ServerConfig
from bridge.errors import InputRequired, NotFound, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from bridge.upstream.lean_http import HttpChannel
from bridge.upstream.session import UpstreamSession
from bridge.upstream.translate import to_bridge_error, to_json
from harness import accepting, free_port, started
from tests.lean_sessions import lean_of, progress_both_ways
from tests.lean_sessions import outcome as _outcome
from tests.lean_sessions import run_session as _run
from tests.lean_sessions import sdk_call as _sdk_call
from tests.lean_sessions import until as _until
from tests.servers.launch import RICH_SERVER, START_TIMEOUT, running_http_server
from tests.support import ROOT, bridge_process

#: (revision, answers): the 2026-07-28 and 2025-11-25 generations, each answering JSON or an event stream.
KINDS = [("modern", "sse"), ("modern", "json"), ("legacy", "sse"), ("legacy", "json")]
IDS = [f"{revision}-{answers}" for revision, answers in KINDS]


class _NoSuchRequest(types.Request[types.RequestParams | None, Any]):
    method: Literal["no/such/method"] = "no/such/method"
    params: types.RequestParams | None = None


class LeanServer:
    """``tests/servers/lean_server.py`` on one port, which it keeps when stopped and started again."""

    def __init__(self, *, legacy: bool, json_response: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._argv = [sys.executable, "-m", "tests.servers.lean_server", "--port", str(self.port)]
        self._argv += ["--legacy"] if legacy else []
        self._argv += ["--json-response"] if json_response else []
        self._logs = tempfile.TemporaryDirectory(prefix="lean-server-")
        self._running: ExitStack | None = None

    def start(self) -> None:
        stack = ExitStack()
        proc = stack.enter_context(started("lean server", self._argv, cwd=ROOT, log=Path(self._logs.name) / "log"))
        self._running = stack
        proc.wait_until(lambda: accepting(self.port), START_TIMEOUT, f"accepting connections on port {self.port}")

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None

    def close(self) -> None:
        self.stop()
        self._logs.cleanup()


@contextmanager
def lean_server(kind: tuple[str, str]) -> Iterator[LeanServer]:
    revision, answers = kind
    server = LeanServer(legacy=revision == "legacy", json_response=answers == "json")
    try:
        server.start()
        yield server
    finally:
        server.close()


def _http(url: str, *, timeout: float = 10.0) -> ServerConfig:
    return ServerConfig(name="up", transport="streamable-http", url=url, call_timeout=timeout)


def _lean(session: UpstreamSession) -> HttpChannel:
    return lean_of(session, HttpChannel)


async def _ready(session: UpstreamSession) -> bool:
    return session.status().state == "ready" and session._link.lean is not None


CALLS = [
    ("echo", {"text": "hello, wörld"}),
    ("add", {"a": 2, "b": 40}),
    ("all_content", {}),
    ("fail", {"message": "it broke"}),
    ("echo", {"text": 5}),
    ("book_flight", {}),
]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_lean_and_sdk_paths_give_byte_identical_results_for_the_rich_servers_tools(kind: tuple[str, str]) -> None:
    revision, answers = kind

    async def scenario(session: UpstreamSession) -> None:
        assert session._link.modern == (revision == "modern")
        lean = _lean(session)
        for name, arguments in CALLS:
            sent = lean.sent
            by_lean = await _outcome(session.call_tool(name, arguments))
            assert lean.sent == sent + 1, f"{name} did not take the lean path"
            by_sdk = await _outcome(_sdk_call(session, name, arguments))
            assert by_lean == by_sdk, name

    with running_http_server("http", legacy=revision == "legacy", json_response=answers == "json") as url:
        _run(_http(url), scenario)


RESOURCES = ["text://greeting", "bin://pixel.png", "bin://bytes", "item://42", "nope://missing"]
PROMPTS = [("greet", {"name": "Lin"}), ("review_code", {"code": "x = 1"}), ("greet", {}), ("no_such_prompt", {})]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_lean_and_sdk_paths_read_the_rich_servers_resources_and_prompts_byte_identically(kind: tuple[str, str]) -> None:
    revision, answers = kind

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for uri in RESOURCES:
            sent = lean.sent
            by_lean = await _outcome(session.read_resource(uri))
            assert lean.sent == sent + 1, f"{uri} was not read on the lean path"

            async def read(c: Client, uri: str = uri) -> Any:
                return to_json(await c.read_resource(uri))

            assert by_lean == await _outcome(session.request(read)), uri
        for name, arguments in PROMPTS:
            sent = lean.sent
            by_lean = await _outcome(session.get_prompt(name, arguments))
            assert lean.sent == sent + 1, f"{name} was not got on the lean path"

            async def get(c: Client, name: str = name, arguments: dict[str, str] = arguments) -> Any:
                return to_json(await c.get_prompt(name, arguments))

            assert by_lean == await _outcome(session.request(get)), name

    with running_http_server("http", legacy=revision == "legacy", json_response=answers == "json") as url:
        _run(_http(url), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_upstream_sees_a_lean_request_id_and_a_json_rpc_error_maps_as_on_the_sdk_path(
    kind: tuple[str, str],
) -> None:
    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        seen = await session.call_tool("request_id", {})
        assert seen["structuredContent"] == {"result": "'lean-1'"}
        by_sdk = (await _sdk_call(session, "request_id", {}))["structuredContent"]["result"]
        assert by_sdk.strip("'").isdigit()  # the SDK session numbers its own
        with pytest.raises(MCPError) as by_lean:
            await lean.request("no/such/method", {})
        assert by_lean.value.code == METHOD_NOT_FOUND

        async def sdk(c: Client) -> Any:
            return await c.session.send_request(_NoSuchRequest(), types.Result)

        with pytest.raises(NotFound) as refused:
            await session.request(sdk)
        assert str(to_bridge_error(by_lean.value, server="up", timeout=1)) == str(refused.value)

    with lean_server(kind) as server:
        _run(_http(server.url), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_log_and_a_question_mid_call_end_as_on_the_sdk_path(kind: tuple[str, str]) -> None:
    """A question a REST caller cannot answer: asked on the call's own stream before 2026-07-28
    (answered with the back channel's refusal), refused by the server itself at 2026-07-28."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for name in ("chatty", "ask"):
            sent = lean.sent
            by_lean = await _outcome(session.call_tool(name, {}))
            assert lean.sent == sent + 1
            assert by_lean == await _outcome(_sdk_call(session, name, {})), name
        outcome = await _outcome(session.call_tool("ask", {}))
        if kind == ("legacy", "sse"):
            assert outcome.startswith(InputRequired.__name__)
        else:
            assert outcome.startswith(UpstreamError.__name__)

    with lean_server(kind) as server:
        _run(_http(server.url), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_progress_of_a_lean_call_reaches_its_caller_as_on_the_sdk_path(kind: tuple[str, str]) -> None:
    """Progress comes on the call's own event stream, so a server answering JSON sends none (nor
    through the SDK's path)."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        by_lean, by_sdk, heard, by_sdk_heard = await progress_both_ways(session, "steps", {"count": 3})
        assert lean.sent == 1  # the SDK's own call_tool passes the session, not the lean channel
        assert by_lean == by_sdk
        expected = [] if kind[1] == "json" else [(n, 3.0, f"step {n:g} of 3") for n in (1.0, 2.0, 3.0)]
        assert heard == expected  # in order, and all of it before the call returned

        async def sdk_heard_all() -> bool:
            return len(by_sdk_heard) == len(expected)

        await _until(sdk_heard_all)
        assert sorted(by_sdk_heard) == expected

    with lean_server(kind) as server:
        _run(_http(server.url), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_call_past_its_deadline_answers_504_and_is_cancelled_upstream_as_on_the_sdk_path(
    kind: tuple[str, str],
) -> None:
    """At 2026-07-28 the closed stream is the cancellation, which a server answering JSON does not
    notice (nor does it through the SDK's path); before it, ``notifications/cancelled`` is POSTed."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        with pytest.raises(UpstreamTimeout) as late:
            await session.call_tool("hold", {"seconds": 4})
        assert late.value.status == 504
        assert lean.sent == 1
        with pytest.raises(UpstreamTimeout):
            await _sdk_call(session, "hold", {"seconds": 4})
        cancelled = 0 if kind == ("modern", "json") else 2

        async def cancelled_upstream() -> bool:
            counts = await session.call_tool("cancellations", {})
            return bool(counts["structuredContent"] == {"result": cancelled})

        await _until(cancelled_upstream)

    with lean_server(kind) as server:
        _run(_http(server.url, timeout=1.0), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_an_upstream_that_dies_mid_call_answers_503_and_the_next_connection_is_lean_again(
    kind: tuple[str, str],
) -> None:
    with lean_server(kind) as server:

        async def scenario(session: UpstreamSession) -> None:
            first = _lean(session)
            with pytest.raises(UpstreamUnavailable) as lost:
                await session.call_tool("stop", {})
            assert lost.value.status == 503
            assert first.sent == 1
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            await _until(lambda: _ready(session))
            assert first.closed
            with pytest.raises(MCPError):  # the old connection's channel fails at once, as the SDK's does
                await first.request("tools/call", {"name": "request_id", "arguments": {}})
            second = _lean(session)
            assert second is not first
            assert (await session.call_tool("request_id", {}))["structuredContent"] == {"result": "'lean-1'"}

        _run(_http(server.url), scenario)


@pytest.mark.parametrize("answers", ["sse", "json"])
def test_a_2025_session_the_server_no_longer_knows_fails_as_on_the_sdk_path_and_recovers(answers: str) -> None:
    """The server restarted: its answer is 404 with a JSON-RPC error, for the lean call as for the
    SDK's; the session's next ping finds it gone and connects again, the lean channel with it."""
    with lean_server(("legacy", answers)) as server:

        async def scenario(session: UpstreamSession) -> None:
            first = _lean(session)
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            by_lean = await _outcome(session.call_tool("request_id", {}))
            assert first.sent == 1
            assert by_lean == await _outcome(_sdk_call(session, "request_id", {}))
            assert by_lean == "UpstreamError: server 'up' answered an error: Session not found"

            async def recovered() -> bool:
                outcome = await _outcome(session.call_tool("request_id", {}))
                return outcome.startswith("{")

            await _until(recovered)
            assert _lean(session) is not first

        _run(_http(server.url), scenario)


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_a_bridge_whose_upstream_is_another_bridges_mcp_calls_it_leanly_with_the_same_results(
    tmp_path: Path, protocol: str
) -> None:
    """Federation: the upstream is gateway B's ``/mcp`` behind its API key (one server there, so plain tool names)."""
    config = {"mcpServers": {"rich": {"command": sys.executable, "args": [str(RICH_SERVER), "stdio"]}}}
    upstream_calls = [("add", {"a": 1, "b": 2}), ("all_content", {}), ("fail", {"message": "no"})]

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for name, arguments in upstream_calls:
            sent = lean.sent
            by_lean = await _outcome(session.call_tool(name, arguments))
            assert lean.sent == sent + 1, f"{name} did not take the lean path"
            assert by_lean == await _outcome(_sdk_call(session, name, arguments)), name
        assert (await session.call_tool("add", {"a": 20, "b": 22}))["structuredContent"] == {"result": 42}

    with bridge_process(tmp_path, config, "--api-key", "b-key") as gateway:
        upstream = ServerConfig(
            name="b",
            transport="streamable-http",
            url=gateway.url + "/mcp",
            headers={"Authorization": "Bearer b-key"},
            protocol=protocol,
            call_timeout=30.0,
        )
        _run(upstream, scenario)


@contextmanager
def relay_over_http(upstream: str) -> Iterator[str]:
    """The relay test server (its tools ask their caller mid-call) over Streamable HTTP; its URL."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.servers.relay_server", "--http-port", str(port)]
    argv += ["--legacy"] if upstream == "legacy" else []
    with (
        tempfile.TemporaryDirectory(prefix="relay-server-") as logs,
        started("relay server (http)", argv, cwd=ROOT, log=Path(logs) / "log") as server,
    ):
        server.wait_until(lambda: accepting(port), START_TIMEOUT, f"accepting connections on port {port}")
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.mark.parametrize(
    ("mode", "upstream"),
    [
        ("legacy", "legacy"),  # the upstream asks on the lean call's own stream; the gateway asks its client
        ("legacy", "modern"),  # the upstream answers input-required; the gateway asks its client mid-call
        ("2026-07-28", "modern"),  # input-required rounds pass through: the client answers and retries
    ],
)
def test_questions_and_logs_from_an_http_upstream_reach_the_mcp_client_that_called(
    tmp_path: Path, mode: str, upstream: str
) -> None:
    asked: list[str] = []
    logs: list[Any] = []

    async def elicit(_ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "Ada"})

    async def sample(_ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append("sampled")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="test-model"
        )

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def run(url: str) -> list[str]:
        async with (
            create_mcp_http_client() as http,
            Client(
                streamable_http_client(url + "/mcp", http_client=http),
                mode=mode,
                elicitation_callback=elicit,
                sampling_callback=sample,
                logging_callback=on_log,
                log_level="info",
            ) as client,
        ):
            calls = [
                ("ask", {"question": "Your name?"}),
                ("sample", {"prompt": "The answer?"}),
                ("steps", {"count": 2}),
            ]
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
        return [block.text for result in results for block in result.content if isinstance(block, types.TextContent)]

    with relay_over_http(upstream) as relay_url:
        config = {"mcpServers": {"relay": {"url": relay_url, "type": "streamable-http"}}}
        with bridge_process(tmp_path, config) as bridge:
            answers = asyncio.run(run(bridge.url))
    assert answers == ["Your name? -> Ada", "The answer? -> forty-two", "counted to 2"]
    assert asked == ["Your name?", "sampled"]
    assert logs == ["step 1 of 2", "step 2 of 2"]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_upstream_sees_the_headers_the_sdk_sends(kind: tuple[str, str]) -> None:
    """The negotiated version, the session (2025), the routing headers and an ``x-mcp-header``
    parameter (2026-07-28), the config's own headers: all as the SDK's requests carry them."""

    def seen(result: dict[str, Any]) -> dict[str, str]:
        return dict(json.loads(result["structuredContent"]["result"]))

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        by_lean = seen(await session.call_tool("headers", {"tag": "blue"}))
        assert lean.sent == 1
        by_sdk = seen(await _sdk_call(session, "headers", {"tag": "blue"}))
        assert by_sdk.pop("accept-encoding") == "gzip, deflate"  # lean bodies are read as they come
        del by_lean["content-length"], by_sdk["content-length"]  # the bodies differ: their ids
        assert by_lean == by_sdk
        assert by_lean["x-team"] == "bridge"
        assert by_lean["mcp-protocol-version"] == session.status().protocol_version
        if kind[0] == "modern":
            assert (by_lean["mcp-method"], by_lean["mcp-name"], by_lean["mcp-param-tag"]) == (
                "tools/call",
                "headers",
                "blue",
            )
        else:
            assert "mcp-session-id" in by_lean

    with lean_server(kind) as server:
        config = ServerConfig(name="up", transport="streamable-http", url=server.url, headers={"X-Team": "bridge"})
        _run(config, scenario)


def test_an_endpoint_that_redirects_within_its_origin_is_followed_as_the_sdk_follows_it() -> None:
    """``/mcp/`` answers 307 to ``/mcp`` (a trailing slash the server's router trims)."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for _ in range(2):
            assert (await session.call_tool("add", {"a": 1, "b": 1}))["structuredContent"] == {"result": 2}
        assert lean.sent == 2
        assert await _outcome(session.call_tool("echo", {"text": "x"})) == await _outcome(
            _sdk_call(session, "echo", {"text": "x"})
        )

    with running_http_server("http", legacy=True) as url:
        _run(_http(url + "/"), scenario)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_an_answer_past_the_event_size_bound_ends_as_on_the_sdk_path(kind: tuple[str, str]) -> None:
    """One event of more than 1 MiB is refused on an event stream (a 502: here, a 2025 server's); a JSON body,
    which the 2026-07-28 server sends when it has nothing to stream, has no such bound."""

    async def scenario(session: UpstreamSession) -> None:
        lean = _lean(session)
        for size in (1000, 1_500_000):
            by_lean = await _outcome(session.call_tool("big", {"size": size}))
            assert by_lean == await _outcome(_sdk_call(session, "big", {"size": size})), size
            assert by_lean.startswith("UpstreamError") == (size > 1000 and kind == ("legacy", "sse"))
        assert lean.sent == 2
        assert session.status().state == "ready"

    with lean_server(kind) as server:
        _run(_http(server.url), scenario)
