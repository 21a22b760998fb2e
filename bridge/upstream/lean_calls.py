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
from collections.abc import Mapping
from typing import Any, Final, Protocol

import mcp_types as types
from mcp.client.session import ClientSession
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
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
        #: The capabilities the session declares (held: its id is not reused), and those a tool call declares.
        self._kept: tuple[object, object] = (None, None)
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
        stamped: dict[str, Any] = data["params"]
        meta: dict[str, Any] | None = stamped.get("_meta")
        declared = meta.get(types.CLIENT_CAPABILITIES_META_KEY) if method == "tools/call" and meta else None
        if meta is not None and declared is not None:  # 2026-07-28: declared in each request, the same object
            if declared is self._kept[0]:
                stamped = {**stamped, "_meta": {**meta, types.CLIENT_CAPABILITIES_META_KEY: self._kept[1]}}
            else:
                stamped = _without_tasks(stamped)
                self._kept = (declared, stamped["_meta"][types.CLIENT_CAPABILITIES_META_KEY])
        return stamped, opts.get("headers") or {}

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
        return isinstance(message.get("error"), Mapping) or isinstance(message.get("result"), dict)

    def settle(self, message: Mapping[str, Any]) -> None:
        """Settle the request a response ``message`` ``answers``, unless it is no longer awaited."""
        future = self._waiting.pop(message["id"], None)
        if future is None or future.done():
            return
        error = message.get("error")
        if isinstance(error, Mapping):
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
