"""The lean path's shortcut for plain ``tools/call`` results gives what the SDK's own shaping gives, or declines."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import orjson
import pytest
from mcp_types import methods

from bridge.endpoint.lean_results import plain_call_result
from bridge.mcpserver.handlers import SERVER_INFO_META, as_ours

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"

PLAIN: list[dict[str, Any]] = [
    {"content": [{"type": "text", "text": "hello"}], "isError": False},
    {"content": [{"text": "hello", "type": "text"}]},
    {"content": []},
    {"content": [{"type": "text", "text": ""}, {"type": "text", "text": 'ünïcode \u2028 "quoted"'}], "isError": True},
    {"content": [{"type": "text", "text": "x"}], "resultType": "complete"},
    {"content": [{"type": "text", "text": "x"}], "structuredContent": None},
    {
        "content": [{"type": "text", "text": "{}"}],
        "structuredContent": {"a": None, "b": [1, None, {"c": None}], "f": 1.5, "big": 2**53, "t": True, "s": "é"},
        "isError": False,
    },
]

NOT_PLAIN: list[dict[str, Any]] = [
    {"content": [{"type": "image", "data": "aGk=", "mimeType": "image/png"}]},
    {"content": [{"type": "text", "text": "x", "annotations": {"priority": 1}}]},
    {"content": [{"type": "text", "text": "x", "_meta": {"k": 1}}]},
    {"content": [{"type": "text", "text": 3}]},
    {"content": [{"type": "text", "text": "x"}], "_meta": {"k": None}},
    {"content": [{"type": "text", "text": "x"}], "isError": "yes"},
    {"content": [{"type": "text", "text": "x"}], "structuredContent": {"f": float("inf")}},
    {"content": [{"type": "text", "text": "x"}], "structuredContent": [1, 2]},
    {"content": [{"type": "text", "text": "x"}], "resultType": "input_required"},
    {"content": "text"},
    {"isError": False},
]


def _as_the_sdk_shapes_it(result: dict[str, Any], version: str) -> dict[str, Any]:
    """What the lean path sends without the shortcut (``LeanMcp._wire``'s general case, unstamped)."""
    typed = types.CallToolResult.model_validate(result)
    dumped = typed.model_dump(by_alias=True, mode="json", exclude_none=True)
    wire: dict[str, Any] = methods.serialize_server_result("tools/call", version, dumped)
    if version == MODERN:
        wire.setdefault("resultType", "complete")
    return wire


@pytest.mark.parametrize("version", [MODERN, HANDSHAKE])
@pytest.mark.parametrize("result", PLAIN)
def test_a_plain_result_is_shaped_byte_for_byte_as_the_sdk_shapes_it(result: dict[str, Any], version: str) -> None:
    shaped = plain_call_result(result, version == MODERN)
    assert shaped is not None
    assert orjson.dumps(shaped) == orjson.dumps(_as_the_sdk_shapes_it(result, version))


@pytest.mark.parametrize("version", [MODERN, HANDSHAKE])
@pytest.mark.parametrize("result", NOT_PLAIN)
def test_a_result_that_is_not_plain_is_left_to_the_sdk(result: dict[str, Any], version: str) -> None:
    assert plain_call_result(result, version == MODERN) is None


SERVER_INFO = {SERVER_INFO_META: {"name": "rich", "version": "1.0.0"}}


@pytest.mark.parametrize("version", [MODERN, HANDSHAKE])
@pytest.mark.parametrize("result", PLAIN)
def test_an_upstream_s_server_info_stamp_is_dropped_as_as_ours_drops_it(result: dict[str, Any], version: str) -> None:
    stamped = {**result, "_meta": SERVER_INFO}
    shaped = plain_call_result(stamped, version == MODERN)
    assert shaped is not None
    assert orjson.dumps(shaped) == orjson.dumps(_as_the_sdk_shapes_it(as_ours(stamped), version))


@pytest.mark.parametrize("meta", [{}, {**SERVER_INFO, "k": 1}, {"k": 1}, "not an object", None])
def test_any_other_meta_is_left_to_the_sdk(meta: Any) -> None:
    result = {"content": [{"type": "text", "text": "x"}], "_meta": meta}
    assert plain_call_result(result, True) is None
    assert plain_call_result(result, False) is None
