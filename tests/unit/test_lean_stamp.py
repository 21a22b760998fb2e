"""The lean channel's stamp (``bridge.upstream.lean_calls._Stamp``) against the SDK session's own.

A lean request must reach its upstream with what the SDK's session would have stamped on it:
the same ``_meta`` (less the tasks extension in a ``tools/call``'s declared capabilities) and
the same headers. ``_Stamp`` learns what the stamp does by trying it on empty requests; here
each of its answers is held to the stamp itself, at both revisions, for requests with and
without ``_meta`` of their own, a log level or client capabilities of their own, and a tool with
``Mcp-Param-*``; and to the stamp as the bridge wraps it (``declaring.keep_declared``), which
leaves a request's own capabilities as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientSession, _make_handshake_stamp, _make_modern_stamp
from mcp.shared.inbound import MCP_NAME_HEADER

from bridge.upstream.declaring import keep_declared
from bridge.upstream.lean_calls import LeanRequests, _Stamp, _without_tasks
from bridge.upstream.tasks import TASKS

MODERN = "2026-07-28"
CAPABILITIES = {"sampling": {}, "elicitation": {}, "extensions": {TASKS: {}, "io.example/other": {}}}
INFO = {"name": "mcp-rest-bridge", "version": "0.1.0"}

Stamp = Callable[[dict[str, Any], Any], None]


class _Session:
    """What ``headers_for`` asks of a session: its ``Mcp-Param-*`` headers for a tool call, made by the
    SDK session's own method from the argument→header map it keeps per listed tool (``weather``
    mirrors its ``city``; ``echo`` mirrors nothing; ``greet`` was never listed)."""

    def __init__(self) -> None:
        self._x_mcp_header_maps: dict[str, dict[tuple[str, ...], str]] = {"echo": {}, "weather": {("city",): "City"}}

    def _resolve_param_headers(self, name: str, arguments: Mapping[str, Any]) -> dict[str, str]:
        return ClientSession._resolve_param_headers(self, name, arguments)  # type: ignore[arg-type]


def _kept(stamp: Stamp) -> Stamp:
    """``stamp`` as ``keep_declared`` leaves a session's."""
    session = _Session()
    session._stamp = stamp  # type: ignore[attr-defined]
    keep_declared(session)  # type: ignore[arg-type]
    kept: Stamp = session._stamp  # type: ignore[attr-defined]
    return kept


def _stamps() -> dict[str, Stamp]:
    resolve = _Session()._resolve_param_headers
    return {
        "2026-07-28": _make_modern_stamp(MODERN, INFO, CAPABILITIES, resolve),
        "2026-07-28 with a log level": _make_modern_stamp(MODERN, INFO, CAPABILITIES, resolve, log_level="info"),
        "2026-07-28 keeping the declared": _kept(_make_modern_stamp(MODERN, INFO, CAPABILITIES, resolve)),
        "2025-11-25": _make_handshake_stamp("2025-11-25"),
    }


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("tools/call", {"name": "echo", "arguments": {"text": "hi"}}),
    ("tools/call", {"name": "echo", "arguments": {}, "_meta": {"traceparent": "00-ab-cd-01", "x": 1}}),
    ("tools/call", {"name": "weather", "arguments": {"city": "Oslo"}}),
    ("tools/call", {"name": "echo", "_meta": {types.LOG_LEVEL_META_KEY: "debug", "progressToken": "t"}}),
    ("tools/call", {"name": "echo", "_meta": {types.CLIENT_CAPABILITIES_META_KEY: {"elicitation": {}}, "x": 1}}),
    ("resources/read", {"uri": "file:///a.txt", "_meta": {types.CLIENT_CAPABILITIES_META_KEY: {}}}),
    ("resources/read", {"uri": "file:///a.txt", "_meta": {"traceparent": "00-ab-cd-01"}}),
    ("prompts/get", {"name": "greet", "arguments": {"who": "you"}}),
    ("tools/list", {}),
]


