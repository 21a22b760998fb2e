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
prefix), the table of the requests awaiting their answers, how an answer settles one, how the
progress on a request that asked for it (its id is its token, as the SDK's dispatcher makes it)
is handed over, in order and before the request returns, and the SDK session's own stamp (at
2026-07-28 the protocol version, client info and capabilities in ``_meta``, and the ``MCP-*``
headers), so a lean request reads upstream as the SDK's would.

What comes back is read as the SDK would read it (``bridge/upstream/plain_results.py``); the
session decides which requests go lean and ends each as on the SDK's path
(``bridge/upstream/lean_path.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import mcp_types as types
from mcp.client.session import ClientSession
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, NAME_BEARING_METHODS, encode_header_value
from mcp_types.jsonrpc import CONNECTION_CLOSED, INTERNAL_ERROR

from bridge.upstream.tasks import TASKS

__all__ = ["LEAN_ID_PREFIX", "LeanChannel", "LeanRequests", "cancellation", "connection_closed", "error_of"]

log = logging.getLogger(__name__)

#: Lean request ids are strings with this prefix; the SDK's dispatcher mints integers.
LEAN_ID_PREFIX: Final = "lean-"


class LeanChannel(Protocol):
    """Raw JSON-RPC requests on an upstream connection, beside its SDK session."""

    async def request(
        self, method: str, params: dict[str, Any], on_progress: ProgressFnT | None = None
    ) -> dict[str, Any]:
        """The raw JSON ``result`` of one JSON-RPC request.

        A JSON-RPC error answer raises ``mcp.shared.exceptions.MCPError(code, message, data)``;
        a lost transport raises what the SDK path raises for it (so ``translate.is_connection_loss``
        is true); if the awaiting task is cancelled (deadline, caller gone), the server is sent
        ``notifications/cancelled`` for it. With ``on_progress`` the request carries a
        ``progressToken`` (its id, as the SDK's), and the server's progress on it is handed over.
        """
        ...


def connection_closed() -> MCPError:
    """What the SDK's dispatcher raises for a request whose connection is gone."""
    return MCPError(code=CONNECTION_CLOSED, message="Connection closed")


def _without_tasks(params: dict[str, Any]) -> dict[str, Any]:
    """A lean ``tools/call``'s params with the tasks extension left out of its declared capabilities.

    A call goes lean only when its tool declares no task support, and the bridge waits for its
    result anyway: declared, the extension would let a server that makes tasks of its own
    accord (another bridge does, of any call that declares it) answer with a task to be polled,
    and keep such a server off its own quick path. The session's other requests keep it.
    """
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return params
    declared = meta.get(types.CLIENT_CAPABILITIES_META_KEY)
    if not isinstance(declared, dict):
        return params
    extensions = declared.get("extensions")
    if not isinstance(extensions, dict) or TASKS not in extensions:
        return params
    kept = {name: value for name, value in extensions.items() if name != TASKS}
    declared = {**declared, "extensions": kept} if kept else {k: v for k, v in declared.items() if k != "extensions"}
    return {**params, "_meta": {**meta, types.CLIENT_CAPABILITIES_META_KEY: declared}}


class _Stamp:
    """What the SDK session's stamp does to one method's requests, learnt once by trying it.

    The stamp (``ClientSession._stamp``, no public seam) sets fixed ``_meta`` keys (at 2026-07-28
    the protocol version and client info), sets others only where the request has none of its own
    (the log level; the capabilities, as ``declaring.keep_declared`` makes it), and adds headers:
    fixed ones (the version, the method) and, at 2026-07-28, ``Mcp-Name`` and a tool's
    ``Mcp-Param-*``, read from the request. Tried on empty requests, it tells which are which; a
    lean request then gets the same in one dict merge, where calling it took about 200 Python
    opcodes and three dicts per request. A test holds ``apply`` to the stamp itself at both
    revisions.
    """

    __slots__ = ("_named", "defaults", "fixed", "headers", "names", "of")

    def __init__(self, stamp: Callable[[dict[str, Any], Any], None], method: str) -> None:
        self.of = stamp
        data: dict[str, Any] = {"method": method, "params": {}}
        opts: dict[str, Any] = {}
        stamp(data, opts)
        added: dict[str, Any] | None = data["params"].get("_meta")
        #: The fixed headers, and whether the stamp names what a request is about (2026-07-28).
        self.headers: dict[str, str] = dict(opts.get("headers") or {})
        named: dict[str, Any] = {"method": method, "params": {"name": "n", "uri": "u"}}
        named_opts: dict[str, Any] = {}
        stamp(named, named_opts)
        self.names = MCP_NAME_HEADER in (named_opts.get("headers") or {})
        #: The headers of a request that names ``name`` (with no Mcp-Param-*), by name.
        self._named: dict[str, dict[str, str]] = {}
        #: The keys set whatever the request holds, and those set only where it has none.
        self.fixed: dict[str, Any] | None = None
        self.defaults: dict[str, Any] = {}
        if added:
            marked: dict[str, Any] = {"method": method, "params": {"_meta": dict.fromkeys(added, _MARK)}}
            stamp(marked, {})
            kept = marked["params"]["_meta"]
            self.defaults = {key: added[key] for key in added if kept[key] is _MARK}
            self.fixed = {key: value for key, value in added.items() if key not in self.defaults}
            if method == "tools/call":
                self.fixed = _without_tasks({"_meta": self.fixed})["_meta"]
                self.defaults = _without_tasks({"_meta": self.defaults})["_meta"]

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` as the stamp leaves them (a new dict; ``params`` is not changed)."""
        fixed = self.fixed
        if fixed is None:
            return params
        meta = params.get("_meta")
        if meta is None:
            stamped = {**fixed, **self.defaults}
        elif type(meta) is dict:
            stamped = {**meta, **fixed}
            for key, value in self.defaults.items():
                if key not in meta:
                    stamped[key] = value
        else:  # not an object: as the stamp itself fails on it
            raise TypeError(f"a request's _meta must be an object, not {type(meta).__name__}")
        return {**params, "_meta": stamped}

    def headers_for(self, session: ClientSession, method: str, params: Mapping[str, Any]) -> Mapping[str, str]:
        """The headers the stamp adds to this request (not to be changed: the same few are kept)."""
        if not self.names:
            return self.headers
        name_key = NAME_BEARING_METHODS.get(method)
        name = params.get(name_key) if name_key is not None else None
        if not isinstance(name, str):
            return self.headers
        named = self._named.get(name)
        if named is None:  # the same few names come again and again: each is encoded once
            if len(self._named) >= NAMES_KEPT:
                self._named.clear()
            named = self._named[name] = {**self.headers, MCP_NAME_HEADER: encode_header_value(name)}
        # A tool whose input schema maps arguments to headers (x-mcp-header) gets its Mcp-Param-*
        # too; the session keeps each listed tool's map, empty for nearly all.
        if method == "tools/call" and session._x_mcp_header_maps.get(name):
            return {**named, **session._resolve_param_headers(name, params.get("arguments") or {})}
        return named


_MARK: Final = object()
#: Names whose headers one stamp keeps (``headers_for``): a catalog's tools, many times over.
NAMES_KEPT: Final = 1024


class LeanRequests:
    """The lean requests of one connection: their ids, the ones awaiting answers, and the stamp."""

    def __init__(self) -> None:
        #: How many lean requests this connection has sent (the last id's number).
        self.sent = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        #: Who hears the progress of each request that asked for it, by its id (its progress token).
        self._progress: dict[str, ProgressFnT] = {}
        #: The last progress being handed over, by request id: a task each, as the SDK's dispatcher
        #: hands it, each after the one before it.
        self._handing: dict[str, asyncio.Task[None]] = {}
        #: Every handing still running (the loop keeps only weak references to tasks).
        self._handings: set[asyncio.Task[None]] = set()
        self._session: ClientSession | None = None
        #: What the session's stamp does, by method.
        self._stamps: dict[str, _Stamp] = {}
        #: Set once the connection is gone: every request fails at once from then on.
        self.closed = False

    def bind(self, session: ClientSession) -> None:
        """Stamp requests as ``session`` does, now that its handshake is done."""
        self._session = session

    def stamped(
        self, method: str, params: dict[str, Any], headers: bool = True
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """``params`` with the SDK session's stamp for ``method``, and the headers it adds (HTTP's;
        none asked for with ``headers`` false). A ``tools/call`` declares no tasks extension."""
        session = self._session
        if session is None:
            raise RuntimeError("a lean request before its session's handshake")
        stamp = session._stamp
        learnt = self._stamps.get(method)
        if learnt is None or learnt.of is not stamp:  # a new handshake makes a new stamp
            learnt = self._stamps[method] = _Stamp(stamp, method)
        return learnt.apply(params), (learnt.headers_for(session, method, params) if headers else {})

    def next_id(self) -> str:
        """A fresh request id (``lean-N``); none once the connection is gone."""
        if self.closed:
            raise connection_closed()
        self.sent += 1
        return f"{LEAN_ID_PREFIX}{self.sent}"

    def open(self, on_progress: ProgressFnT | None = None) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """A fresh id and the future its answer settles; ``forget`` it when done."""
        request_id = self.next_id()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.listen(request_id, on_progress)
        return request_id, future

    def listen(self, request_id: str, on_progress: ProgressFnT | None) -> None:
        """Hand ``on_progress`` (if any) the progress on ``request_id`` until it is forgotten."""
        if on_progress is not None:
            self._progress[request_id] = on_progress

    def forget(self, request_id: str) -> None:
        """A late answer to ``request_id``, or its progress, is dropped from now on."""
        self._waiting.pop(request_id, None)
        self._progress.pop(request_id, None)
        self._handing.pop(request_id, None)

    async def handed(self, request_id: str) -> None:
        """Once the progress on ``request_id`` that came before its answer has been handed over:
        a caller that keeps the last progress beside the result sees the last one sent."""
        last = self._handing.pop(request_id, None)
        if last is not None:
            await last

    @staticmethod
    def tokened(params: dict[str, Any], request_id: str) -> dict[str, Any]:
        """``params`` asking for progress with ``request_id`` as its token, as the SDK's dispatcher asks."""
        meta = params.get("_meta")
        return {**params, "_meta": {**(meta if isinstance(meta, dict) else {}), "progressToken": request_id}}

    def progressed(self, message: Mapping[str, Any]) -> bool:
        """Whether ``message`` is progress on a lean request that asked for it (then it is handed
        over in a task of its own, as the SDK's dispatcher hands it; a failing listener is logged)."""
        if message.get("method") != "notifications/progress" or "id" in message:
            return False
        params = message.get("params")
        if not isinstance(params, Mapping):
            return False
        token, progress = params.get("progressToken"), params.get("progress")
        if not isinstance(token, str) or isinstance(progress, bool) or not isinstance(progress, int | float):
            return False
        listener = self._progress.get(token)
        if listener is None:
            return False
        total, note = params.get("total"), params.get("message")
        self._handing[token] = handing = asyncio.get_running_loop().create_task(
            _handed(
                self._handing.get(token),
                listener,
                float(progress),
                float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None,
                note if isinstance(note, str) else None,
            )
        )
        self._handings.add(handing)
        handing.add_done_callback(self._handings.discard)
        return True

    def answers(self, message: Mapping[str, Any]) -> bool:
        """``message`` is a response (of JSON-RPC shape) to a lean request awaiting its answer.

        One of no JSON-RPC shape answers nothing (the SDK's transport drops such a line too).
        """
        request_id = message.get("id")
        if not isinstance(request_id, str) or request_id not in self._waiting:
            return False
        return isinstance(message.get("result"), dict) or isinstance(message.get("error"), Mapping)

    def settle(self, message: Mapping[str, Any]) -> None:
        """Settle the request a response ``message`` ``answers``, unless it is no longer awaited."""
        future = self._waiting.pop(message["id"], None)
        if future is None or future.done():
            return
        error = message.get("error")
        if error is not None and isinstance(error, Mapping):  # None: no ABC check on every answer
            future.set_exception(error_of(error))
        else:
            future.set_result(message["result"])

    def close(self) -> None:
        """The connection is gone: every request awaiting an answer fails as on the SDK path."""
        self.closed = True
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(connection_closed())


async def _handed(
    before: asyncio.Task[None] | None, listener: ProgressFnT, progress: float, total: float | None, message: str | None
) -> None:
    if before is not None:
        await asyncio.shield(before)  # in order; one cancelled is not the next's cancellation
    try:
        await listener(progress, total, message)
    except Exception:  # a listener's failure must not end the request
        log.exception("a progress listener failed")


def cancellation(request_id: str) -> dict[str, Any]:
    """The ``notifications/cancelled`` a lean request given up is followed by, as the SDK's dispatcher sends it."""
    params = {"requestId": request_id, "reason": "caller cancelled"}
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}


def error_of(error: Mapping[str, Any]) -> MCPError:
    """A JSON-RPC error answer's ``error`` as the SDK raises it."""
    code = error.get("code")
    message = error.get("message")
    return MCPError(
        code=code if isinstance(code, int) and not isinstance(code, bool) else INTERNAL_ERROR,
        message=message if isinstance(message, str) else "",
        data=error.get("data"),
    )
