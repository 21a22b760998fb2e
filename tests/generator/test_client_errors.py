"""The checked-in clients turn each problem the bridge answers into the exception of its ``type``.

Bodies and headers come from ``bridge.errors`` itself, so they are exactly what the bridge sends.
The Python client reads them from a small HTTP server on 127.0.0.1; the TypeScript client, compiled
with ``tsc``, gets them through its ``fetch`` option and runs under node.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.errors import AlreadyExists, Ambiguous, BridgeError, ToolFailed, Unprocessable, UpstreamUnavailable
from harness import serving
from tests.support import ROOT
from tests.unit.test_problem_catalogue import occurrence, tree

TSC = ROOT / "tests" / "npm" / "node_modules" / ".bin" / "tsc"
NEWER = "https://mcp-rest-bridge.dev/problems/a-kind-from-a-newer-bridge"
#: The exception names clients had before problem types were told apart; each must stay importable.
EARLIER_NAMES = [
    "ApiError",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "FieldProblem",
    "Forbidden",
    "GatewayTimeout",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "ServerError",
    "ServiceUnavailable",
    "ToolError",
    "TransportError",
    "Unauthorized",
    "UnsupportedMediaType",
]


def answer_of(error: BridgeError, instance: str = "/tools/echo") -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers as the bridge answers ``error`` (its renderer adds ``instance``)."""
    return error.status, {**error.to_problem(), "instance": instance}, error.headers()


AMBIGUOUS = answer_of(Ambiguous("tool name 'echo' is offered by 2 servers", ["alpha.echo", "beta.echo"]))
EXISTS = answer_of(AlreadyExists("a server named 'demo' exists"), "/servers")
TOOL_FAILED = answer_of(
    ToolFailed(
        "tool process_data reported an error",
        {"content": [{"type": "text", "text": "input is not JSON"}], "structuredContent": {"valid": False}},
    )
)
UNPROCESSABLE = answer_of(Unprocessable("server 'dead' is not reachable"))
UNAVAILABLE = answer_of(UpstreamUnavailable("server 'demo' is reconnecting", server="demo", retry_after=7))
NEWER_CONFLICT = (409, {"type": NEWER, "title": "Newer", "status": 409, "detail": "d", "hint": 1}, {})
UNKNOWN_STATUS = (418, {"type": NEWER, "title": "Teapot", "status": 418, "detail": "short and stout"}, {})


