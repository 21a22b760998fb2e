"""Results of lean requests read as the SDK's client reads them, and dumped as the bridge dumps its models.

The SDK parses every result into a pydantic model, which the bridge dumps to JSON again (camelCase,
no ``None`` fields, defaults filled in, keys in the model's order). For the common results that
round trip changes nothing but the order of keys and the defaults, so ``plain_tool_result``,
``plain_resource_result`` and ``plain_prompt_result`` give the same dict straight from the wire:
for a result they call plain, which passes every check the SDK makes whatever it holds; for any
other they give None, and ``sdk_result`` reads it with the SDK's own steps, checks and errors.
A test holds the plain readings to the SDK's, byte for byte, on many shapes at both revisions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final

import mcp_types as types
from mcp import Client
from mcp.client.session import (
    _clamp_inbound_ttl,
    _GetPromptResultAdapter,
    _later_revision_fields,
    _ReadResourceResultAdapter,
)
from mcp_types.methods import validate_server_result
from pydantic import TypeAdapter

from bridge.model import JSON

__all__ = ["plain_prompt_result", "plain_resource_result", "plain_tool_result", "sdk_result"]

#: The top-level keys of a plain ``tools/call`` result, in the order the SDK's model dumps them.
_PLAIN_KEYS: Final = frozenset(("_meta", "content", "structuredContent", "isError", "resultType"))
_TEXT_KEYS: Final = frozenset(("type", "text"))
_MEDIA_KEYS: Final = frozenset(("type", "data", "mimeType"))


def plain_tool_result(raw: Mapping[str, Any], *, modern: bool) -> JSON | None:
    """``raw`` as the SDK's ``CallToolResult`` dumps it, or None when it takes the SDK to read it.

    Plain means: only the keys above; ``resultType`` ``complete`` (required at 2026-07-28, and
    absent or so before it); content blocks of text, image or audio with nothing but their own
    fields, all strings; ``structuredContent`` and ``_meta`` objects, ``isError`` a boolean. Such
    a result passes the SDK's checks whatever it holds, and the dump keeps objects' own values
    as they are: only the order of keys and the defaults differ from the wire.
    """
    if not _PLAIN_KEYS.issuperset(raw):
        return None
    result_type = raw.get("resultType")
    if result_type != "complete" and (modern or result_type is not None):
        return None
    blocks = raw.get("content")
    if not isinstance(blocks, list):
        return None
    content: list[JSON] = []
    for block in blocks:
        plain = _plain_block(block)
        if plain is None:
            return None
        content.append(plain)
    result: JSON = {}
    if "_meta" in raw:
        if not isinstance(meta := raw["_meta"], dict):
            return None
        result["_meta"] = meta
    result["content"] = content
    if "structuredContent" in raw:
        if not isinstance(structured := raw["structuredContent"], dict):
            return None
        result["structuredContent"] = structured
    is_error = raw.get("isError", False)
    if not isinstance(is_error, bool):
        return None
    result["isError"] = is_error
    result["resultType"] = "complete"
    return result


def _plain_block(block: object) -> JSON | None:
    """A content block of text, image or audio with nothing but its own fields, all strings, as
    the SDK's model dumps it; None for any other."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "text" and _TEXT_KEYS.issuperset(block) and isinstance(text := block.get("text"), str):
        return {"type": "text", "text": text}
    if (
        (kind == "image" or kind == "audio")
        and _MEDIA_KEYS.issuperset(block)
        and isinstance(data := block.get("data"), str)
        and isinstance(mime := block.get("mimeType"), str)
    ):
        return {"type": kind, "data": data, "mimeType": mime}
    return None


_PROMPT_KEYS: Final = frozenset(("_meta", "description", "messages", "resultType"))
_MESSAGE_KEYS: Final = frozenset(("role", "content"))


