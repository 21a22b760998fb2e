"""The lean path's judgement of a request's ``_meta`` (``bridge.endpoint.lean_meta``) against the SDK's own.

It must never take a ``_meta`` the SDK's server refuses (then the lean path would serve, and pass
upstream, what the SDK answers with an error), and it must take the ones MCP clients send. Each
verdict is held to ``parse_client_request`` of a ``tools/call`` carrying that ``_meta``, at both
revisions, on listed cases and on generated ones.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp_types.methods import CLIENT_REQUESTS, parse_client_request

from bridge.endpoint import lean_meta
from bridge.endpoint.lean_meta import MODERN_TYPED_KEYS, sdk_takes_meta

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
VERSION = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LEVEL = "io.modelcontextprotocol/logLevel"
BASE = {VERSION: MODERN, CAPS: {}}


def _sdk_takes(meta: Any, version: str) -> bool:
    try:
        parse_client_request("tools/call", version, {"name": "echo", "arguments": {}, "_meta": meta})
    except Exception:
        return False
    return True


def test_the_typed_keys_are_those_the_sdk_s_model_types() -> None:
    params = CLIENT_REQUESTS[("tools/list", MODERN)].model_fields["params"].annotation
    model = typing.get_args(params)[0] if typing.get_args(params) else params
    meta = model.model_fields["meta"].annotation
    aliases = {field.alias or name for name, field in meta.model_fields.items()}
    assert aliases == {*MODERN_TYPED_KEYS, "progressToken"}


TAKEN = [
    (HANDSHAKE, {}),
    (HANDSHAKE, {"progressToken": "p-1"}),
    (HANDSHAKE, {"progressToken": 7, "traceparent": "00-x", "io.example/own": [1, {"a": None}]}),
    (HANDSHAKE, {LEVEL: "loud"}),  # not a key 2025-11-25 types
    (MODERN, BASE),
    (MODERN, {**BASE, "progressToken": 0}),
    (MODERN, {**BASE, CAPS: {"sampling": {}, "elicitation": {"form": {}}, "roots": {"listChanged": True}}}),
    (MODERN, {**BASE, CAPS: {"extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html"]}}}}),
    (MODERN, {**BASE, INFO: {"name": "client", "version": "1.0"}, LEVEL: "debug"}),
    (MODERN, {**BASE, LEVEL: None, "traceparent": "00-x"}),
]
REFUSED_BY_THE_SDK = [
    (HANDSHAKE, {"progressToken": None}),
    (HANDSHAKE, {"progressToken": 1.5}),
    (HANDSHAKE, {"progressToken": [1]}),
    (MODERN, {**BASE, "progressToken": None}),
    (MODERN, {**BASE, LEVEL: "loud"}),
    (MODERN, {**BASE, LEVEL: 3}),
    (MODERN, {**BASE, VERSION: 5}),
    (MODERN, {**BASE, CAPS: []}),
    (MODERN, {**BASE, CAPS: {"sampling": 5}}),
    (MODERN, {**BASE, CAPS: {"experimental": 3}}),
    (MODERN, {**BASE, INFO: {"name": 5, "version": "1"}}),
    (MODERN, {**BASE, INFO: {"name": "client"}}),
    (MODERN, {VERSION: MODERN}),
]
#: Taken by the SDK, each its own way: left to it.
LEFT_TO_THE_SDK = [(HANDSHAKE, {"progressToken": True}), (MODERN, {**BASE, "progressToken": 1.0})]


@pytest.mark.parametrize(("version", "meta"), TAKEN)
def test_what_clients_send_is_taken(version: str, meta: dict[str, Any]) -> None:
    assert _sdk_takes(meta, version)
    assert sdk_takes_meta(meta, version, version == MODERN)
    assert sdk_takes_meta(meta, version, version == MODERN)  # and so when remembered


@pytest.mark.parametrize(("version", "meta"), REFUSED_BY_THE_SDK)
def test_what_the_sdk_refuses_is_not_taken(version: str, meta: dict[str, Any]) -> None:
    assert not _sdk_takes(meta, version)
    assert not sdk_takes_meta(meta, version, version == MODERN)
    assert not sdk_takes_meta(meta, version, version == MODERN)


@pytest.mark.parametrize(("version", "meta"), LEFT_TO_THE_SDK)
def test_what_the_sdk_reads_its_own_way_is_left_to_it(version: str, meta: dict[str, Any]) -> None:
    assert _sdk_takes(meta, version)
    assert not sdk_takes_meta(meta, version, version == MODERN)


def test_verdicts_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_meta, "_verdicts", {})
    asked: list[Any] = []
    judged = lean_meta._judged
    monkeypatch.setattr(lean_meta, "_judged", lambda typed, version: asked.append(typed) or judged(typed, version))
    for n in range(lean_meta.MAX_VERDICTS + 10):
        meta = {**BASE, INFO: {"name": f"client-{n}", "version": "1"}, "progressToken": n}
        assert sdk_takes_meta(meta, MODERN, True)
        assert sdk_takes_meta(meta, MODERN, True)
    assert len(asked) == lean_meta.MAX_VERDICTS + 10  # each asked once, the repeat remembered
    assert len(lean_meta._verdicts) <= lean_meta.MAX_VERDICTS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_capabilities = st.dictionaries(
    st.sampled_from(["sampling", "elicitation", "roots", "experimental", "extensions", "tasks", "other"]),
    st.one_of(
        json_values, st.dictionaries(st.sampled_from(["listChanged", "form", "url", "context", "tools"]), json_values)
    ),
    max_size=3,
)
request_meta = st.fixed_dictionaries(
    {},
    optional={
        VERSION: st.one_of(st.just(MODERN), json_values),
        CAPS: st.one_of(_capabilities, json_values),
        INFO: st.one_of(
            st.fixed_dictionaries({"name": st.text(max_size=3), "version": st.text(max_size=3)}), json_values
        ),
        LEVEL: st.one_of(st.sampled_from(["debug", "info", "error", "loud"]), json_values),
        "progressToken": json_values,
        "traceparent": json_values,
    },
)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(meta=request_meta, modern=st.booleans())
def test_no_meta_the_sdk_refuses_is_taken(meta: dict[str, Any], modern: bool) -> None:
    version = MODERN if modern else HANDSHAKE
    if sdk_takes_meta(meta, version, modern):
        assert _sdk_takes(meta, version)
