"""The lean path for MCP clients on ``/mcp``: their common requests answered on the loop, without the SDK's server.

An MCP client's ``tools/call`` through the SDK's Streamable HTTP app cost the gateway 1.1–1.5 ms
of CPU (issue 17; a profile: the SDK's transport, its memory streams and task groups, Starlette,
pydantic round trips of every message; the gateway call itself a fraction). Here the request is parsed
once, its MCP headers checked, and the gateway called through the same backend as the SDK's
handlers (``GatewayBackend``: the same errors, the same audit), with the principal the gate put
in ``scope["state"]``; the answer is the message the SDK's server would send, as JSON, or as
an SSE stream from the call's first notification (or after ``PING_SECONDS`` of silence, then
pinged), carrying the progress and log notifications the upstream sends, then the response:

- a 2025-era client (a session the SDK opened, ``bridge.endpoint.mcp_sessions``): the SDK's
  server would use SSE even for a lone answer, which costs its client a new connection per call
  (``lean_exchange``);
- a 2026-07-28 client: the result stamped with the gateway's ``serverInfo``.

Only requests the lean path answers exactly as the SDK would are taken: ``tools/call``,
``tools/list``, ``resources/read`` and ``prompts/get`` of both generations, well formed, with a
small ``Content-Length`` body, not a task, not a retry with answers, not a page past the first;
a 2025-era session's ``tools/list`` once the SDK's handler has listed for it (and so keeps it,
to tell it when the lists change). A 2025-era client that declared sampling or elicitation is
asked an upstream's question on its call's own stream, as the SDK asks it, and POSTs its answer
back here (``Questions``). A 2026-07-28 client that declared either is served here only for a
listing, or a tool call whose server speaks 2026-07-28 too: the server's questions then come
back inside the result, which goes to the client as the SDK's path sends it (only the questions
it can answer), and its retry with the answers goes to the SDK; a 2025-era server's mid-call
question to such a client needs the SDK's held call and rounds. An upstream's question to a
client that declared no capability for it is refused as the SDK refuses it (2026-07-28: -32021).
Anything else, and every request whose headers, session or body are off, goes to the SDK with
its body replayed, so it answers as it always has: ``initialize``, GET streams, DELETE,
notifications, subscriptions, tasks, errors. Cancellation: the client going away, or a 2025-era
client's ``notifications/cancelled`` naming a request served here, cancels the upstream call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable
from enum import Enum
from typing import Any, Final, NamedTuple

import mcp_types as types
import orjson
from mcp.server.runner import modern_error_data
from mcp.shared.inbound import (
    NAME_BEARING_METHODS,
    X_MCP_HEADER_KEY,
    InboundLadderRejection,
    classify_inbound_request,
    validate_mcp_param_headers,
)
from mcp_types import methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from bridge.endpoint.asgi import PRINCIPAL
from bridge.endpoint.jsonrpc import MCP_PATH
from bridge.endpoint.lean_exchange import Answer, Exchange, LeanRelay, Questions, Watch, Watches
from bridge.endpoint.lean_meta import sdk_takes_meta
from bridge.endpoint.lean_results import plain_call_result
from bridge.endpoint.mcp_replay import SessionEvents, events_of
from bridge.endpoint.mcp_sessions import SessionLedger, replayed
from bridge.endpoint.server import GatewayServer
from bridge.endpoint.session_seal import SessionSeal
from bridge.errors import BridgeError
from bridge.gateway.naming import qualify
from bridge.mcpserver import Caller
from bridge.mcpserver.handlers import SERVER_INFO_META, as_ours
from bridge.mcpserver.relay import answerable
from bridge.mcpserver.tasks import TASKS
from bridge.model import INPUT_REQUIRED, JSON, task_support_of
from bridge.store.sessions import SessionEnds
from bridge.telemetry import REQUEST_ID_META, TRACEPARENT, current

from .http import ASGIApp, Headers, Receive, Scope, Send, read_body

__all__ = ["ACCEPTED", "LeanMcp", "Taken", "accepted"]

access = logging.getLogger("bridge.access")

#: Bodies larger than this, or without ``Content-Length``, go to the SDK unread (its own limit answers).
MAX_LEAN_BODY: Final = 256 * 1024
#: How many tools' input schemas ``LeanMcp`` remembers whether they annotate headers.
MAX_SCHEMAS: Final = 4096
#: How many ``tools/list`` results ``LeanMcp`` keeps (one per catalog a caller sees, per revision).
MAX_LISTS: Final = 32
#: What a client declares that makes it answerable: its calls keep the SDK's channels.
_ASKABLE: Final = ("sampling", "elicitation")
_ASKABLE_KEYS: Final = frozenset(_ASKABLE)
#: A request with any of these params is the SDK's: a task asked for, or an input-required round's answers.
_NOT_LEAN_PARAMS: Final = frozenset(("task", "inputResponses", "requestState"))
#: A request's params without ``_meta``.
_NO_META: Final[JSON] = {}
#: How the SDK's handlers type each result the lean path forwards.
_RESULTS: Final[dict[str, type[BaseModel]]] = {
    "tools/call": types.CallToolResult,
    "resources/read": types.ReadResourceResult,
    "prompts/get": types.GetPromptResult,
}
#: The headers a 2026-07-28 request is routed by, which it may carry once only.
_ROUTING: Final = frozenset({b"mcp-protocol-version", b"mcp-method", b"mcp-name"})
#: The revision from which a stream begins with a priming event (an id, so a client cut off at
#: once can resume), as the SDK's server begins its own.
PRIMED_FROM: Final = "2025-11-25"

#: A request's headers as the HTTP server parsed them (lowercase names); what an edge attached to it.
RawHeaders = list[tuple[bytes, bytes]]
State = dict[str, Any]


class Taken(NamedTuple):
    """A request the lean path serves: what ``LeanMcp.triage`` read of it, and whom it is for (``state``)."""

    id: str | int
    method: str
    params: JSON
    modern: bool
    session_id: str
    declared: JSON
    state: State
    #: A 2025-era session's record of its streams (a stream that begins is resumable), and whether
    #: its streams begin with a priming event (the request speaks 2025-11-25 or later).
    events: SessionEvents | None = None
    primes: bool = False


class Accepted(Enum):
    ACCEPTED = "accepted"


#: ``LeanMcp.triage``: a 2025-era message handled already, answered 202 (``accepted``).
ACCEPTED: Final = Accepted.ACCEPTED


@functools.lru_cache(maxsize=64)  # a client sends the same Accept every time
def _accepts_both(accept: str) -> bool:
    """Whether ``Accept`` takes JSON and SSE (wildcards included), as the SDK requires of a POST."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "*/*" in kinds:
        return True
    return bool(kinds & {"application/json", "application/*"}) and bool(kinds & {"text/event-stream", "text/*"})


def _request(message: Any, modern: bool, version: str) -> tuple[str | int, str, JSON] | None:
    """``(id, method, params)`` of a request the lean path takes; None for anything else (a
    ``_meta`` the SDK's server would refuse, too: ``bridge.endpoint.lean_meta``)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    rid, method, params = message.get("id"), message.get("method"), message.get("params", {})
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or not isinstance(params, dict):
        return None
    meta = params.get("_meta", _NO_META)
    if meta is not _NO_META and (type(meta) is not dict or not sdk_takes_meta(meta, version, modern)):
        return None
    if method == "tools/list":
        return (rid, method, params) if "cursor" not in params else None
    if method == "tools/call":
        taken = isinstance(params.get("name"), str) and isinstance(params.get("arguments", {}), dict)
    elif method == "prompts/get":
        arguments = params.get("arguments")
        taken = isinstance(params.get("name"), str) and (
            arguments is None or (isinstance(arguments, dict) and all(isinstance(v, str) for v in arguments.values()))
        )
    elif method == "resources/read":
        taken = isinstance(params.get("uri"), str)
    else:
        return None
    return (rid, method, params) if taken and _NOT_LEAN_PARAMS.isdisjoint(params) else None


class LeanMcp:
    """``/mcp`` for an MCP client's common requests; the SDK's app (``sdk``) for everything else."""

    def __init__(
        self,
        gateway_server: GatewayServer,
        *,
        tasks: bool,
        seal: SessionSeal | None = None,
        ends: SessionEnds | None = None,
    ) -> None:
        self._server = gateway_server.server
        self._backend = gateway_server.backend
        self._levels = gateway_server.handlers.levels
        self._announced = gateway_server.handlers.sessions
        self._tasks = tasks
        self.sessions = SessionLedger(self._server, seal, ends)
        self._stamp = self._server.server_info_stamp
        #: Input schemas seen, by id (the schema kept, so the id is not reused): whether they annotate headers.
        self._schemas: dict[int, tuple[Any, bool]] = {}
        #: ``tools/list`` results as sent, by revision and the listing's own bytes (``_listed``).
        self._lists: dict[tuple[bool, bytes], JSON] = {}
        self._watches = Watches()
        #: Requests served here, by session and request id, for ``notifications/cancelled``.
        self._running: dict[tuple[str, str | int], asyncio.Task[Any]] = {}
        #: Those of them their client cancelled (``notifications/cancelled``): their streams end unanswered.
        self._called_off: set[asyncio.Task[Any]] = set()
        self._questions = Questions()
        #: ``_particular``'s names, and the gateway's catalog version they were made at.
        self._particular_of: tuple[int, frozenset[str]] = (-1, frozenset())

    async def __call__(self, scope: Scope, receive: Receive, send: Send, headers: Headers, sdk: ASGIApp) -> None:
        session_id = headers.get("mcp-session-id", "")
        if session_id and not self.sessions.known(session_id):  # opened on another instance, or gone
            await self.sessions.revive(session_id, scope["state"][PRINCIPAL].subject)
        length = headers.get("content-length", "")
        if scope["method"] != "POST" or not length.isdigit() or int(length) > MAX_LEAN_BODY:
            await sdk(scope, receive, send)
            return
        body = await read_body(receive, MAX_LEAN_BODY)
        if not session_id and headers.get("mcp-protocol-version", "") not in MODERN_PROTOCOL_VERSIONS:
            await self.sessions.opening(scope, body, receive, send, sdk, scope["state"][PRINCIPAL].subject)
            return
        found = self.triage(body, headers, scope["headers"], scope["state"])
        if found is ACCEPTED:
            await accepted(send, session_id)
        elif found is not None:
            await self.serve(found, send, receive)
        else:
            await sdk(scope, replayed(body, receive), send)

    def admits(self, headers: Headers) -> bool:
        """Whether a ``POST`` with these headers can be triaged as soon as its body is in hand: it
        names a session this instance holds, or it speaks 2026-07-28 (a session to revive, and a
        2025-era client's handshake, go through ``__call__``)."""
        session_id = headers.get("mcp-session-id", "")
        if session_id:
            return self.sessions.known(session_id)
        return headers.get("mcp-protocol-version", "") in MODERN_PROTOCOL_VERSIONS

    def triage(self, body: bytes, headers: Headers, raw: RawHeaders, state: State) -> Taken | Accepted | None:
        """What becomes of a ``POST`` the caller (``state[PRINCIPAL]``) sent with ``body``: served here
        (``serve``), answered 202 at once (``ACCEPTED``: a 2025-era client's cancellation of a request
        served here, or its answer to a question, both done already), or None: the SDK's. Serving
        here or not is decided before anything is done."""
        session_id = headers.get("mcp-session-id", "")
        version = headers.get("mcp-protocol-version", "")
        modern = version in MODERN_PROTOCOL_VERSIONS
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        if not modern and (self._cancelled(message, session_id) or self._questions.answered(session_id, message)):
            return ACCEPTED
        return self._taken(message, modern, version, session_id, headers, raw, state)

    def _cancelled(self, message: Any, session_id: str) -> bool:
        """Whether ``message`` is a 2025-era ``notifications/cancelled`` naming a request served here
        (then that call is cancelled)."""
        if not isinstance(message, dict) or message.get("method") != "notifications/cancelled" or "id" in message:
            return False
        params = message.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        task = self._running.get((session_id, request_id)) if isinstance(request_id, str | int) else None
        if task is None:
            return False
        self._called_off.add(task)
        task.cancel()
        return True

    def _taken(
        self, message: Any, modern: bool, version: str, session_id: str, headers: Headers, raw: RawHeaders, state: State
    ) -> Taken | None:
        """What the lean path serves of this request, if it serves it."""
        request = _request(message, modern, version)
        if request is None or not _accepts_both(headers.get("accept", "")):
            return None
        rid, method, params = request
        if modern:
            if not _routed_once(raw, headers):
                return None
            if not _agreeing(params, method, version, headers) and isinstance(
                classify_inbound_request(message, headers=headers.lowercase()), InboundLadderRejection
            ):
                return None
            declared = params["_meta"][types.CLIENT_CAPABILITIES_META_KEY]
            if not isinstance(declared, dict) or TASKS in (declared.get("extensions") or {}):
                return None
        else:
            if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
                return None
            if not headers.get("content-type", "").lower().startswith("application/json"):
                return None
            transport = self.sessions.transport(session_id)
            found = self.sessions.declared(session_id)
            if transport is None or found is None:
                return None
            if method == "tools/list" and not self._announced.touch(session_id):
                return None  # the SDK's handler lists it first, and keeps the session to tell it of changes
            self.sessions.hold(transport)
            declared = found
            events = events_of(transport)
        if modern and method != "tools/list" and not self._asked_in_results(method, params, declared, state):
            return None
        if method == "tools/call" and not self._plain_call(params, state, modern):
            return None
        if modern:
            return Taken(rid, method, params, modern, session_id, declared, state)
        return Taken(rid, method, params, modern, session_id, declared, state, events, version >= PRIMED_FROM)

    def _asked_in_results(self, method: str, params: JSON, declared: JSON, state: State) -> bool:
        """Whether a 2026-07-28 client that may be asked something can be served here: it declared
        no capability to answer, or the tool's server asks inside its result."""
        if _ASKABLE_KEYS.isdisjoint(declared) or all(declared.get(kind) is None for kind in _ASKABLE):
            return True
        return method == "tools/call" and self._backend.asks_in_results(params["name"], Caller(state))

    def _still_open(self, session_id: str) -> None:
        """A 2025-era session whose request ended here: its idle timeout counts from now."""
        transport = self.sessions.transport(session_id)
        if transport is not None:
            self.sessions.hold(transport)

    def _plain_call(self, params: JSON, state: State, modern: bool) -> bool:
        """Whether a ``tools/call`` is neither a task the tool requires nor one with parameter headers to check."""
        arguments = params.get("arguments") or {}
        if not self._tasks and not (modern and arguments):
            return True
        if params["name"] not in self._particular():  # no tool of that name needs a look
            return True
        tool = self._backend.tool(params["name"], Caller(state))
        if tool is None:  # the call itself says what is wrong with the name
            return True
        if self._tasks and task_support_of(tool) == "required":
            return False
        if modern and arguments:
            schema = tool.get("inputSchema")
            if schema is None or not self._annotated(schema):
                return True
            return validate_mcp_param_headers(schema, arguments, {}) is None
        return True

    def _particular(self) -> frozenset[str]:
        """The names, bare and qualified, of the tools a call of which ``_plain_call`` must look at: those
        whose input schema annotates headers, or (with tasks) that must run as tasks. Made again when a
        catalog changes; a name not among them resolves to no such tool, for any caller."""
        gateway = self._backend.gateway
        version = gateway.catalog_version
        if self._particular_of[0] != version:
            names: set[str] = set()
            for server in gateway.upstreams.names():
                try:
                    tools = gateway.upstreams.catalog(server).tools
                except BridgeError:  # removed meanwhile
                    continue
                for local, tool in tools.items():
                    schema = tool.get("inputSchema")
                    if (self._tasks and task_support_of(tool) == "required") or (
                        schema is not None and self._annotated(schema)
                    ):
                        names.update((local, qualify(server, local)))
            self._particular_of = (version, frozenset(names))
        return self._particular_of[1]

    def _annotated(self, schema: Any) -> bool:
        """Whether ``schema`` has ``x-mcp-header`` annotations anywhere; remembered per schema object."""
        known = self._schemas.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        if len(self._schemas) >= MAX_SCHEMAS:  # catalogs change: forget the old ones
            self._schemas.clear()
        found = _has_key(schema, X_MCP_HEADER_KEY)
        self._schemas[id(schema)] = (schema, found)
        return found

    async def serve(self, taken: Taken, send: Send, receive: Receive, reply: Answer | None = None) -> None:
        """Serve a request ``triage`` took, answering on ``send`` (a whole JSON answer on ``reply``, when
        given); ``receive`` says when its client has gone."""
        rid, method, params, modern, session_id, declared, state, events, primes = taken
        started = time.perf_counter()
        me = asyncio.current_task()
        assert me is not None
        meta: JSON = params.get("_meta") or {}
        if (TRACEPARENT in meta or REQUEST_ID_META in meta) and (context := current.get()) is not None:
            context.continue_from(meta)  # what the request's header fields did not name (continue_request)
        level = meta.get(types.LOG_LEVEL_META_KEY) if modern else (self._levels.of(session_id) or "debug")
        exchange = Exchange(send, modern, session_id, reply, events, primes)
        ask = None
        if not modern and any(declared.get(kind) is not None for kind in _ASKABLE):
            ask = self._questions.asker(exchange, session_id, declared)
        level = level if isinstance(level, str) else None
        relay = LeanRelay(exchange, meta.get("progressToken"), level, modern, me.cancel, declared, ask)
        caller = Caller(state, str(rid))
        watch = Watch(exchange, receive, me)
        self._watches.add(watch)
        key = (session_id, rid)
        if not modern:
            self._running[key] = me
        answer: JSON | None
        try:
            if method == "tools/list":
                result: JSON = {"tools": await self._backend.listing("tools", caller)}
            else:
                result = await self._forwarded(method, params, caller, relay)
                if (flushing := relay.flushed()) is not None:
                    await flushing
            answer = {"jsonrpc": "2.0", "id": rid, "result": self._wire(method, result, modern, declared)}
        except asyncio.CancelledError:
            if relay.refusal is None:
                if me in self._called_off:  # cancelled by notifications/cancelled: the stream ends unanswered
                    me.uncancel()
                    answer = None
                else:  # its client gone, or the server stopping (the drain answers it)
                    exchange.abandon()
                    raise
            else:
                me.uncancel()
                answer = {"jsonrpc": "2.0", "id": rid, "error": _error(relay.refusal)}
        except Exception as exc:  # MCPError is the client's answer; anything else a bug, logged
            answer = {"jsonrpc": "2.0", "id": rid, "error": _error(exc)}
        finally:
            self._watches.remove(watch)
            if not modern:
                self._running.pop(key, None)
                self._called_off.discard(me)
                self._still_open(session_id)
        status = await exchange.finish(answer)
        if access.isEnabledFor(logging.INFO):  # path, method and status only: headers may carry secrets
            access.info("POST %s %s %s %.1fms", MCP_PATH, method, status, (time.perf_counter() - started) * 1000)

    def _forwarded(self, method: str, params: JSON, caller: Caller, relay: LeanRelay) -> Awaitable[JSON]:
        """The gateway's answer to a ``tools/call``, ``resources/read`` or ``prompts/get``, as the
        SDK's handlers ask for it."""
        if method == "tools/call":
            return self._backend.call_tool(params["name"], params.get("arguments") or {}, caller, relay)
        if method == "resources/read":
            return self._backend.read_resource(params["uri"], caller, relay)
        return self._backend.get_prompt(params["name"], params.get("arguments") or {}, caller, relay)

    def _wire(self, method: str, result: JSON, modern: bool, declared: JSON) -> JSON:
        """``result`` as the SDK's server sends it: typed as its handler types it, dumped, shaped for the
        version (``_serialize`` of the SDK's runner), and at 2026-07-28 stamped with the gateway's ``serverInfo``."""
        if method == "tools/call" and (plain := plain_call_result(result, modern)) is not None:
            if modern:
                plain["_meta"] = {SERVER_INFO_META: self._stamp}
            return plain
        if method == "tools/list":
            listed = self._listed(result["tools"], modern)
            return self._stamped(listed) if modern else listed
        typed: BaseModel
        if modern and result.get("resultType") == INPUT_REQUIRED:
            typed = types.InputRequiredResult.model_validate(
                answerable(result, types.ClientCapabilities.model_validate(declared))
            )
        else:
            typed = _RESULTS[method].model_validate(as_ours(result))
        wire = self._shaped(method, typed, modern)
        return self._stamped(wire) if modern else wire

    def _listed(self, tools: list[JSON], modern: bool) -> JSON:
        """A ``tools/list`` result as the SDK's server sends it (not stamped). Typing and shaping a
        listing costs about 18 µs per tool, and an SDK client without a cache lists the tools
        before every call; the same listing gives the same result, so each is kept by its bytes."""
        key = (modern, orjson.dumps(tools))
        listed = self._lists.get(key)
        if listed is None:
            typed = types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in tools])
            listed = self._shaped("tools/list", typed, modern)
            if len(self._lists) >= MAX_LISTS:  # catalogs change, callers see different ones: start again
                self._lists.clear()
            self._lists[key] = listed
        return listed

    @staticmethod
    def _shaped(method: str, typed: BaseModel, modern: bool) -> JSON:
        """``typed`` dumped and shaped for the version (``_serialize`` of the SDK's runner)."""
        dumped = typed.model_dump(by_alias=True, mode="json", exclude_none=True)
        version = MODERN_PROTOCOL_VERSIONS[0] if modern else HANDSHAKE_PROTOCOL_VERSIONS[-1]
        wire: JSON = methods.serialize_server_result(method, version, dumped)
        if modern:
            wire.setdefault("resultType", "complete")
        return wire

    def _stamped(self, result: JSON) -> JSON:
        meta = result.get("_meta")
        if meta is None:
            return {**result, "_meta": {SERVER_INFO_META: self._stamp}}
        if isinstance(meta, dict) and meta.get(SERVER_INFO_META) is None:
            return {**result, "_meta": {**meta, SERVER_INFO_META: self._stamp}}
        return result


async def accepted(send: Send, session_id: str) -> None:
    """202, as the SDK answers a 2025-era session's notification or response."""
    head = [(b"content-type", b"application/json"), (b"content-length", b"0")]
    head.append((b"mcp-session-id", session_id.encode("latin-1")))
    await send({"type": "http.response.start", "status": 202, "headers": head})
    await send({"type": "http.response.body", "body": b""})


def _agreeing(params: JSON, method: str, version: str, headers: Headers) -> bool:
    """Whether a 2026-07-28 request's envelope and headers agree as the SDK's ladder
    (``classify_inbound_request``) asks, in the common case; False leaves it to the ladder."""
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return False
    if meta.get(types.PROTOCOL_VERSION_META_KEY) != version or types.CLIENT_CAPABILITIES_META_KEY not in meta:
        return False
    if headers.get("mcp-method", "") != method:
        return False
    if method in NAME_BEARING_METHODS:  # a value the SDK would not decode (no "=?base64?" sentinel)
        name = headers.get("mcp-name", "")
        return name == params.get(NAME_BEARING_METHODS[method]) and not name.startswith("=?")
    return True


def _routed_once(raw: Any, headers: Headers) -> bool:
    """Whether no routing header (``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``) comes twice
    and none is an ``Mcp-Param-*`` (checked against the tool's schema by the SDK), in one pass."""
    if len(headers) == len(raw):  # no name came twice: only an Mcp-Param-* to look for, in one string
        return "\nmcp-param-" not in "\n" + "\n".join(headers.lowercase())
    seen: set[bytes] = set()
    for name, _ in raw:  # names in lower case, as the HTTP server gives them
        if name[:4] == b"mcp-":
            if name in seen or name.startswith(b"mcp-param-"):
                return False
            if name in _ROUTING:
                seen.add(name)
    return True


def _has_key(value: Any, key: str) -> bool:
    """Whether ``key`` is a key of any object within ``value`` (a JSON document)."""
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def _error(exc: Exception) -> JSON:
    error = modern_error_data(exc)
    dumped: JSON = error.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
