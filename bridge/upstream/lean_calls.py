"""Lean requests beside the SDK's client session: the channel both transports offer, and its bookkeeping.

Every request through the SDK's ``ClientSession`` builds pydantic request models, passes anyio
memory streams, a request clock and a tracing span, and validates its result into a model that
the bridge then dumps to JSON again. For the common requests none of that changes the outcome,
so a transport may offer a ``LeanChannel`` on the same connection: the request goes out as one
JSON object, the response's ``result`` comes back as the parsed dict, matched by an id of the
lean channel's own. The SDK session keeps the handshake, pings, the catalog, subscriptions and
every request the lean channel does not take (``bridge/upstream/session.py`` decides which).

``LeanRequests`` is what both transports share: the ids, which can never collide with the SDK
session's (its dispatcher numbers its requests with integers; these are strings with a fixed
prefix), the table of the requests awaiting their answers, how an answer settles one, and the
SDK session's own stamp (at 2026-07-28 the protocol version, client info and capabilities in
``_meta``, and the ``MCP-*`` headers), so a lean request reads upstream as the SDK's would.

What comes back is read as the SDK would read it: ``plain_tool_result`` gives the common
``tools/call`` result (text, image and audio content, structured content, ``_meta``) exactly as
the SDK's model of it dumps, without building the model, and ``plain_resource_result`` and
``plain_prompt_result`` the common ``resources/read`` and ``prompts/get`` results; anything else
goes through the SDK's own reading (``sdk_result``), with its checks and its errors. The wire is
read and written with pydantic-core's JSON codec, the one the SDK's transports use, so numbers
come out the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, Final, Protocol

import mcp_types as types
from mcp import Client
from mcp.client.session import (
    ClientSession,
    _clamp_inbound_ttl,
    _GetPromptResultAdapter,
    _later_revision_fields,
    _ReadResourceResultAdapter,
)
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import CONNECTION_CLOSED, INTERNAL_ERROR
from mcp_types.methods import validate_server_result
from pydantic import TypeAdapter

from bridge.model import JSON

__all__ = [
    "LEAN_ID_PREFIX",
    "LeanChannel",
    "LeanRequests",
    "connection_closed",
    "plain_prompt_result",
    "plain_resource_result",
    "plain_tool_result",
    "sdk_result",
]

#: Lean request ids are strings with this prefix; the SDK's dispatcher mints integers.
LEAN_ID_PREFIX: Final = "lean-"


class LeanChannel(Protocol):
    """Raw JSON-RPC requests on an upstream connection, beside its SDK session."""

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The raw JSON ``result`` of one JSON-RPC request.

        A JSON-RPC error answer raises ``mcp.shared.exceptions.MCPError(code, message, data)``;
        a lost transport raises what the SDK path raises for it (so ``translate.is_connection_loss``
        is true); if the awaiting task is cancelled (deadline, caller gone), the server is sent
        ``notifications/cancelled`` for it.
        """
        ...


def connection_closed() -> MCPError:
    """What the SDK's dispatcher raises for a request whose connection is gone."""
    return MCPError(code=CONNECTION_CLOSED, message="Connection closed")


class LeanRequests:
    """The lean requests of one connection: their ids, the ones awaiting answers, and the stamp."""

    def __init__(self) -> None:
        #: How many lean requests this connection has sent (the last id's number).
        self.sent = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._session: ClientSession | None = None
        #: Set once the connection is gone: every request fails at once from then on.
        self.closed = False

    def bind(self, session: ClientSession) -> None:
        """Stamp requests as ``session`` does, now that its handshake is done."""
        self._session = session

    def stamped(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """``params`` with the SDK session's stamp for ``method``, and the headers it adds (HTTP's)."""
        session = self._session
        if session is None:
            raise RuntimeError("a lean request before its session's handshake")
        data: dict[str, Any] = {"method": method, "params": params}
        opts: Any = {}
        # The SDK session's own stamp (no public seam for it), so a lean request carries what the session's would.
        session._stamp(data, opts)
        return data["params"], opts.get("headers") or {}

    def open(self) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """A fresh id and the future its answer settles; ``forget`` it when done."""
        if self.closed:
            raise connection_closed()
        self.sent += 1
        request_id = f"{LEAN_ID_PREFIX}{self.sent}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        return request_id, future

    def forget(self, request_id: str) -> None:
        """A late answer to ``request_id`` is dropped from now on."""
        self._waiting.pop(request_id, None)

    def answers(self, message: Mapping[str, Any]) -> bool:
        """``message`` is a response (of JSON-RPC shape) to a lean request awaiting its answer.

        One of no JSON-RPC shape answers nothing (the SDK's transport drops such a line too).
        """
        request_id = message.get("id")
        if not isinstance(request_id, str) or request_id not in self._waiting:
            return False
        return isinstance(message.get("error"), Mapping) or isinstance(message.get("result"), dict)

    def settle(self, message: Mapping[str, Any]) -> None:
        """Settle the request a response ``message`` ``answers``, unless it is no longer awaited."""
        future = self._waiting.pop(message["id"], None)
        if future is None or future.done():
            return
        error = message.get("error")
        if isinstance(error, Mapping):
            future.set_exception(_error(error))
        else:
            future.set_result(message["result"])

    def close(self) -> None:
        """The connection is gone: every request awaiting an answer fails as on the SDK path."""
        self.closed = True
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(connection_closed())


def _error(error: Mapping[str, Any]) -> MCPError:
    code = error.get("code")
    message = error.get("message")
    return MCPError(
        code=code if isinstance(code, int) and not isinstance(code, bool) else INTERNAL_ERROR,
        message=message if isinstance(message, str) else "",
        data=error.get("data"),
    )


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