def plain_prompt_result(raw: Mapping[str, Any], *, modern: bool) -> JSON | None:
    """``raw`` as the SDK's ``GetPromptResult`` dumps it, or None when it takes the SDK to read it.

    Plain means: only the keys above; ``resultType`` as for a tool; a string description;
    messages of a user or an assistant holding one plain content block (as a tool's); ``_meta``
    an object.
    """
    if not _PROMPT_KEYS.issuperset(raw):
        return None
    result_type = raw.get("resultType")
    if result_type != "complete" and (modern or result_type is not None):
        return None
    listed = raw.get("messages")
    if not isinstance(listed, list):
        return None
    messages: list[JSON] = []
    for message in listed:
        if not isinstance(message, dict) or not _MESSAGE_KEYS.issuperset(message):
            return None
        role = message.get("role")
        content = _plain_block(message.get("content"))
        if (role != "user" and role != "assistant") or content is None:
            return None
        messages.append({"role": role, "content": content})
    result: JSON = {}
    if "_meta" in raw:
        if not isinstance(meta := raw["_meta"], dict):
            return None
        result["_meta"] = meta
    if "description" in raw:
        if not isinstance(description := raw["description"], str):
            return None
        result["description"] = description
    result["messages"] = messages
    result["resultType"] = "complete"
    return result


_RESOURCE_KEYS: Final = frozenset(("_meta", "ttlMs", "cacheScope", "contents", "resultType"))
_TEXT_CONTENTS: Final = frozenset(("uri", "mimeType", "text"))
_BLOB_CONTENTS: Final = frozenset(("uri", "mimeType", "blob"))


def plain_resource_result(raw: Mapping[str, Any], *, modern: bool) -> JSON | None:
    """``raw`` as the SDK's ``ReadResourceResult`` dumps it, or None when it takes the SDK to read it.

    Plain means: only the keys above (the caching hints only at 2026-07-28, which has them);
    ``resultType`` as for a tool; contents of text or a blob with a URI and perhaps a MIME type,
    all strings, and nothing else; ``_meta`` an object.
    """
    if not _RESOURCE_KEYS.issuperset(raw):
        return None
    result_type = raw.get("resultType")
    if result_type != "complete" and (modern or result_type is not None):
        return None
    ttl = raw.get("ttlMs", 0)
    scope = raw.get("cacheScope", "private")
    if not modern and ("ttlMs" in raw or "cacheScope" in raw):
        return None
    if not isinstance(ttl, int) or isinstance(ttl, bool) or scope not in ("public", "private"):
        return None
    listed = raw.get("contents")
    if not isinstance(listed, list):
        return None
    contents: list[JSON] = []
    for item in listed:
        if not isinstance(item, dict) or not isinstance(uri := item.get("uri"), str):
            return None
        entry: JSON = {"uri": uri}
        if "mimeType" in item:
            if not isinstance(mime := item["mimeType"], str):
                return None
            entry["mimeType"] = mime
        if _TEXT_CONTENTS.issuperset(item) and isinstance(text := item.get("text"), str):
            entry["text"] = text
        elif _BLOB_CONTENTS.issuperset(item) and isinstance(blob := item.get("blob"), str):
            entry["blob"] = blob
        else:
            return None
        contents.append(entry)
    result: JSON = {}
    if "_meta" in raw:
        if not isinstance(meta := raw["_meta"], dict):
            return None
        result["_meta"] = meta
    result["ttlMs"] = max(ttl, 0)  # the SDK floors a negative one (a 2026-07-28 SHOULD)
    result["cacheScope"] = scope
    result["contents"] = contents
    result["resultType"] = "complete"
    return result


def sdk_result(client: Client, method: str, raw: dict[str, Any]) -> types.Result:
    """A raw ``tools/call``, ``resources/read`` or ``prompts/get`` result read as the SDK's session reads it:
    checked against the negotiated revision, parsed into a result, an input-required result or
    (a tool's) a claimed shape (a task); a tool's output schema is not checked here. Raises as
    the SDK does (``ValidationError``).
    """
    session = client.session
    version = client.protocol_version
    # ClientSession.send_request's steps for a result, in its order (it has no seam for a raw result).
    _clamp_inbound_ttl(raw)
    with contextlib.suppress(KeyError):  # a revision the surface does not know: the model alone reads it
        validate_server_result(method, version, raw)
    if not (foreign := _later_revision_fields(method, version)).isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    adapter: TypeAdapter[Any] = (
        session._call_tool_adapter
        if method == "tools/call"
        else _ReadResourceResultAdapter
        if method == "resources/read"
        else _GetPromptResultAdapter
    )
    parsed: types.Result = adapter.validate_python(raw, by_name=False)
    return parsed