def _by_the_sdk(stamp: Stamp, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    data = {"method": method, "params": copy.deepcopy(params)}
    opts: dict[str, Any] = {}
    stamp(data, opts)
    stamped = data["params"]
    if method == "tools/call":
        stamped = _without_tasks(stamped)
    return stamped, opts.get("headers") or {}


@pytest.mark.parametrize("revision", list(_stamps()))
@pytest.mark.parametrize(("method", "params"), REQUESTS, ids=[f"{m} {i}" for i, (m, _) in enumerate(REQUESTS)])
def test_a_learnt_stamp_stamps_as_the_sdk_session_does(revision: str, method: str, params: dict[str, Any]) -> None:
    stamp = _stamps()[revision]
    learnt = _Stamp(stamp, method)
    before = copy.deepcopy(params)
    stamped = learnt.apply(params)
    headers = learnt.headers_for(_Session(), method, params)  # type: ignore[arg-type]
    expected, expected_headers = _by_the_sdk(stamp, method, params)
    assert stamped == expected
    assert list(stamped) == list(expected)
    assert list(stamped.get("_meta", {})) == list(expected.get("_meta", {}))
    assert headers == expected_headers
    assert params == before  # the caller's params are left as they were


def test_a_tool_call_declares_no_tasks_and_other_requests_keep_them() -> None:
    learnt = _Stamp(_stamps()["2026-07-28"], "tools/call")
    declared = learnt.apply({"name": "echo"})["_meta"][types.CLIENT_CAPABILITIES_META_KEY]
    assert declared["extensions"] == {"io.example/other": {}}
    listing = _Stamp(_stamps()["2026-07-28"], "tools/list").apply({})
    assert TASKS in listing["_meta"][types.CLIENT_CAPABILITIES_META_KEY]["extensions"]


def test_a_new_handshake_s_stamp_is_learnt_again() -> None:
    class Session(_Session):
        _stamp: Stamp

    session = Session()
    requests = LeanRequests()
    requests.bind(session)  # type: ignore[arg-type]
    session._stamp = _stamps()["2025-11-25"]
    assert "_meta" not in requests.stamped("tools/call", {"name": "echo"})[0]
    session._stamp = _stamps()["2026-07-28"]
    stamped, headers = requests.stamped("tools/call", {"name": "echo"})
    assert stamped["_meta"][types.PROTOCOL_VERSION_META_KEY] == MODERN
    assert headers[MCP_NAME_HEADER] == "echo"
    assert requests.stamped("tools/call", {"name": "echo"}, headers=False)[1] == {}


def test_a_meta_that_is_not_an_object_is_refused_as_the_stamp_refuses_it() -> None:
    learnt = _Stamp(_stamps()["2026-07-28"], "tools/call")
    with pytest.raises(TypeError):
        learnt.apply({"name": "echo", "_meta": ["not", "an", "object"]})


def test_the_kept_stamp_leaves_a_requests_own_capabilities_and_sets_the_sessions_elsewhere() -> None:
    kept = _stamps()["2026-07-28 keeping the declared"]
    own: dict[str, Any] = {"method": "tools/call", "params": {"_meta": {types.CLIENT_CAPABILITIES_META_KEY: {}}}}
    kept(own, {})
    assert own["params"]["_meta"][types.CLIENT_CAPABILITIES_META_KEY] == {}
    assert own["params"]["_meta"][types.PROTOCOL_VERSION_META_KEY] == MODERN
    none: dict[str, Any] = {"method": "tools/call", "params": {"name": "echo"}}
    kept(none, {})
    assert none["params"]["_meta"][types.CLIENT_CAPABILITIES_META_KEY] == CAPABILITIES
    learnt = _Stamp(kept, "tools/call")  # a tool call without capabilities of its own declares no tasks
    declared = learnt.apply({"name": "echo"})["_meta"][types.CLIENT_CAPABILITIES_META_KEY]
    assert declared["extensions"] == {"io.example/other": {}}


def test_a_stamp_is_kept_once() -> None:
    session = _Session()
    session._stamp = _kept(_stamps()["2026-07-28"])  # type: ignore[attr-defined]
    before = session._stamp  # type: ignore[attr-defined]
    keep_declared(session)  # type: ignore[arg-type]
    assert session._stamp is before  # type: ignore[attr-defined]
