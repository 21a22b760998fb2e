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
the SDK's model of it dumps, without building the model; anything else goes through the SDK's
own reading (``sdk_tool_result``), with its checks and its errors. The wire is read and written
with pydantic-core's JSON codec, the one the SDK's transports use, so numbers come out the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, Final, Protocol

import mcp_types as types
from mcp import Client
from mcp.client.session import ClientSession, _clamp_inbound_ttl, _later_revision_fields
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import CONNECTION_CLOSED, INTERNAL_ERROR
from mcp_types.methods import validate_server_result

from bridge.model import JSON

__all__ = [
    "LEAN_ID_PREFIX",
    "LeanChannel",
    "LeanRequests",
    "connection_closed",
    "plain_tool_result",
    "sdk_tool_result",
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
        if not isinstance(block, dict):
            return None
        kind = block.get("type")
        if kind == "text" and _TEXT_KEYS.issuperset(block) and isinstance(text := block.get("text"), str):
            content.append({"type": "text", "text": text})
        elif (
            (kind == "image" or kind == "audio")
            and _MEDIA_KEYS.issuperset(block)
            and isinstance(data := block.get("data"), str)
            and isinstance(mime := block.get("mimeType"), str)
        ):
            content.append({"type": kind, "data": data, "mimeType": mime})
        else:
            return None
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


def sdk_tool_result(client: Client, raw: dict[str, Any]) -> types.CallToolResult | types.Result:
    """A raw ``tools/call`` result read as the SDK's session reads it: checked against the
    negotiated revision, parsed into a result, an input-required result or a claimed shape
    (a task); the output schema is not checked here. Raises as the SDK does (``ValidationError``).
    """
    session = client.session
    version = client.protocol_version
    # ClientSession.send_request's steps for a result, in its order (it has no seam for a raw result).
    _clamp_inbound_ttl(raw)
    with contextlib.suppress(KeyError):  # a revision the surface does not know: the model alone reads it
        validate_server_result("tools/call", version, raw)
    if not (foreign := _later_revision_fields("tools/call", version)).isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    parsed: types.CallToolResult | types.Result = session._call_tool_adapter.validate_python(raw, by_name=False)
    return parsed