class _Answering(BaseHTTPRequestHandler):
    """Answers every request with the server's current ``answer``."""

    server: _AnsweringServer

    def do_GET(self) -> None:
        status, body, headers = self.server.answer
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        kind = "text/plain" if isinstance(body, bytes) else "application/problem+json"
        for key, value in {"Content-Type": kind, "Content-Length": str(len(payload)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what the client raises."""


class _AnsweringServer(ThreadingHTTPServer):
    answer: tuple[int, Any, dict[str, str]] = (200, {}, {})


@pytest.fixture(scope="module")
def answering() -> Iterator[_AnsweringServer]:
    with serving(_AnsweringServer(("127.0.0.1", 0), _Answering)) as server:
        yield server


def raised(package: Any, server: _AnsweringServer, answer: tuple[int, Any, dict[str, str]]) -> Any:
    """What ``Client`` raises for ``answer``, after checking that ``AsyncClient`` raises the same."""
    server.answer = answer
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with package.Client(url, retry=package.Retry(attempts=1)) as client, pytest.raises(package.ApiError) as caught:
        client.list_servers()

    async def by_async_client() -> Any:
        async with package.AsyncClient(url, retry=package.Retry(attempts=1)) as client:
            with pytest.raises(package.ApiError) as caught:
                await client.list_servers()
            return caught.value

    error, same = caught.value, asyncio.run(by_async_client())
    assert (type(same), same.status, same.problem) == (type(error), error.status, error.problem)
    return error


def test_an_ambiguous_name_409_raises_ambiguous_name_with_its_candidates(package: Any, answering: Any) -> None:
    error = raised(package, answering, AMBIGUOUS)
    assert type(error) is package.AmbiguousName
    assert isinstance(error, package.Conflict)
    assert (error.status, error.problem) == (409, AMBIGUOUS[1])
    assert error.candidates == ["alpha.echo", "beta.echo"]


def test_an_already_exists_409_raises_already_exists_not_ambiguous_name(package: Any, answering: Any) -> None:
    error = raised(package, answering, EXISTS)
    assert type(error) is package.AlreadyExists
    assert isinstance(error, package.Conflict)
    assert (error.status, error.problem) == (409, EXISTS[1])
    assert error.candidates == []


def test_a_tool_error_422_raises_tool_error_with_content_and_structured_content(package: Any, answering: Any) -> None:
    error = raised(package, answering, TOOL_FAILED)
    assert type(error) is package.ToolError
    assert isinstance(error, package.UnprocessableContent)
    assert (error.status, error.problem) == (422, TOOL_FAILED[1])
    assert error.content == [{"type": "text", "text": "input is not JSON"}]
    assert error.structured_content == {"valid": False}


def test_an_unprocessable_422_raises_unprocessable_not_tool_error(package: Any, answering: Any) -> None:
    error = raised(package, answering, UNPROCESSABLE)
    assert type(error) is package.Unprocessable
    assert not isinstance(error, package.ToolError)
    assert isinstance(error, package.UnprocessableContent)
    assert (error.status, error.problem, error.detail) == (422, UNPROCESSABLE[1], "server 'dead' is not reachable")


def test_an_upstream_unavailable_503_names_its_server_and_when_to_retry(package: Any, answering: Any) -> None:
    error = raised(package, answering, UNAVAILABLE)
    assert type(error) is package.UpstreamUnavailable
    assert isinstance(error, package.ServiceUnavailable)
    assert (error.status, error.problem) == (503, UNAVAILABLE[1])
    assert (error.server, error.retry_after) == ("demo", 7.0)


def test_an_unknown_type_with_a_known_status_raises_the_status_class(package: Any, answering: Any) -> None:
    error = raised(package, answering, NEWER_CONFLICT)
    assert type(error) is package.Conflict
    assert (error.status, error.problem, error.type) == (409, NEWER_CONFLICT[1], NEWER)


def test_an_unknown_status_raises_server_error(package: Any, answering: Any) -> None:
    error = raised(package, answering, UNKNOWN_STATUS)
    assert type(error) is package.ServerError
    assert (error.status, error.problem) == (418, UNKNOWN_STATUS[1])


def test_a_body_that_is_not_json_becomes_the_detail_of_the_status_class(package: Any, answering: Any) -> None:
    error = raised(package, answering, (502, b"upstream proxy failed", {}))
    assert type(error) is package.BadGateway
    assert error.problem == {"title": "Error", "status": 502, "detail": "upstream proxy failed"}


@pytest.mark.parametrize("cls", tree(), ids=lambda cls: cls.__name__)
def test_every_bridge_error_arrives_as_the_class_of_its_type(
    package: Any, answering: Any, cls: type[BridgeError]
) -> None:
    answer = answer_of(occurrence(cls))
    error = raised(package, answering, answer)
    assert type(error).problem_type == answer[1]["type"]
    assert (error.status, error.problem, type(error).status_code) == (cls.status, answer[1], cls.status)


def test_every_name_the_client_exported_before_is_still_an_exception(package: Any) -> None:
    assert set(EARLIER_NAMES) <= set(package.__all__)
    assert all(issubclass(getattr(package, name), package.ApiError) for name in EARLIER_NAMES if name != "FieldProblem")


def test_every_name_in_the_clients_all_exists(package: Any) -> None:
    assert [name for name in package.__all__ if not hasattr(package, name)] == []
    assert [name for name in package.errors.__all__ if not hasattr(package.errors, name)] == []


# The TypeScript client: the same answers through a fetch that never touches the network.
NODE_SCRIPT = """
import * as client from "./dist/index.js";
const cases = JSON.parse(process.argv[2]);
const out = {};
for (const [name, c] of Object.entries(cases)) {
  const fetch = async () => new Response(JSON.stringify(c.body), { status: c.status, headers: c.headers });
  try {
    await new client.Client("http://bridge.invalid", { fetch, retry: { attempts: 1 } }).listServers();
    out[name] = "no error";
  } catch (e) {
    out[name] = {
      class: e.constructor.name,
      instanceOf: c.instanceOf.filter((kind) => e instanceof client[kind]),
      status: e.status,
      problem: e.problem,
      fields: Object.fromEntries(c.fields.map((field) => [field, e[field] ?? null])),
    };
  }
}
console.log(JSON.stringify(out));
"""
CHAIN = ["ProblemError", "ApiError"]
TS_CASES: dict[str, tuple[tuple[int, dict[str, Any], dict[str, str]], list[str], list[str]]] = {
    "ambiguous": (AMBIGUOUS, ["AmbiguousName", "Conflict", "AlreadyExists", *CHAIN], ["candidates"]),
    "exists": (EXISTS, ["AlreadyExists", "Conflict", "AmbiguousName", *CHAIN], ["candidates"]),
    "toolError": (
        TOOL_FAILED,
        ["ToolError", "UnprocessableContent", "Unprocessable"],
        ["content", "structuredContent"],
    ),
    "unprocessable": (UNPROCESSABLE, ["Unprocessable", "UnprocessableContent", "ToolError"], ["detail"]),
    "unavailable": (UNAVAILABLE, ["UpstreamUnavailable", "ServiceUnavailable"], ["server", "retryAfter"]),
    "newerConflict": (NEWER_CONFLICT, ["Conflict", "AmbiguousName", "AlreadyExists"], ["type"]),
    "unknownStatus": (UNKNOWN_STATUS, ["ServerError", "Internal", *CHAIN], []),
}


@pytest.fixture(scope="module")
def ts_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    package = tmp_path_factory.mktemp("ts") / "mcp-bridge-client"
    shutil.copytree(ROOT / "generated" / "typescript" / "mcp-bridge-client", package)
    compiled = subprocess.run([str(TSC), "-p", str(package)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (package / "errors.mjs").write_text(NODE_SCRIPT)
    cases = {
        name: {"status": status, "body": body, "headers": headers, "instanceOf": kinds, "fields": fields}
        for name, ((status, body, headers), kinds, fields) in TS_CASES.items()
    }
    ran = subprocess.run(
        ["node", "errors.mjs", json.dumps(cases)], cwd=package, capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    assert isinstance(results, dict)
    return results


def test_typescript_client_picks_each_class_by_type_then_status(ts_results: dict[str, Any]) -> None:
    assert ts_results == {
        "ambiguous": {
            "class": "AmbiguousName",
            "instanceOf": ["AmbiguousName", "Conflict", *CHAIN],
            "status": 409,
            "problem": AMBIGUOUS[1],
            "fields": {"candidates": ["alpha.echo", "beta.echo"]},
        },
        "exists": {
            "class": "AlreadyExists",
            "instanceOf": ["AlreadyExists", "Conflict", *CHAIN],
            "status": 409,
            "problem": EXISTS[1],
            "fields": {"candidates": []},
        },
        "toolError": {
            "class": "ToolError",
            "instanceOf": ["ToolError", "UnprocessableContent"],
            "status": 422,
            "problem": TOOL_FAILED[1],
            "fields": {
                "content": [{"type": "text", "text": "input is not JSON"}],
                "structuredContent": {"valid": False},
            },
        },
        "unprocessable": {
            "class": "Unprocessable",
            "instanceOf": ["Unprocessable", "UnprocessableContent"],
            "status": 422,
            "problem": UNPROCESSABLE[1],
            "fields": {"detail": "server 'dead' is not reachable"},
        },
        "unavailable": {
            "class": "UpstreamUnavailable",
            "instanceOf": ["UpstreamUnavailable", "ServiceUnavailable"],
            "status": 503,
            "problem": UNAVAILABLE[1],
            "fields": {"server": "demo", "retryAfter": 7},
        },
        "newerConflict": {
            "class": "Conflict",
            "instanceOf": ["Conflict"],
            "status": 409,
            "problem": NEWER_CONFLICT[1],
            "fields": {"type": NEWER},
        },
        "unknownStatus": {
            "class": "ServerError",
            "instanceOf": ["ServerError", *CHAIN],
            "status": 418,
            "problem": UNKNOWN_STATUS[1],
            "fields": {},
        },
    }
