"""A ``tools/call`` result in the wire shape the SDK's server gives it, without pydantic for the plain case.

The SDK's server types a handler's result (``CallToolResult``), dumps it, then validates and dumps
it once more against the protocol version's own schema (``serialize_server_result``), which
drops what that version does not know and orders the keys as the schema does. For a small text
result that is about 50 µs of CPU per call (the content list is a union of five block types,
tried in turn, twice), a tenth of the gateway's whole cost of an MCP ``tools/call`` (issue 17).

Most results are plain: text blocks with nothing else in them, ``isError``, perhaps
``structuredContent``. For those the answer is known without asking pydantic: each block as
``{"text", "type"}``, then ``isError`` (false when absent), at 2026-07-28 ``resultType``
(``complete``: an upstream's own is dropped at 2025-11-25, as the SDK's schema drops it), then
``structuredContent`` as it is. ``plain_call_result`` gives that, or None for anything else
(images, annotations, ``_meta`` beyond the upstream's ``serverInfo``, which the gateway
replaces with its own, a value that is not a JSON document's), which the caller
sends through the SDK's functions as before. A test holds the two to the same output.
"""

from __future__ import annotations

import math
from typing import Any, Final

from bridge.mcpserver.handlers import SERVER_INFO_META
from bridge.model import JSON

__all__ = ["plain_call_result"]

_RESULT_KEYS: Final = frozenset({"content", "isError", "structuredContent", "resultType"})
_TEXT_KEYS: Final = frozenset({"type", "text"})
_SERVER_INFO: Final = frozenset({SERVER_INFO_META})
_RESULT_AND_META_KEYS: Final = _RESULT_KEYS | {"_meta"}


def plain_call_result(result: JSON, modern: bool) -> JSON | None:
    """``result`` as the SDK's server sends it at 2026-07-28 (``modern``) or 2025-11-25; None unless plain."""
    if not result.keys() <= _RESULT_AND_META_KEYS or result.get("resultType", "complete") != "complete":
        return None
    # ``_meta`` is taken only when it holds nothing but the upstream's ``serverInfo``, which the
    # gateway replaces with its own (``as_ours``, without the copy).
    if "_meta" in result and (type(meta := result["_meta"]) is not dict or meta.keys() != _SERVER_INFO):
        return None
    content = result.get("content")
    if not isinstance(content, list):
        return None
    blocks = []
    for block in content:
        if type(block) is not dict or block.keys() != _TEXT_KEYS or block["type"] != "text":
            return None
        text = block["text"]
        if type(text) is not str:
            return None
        blocks.append({"text": text, "type": "text"})
    failed = result.get("isError", False)
    if type(failed) is not bool:
        return None
    wire: JSON = {"content": blocks, "isError": failed}
    if modern:
        wire["resultType"] = "complete"
    structured = result.get("structuredContent")
    if structured is not None:
        if type(structured) is not dict or not _plain_json(structured):
            return None
        wire["structuredContent"] = structured
    return wire


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is made of what a JSON document holds, each dumped by pydantic as it is."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is dict:  # a loop, its strings and integers checked in place: no generator, no call each
        for key, item in value.items():
            if type(key) is not str:
                return False
            of = type(item)
            if not (of is str or of is int or of is bool or item is None or _plain_json(item)):
                return False
        return True
    if kind is list:
        for item in value:
            of = type(item)
            if not (of is str or of is int or of is bool or item is None or _plain_json(item)):
                return False
        return True
    return False
