"""The SDK's handshake-era sessions as the lean ``/mcp`` path sees them: alive, and what each client declared.

A 2025-era client opens a session with ``initialize``; the SDK's session manager answers it and
keeps the session (its transport, its idle timer, its end on ``DELETE``). The lean path
(``bridge.endpoint.lean``) serves later requests of that session without the SDK, so it needs
three things the SDK knows: whether the session is still open (else the SDK answers, 404 as
always), what the client declared at ``initialize`` (a client that can be asked questions keeps
its calls on the SDK's path, where the question can reach it), and that the session stays open
while the client uses it (each lean request holds off the SDK's idle timeout as the SDK's own
requests do). The opening request is seen on its way to the SDK: its body once more, and the
session id in its answer's headers. The SDK has no public lookup of a session by id, so
``transport`` reads its manager's table; a test fails if that changes.

Behind a load balancer a session's requests reach instances that never saw its ``initialize``.
So the id the SDK gives a new session is a sealed one (``bridge.endpoint.session_seal``) holding
the ``initialize`` params and the opener's subject, and an instance that does not know an id it
is sent opens it and ``revive``s the session: a transport under that id in the SDK's table and a
server task whose connection starts where the handshake left it (the version negotiated, the
client's capabilities and identity recorded, initialized). Only the subject that opened a
session may revive it; anything else is answered by the SDK as an unknown session (404). A
session a client ended (``DELETE``) on an instance is never revived there, and with a store the
instances share (``bridge.store.sessions``) on none of them: the end is recorded there, an
instance asks before it revives, and those holding a copy drop it as soon as their change
watcher hears of it. What a client sets later on one instance (its log level) stays there.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections import OrderedDict
from typing import Any

import anyio
import orjson
from anyio.abc import TaskStatus
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp_types import InitializeRequestParams
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

from bridge.mcpserver.sessions import MAX_SESSIONS
from bridge.model import JSON
from bridge.store.errors import StoreError
from bridge.store.sessions import SessionEnds, digest

from .http import ASGIApp, Receive, Scope, Send
from .mcp_replay import RETRY_MS, SessionEvents
from .session_seal import SessionSeal

__all__ = ["SessionLedger", "replayed"]

log = logging.getLogger(__name__)

#: The sealed id the session an ``initialize`` opens is to get, while the SDK admits it.
_OPENING: contextvars.ContextVar[str | None] = contextvars.ContextVar("opening", default=None)
#: The share of its idle timeout a session may lose to the lean path holding it open lazily.
HOLD_SLACK = 0.001
#: What of ``initialize``'s params a session id carries.
_SEALED_PARAMS = ("protocolVersion", "capabilities", "clientInfo")


def replayed(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an application after the body has been read: the body once, then ``receive``'s own."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class SessionLedger:
    """What each open handshake-era session's client declared, and its SDK transport."""

    def __init__(self, server: Server[Any], seal: SessionSeal | None = None, ends: SessionEnds | None = None) -> None:
        self._server = server
        self._seal = seal or SessionSeal()
        self._declared: OrderedDict[str, JSON] = OrderedDict()
        #: Sessions their clients ended (``DELETE``) here or, as heard, elsewhere, newest last: not revived again.
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._hooked = False
        self._ends = ends
        #: The sessions noted here by their ids' digests, as the other instances name the ones they ended.
        self._by_digest: OrderedDict[str, str] = OrderedDict()
        #: The loop the sessions are served on (the first one noted tells it).
        self._loop: asyncio.AbstractEventLoop | None = None
        if ends is not None:
            ends.on_ended(self._heard)

    async def opening(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, sdk: ASGIApp, subject: str
    ) -> None:
        """Hand a request without a session to the SDK, noting the capabilities an ``initialize`` declares
        under the session id its answer carries: a sealed id holding them, for ``subject``."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        params = message.get("params") if isinstance(message, dict) and message.get("method") == "initialize" else None
        capabilities = params.get("capabilities") if isinstance(params, dict) else None
        if not isinstance(params, dict) or not isinstance(capabilities, dict):
            await sdk(scope, replayed(body, receive), send)
            return
        declared: JSON = capabilities
        self._hook_admission()
        sealed = {"s": subject, "p": {k: params[k] for k in _SEALED_PARAMS if k in params}}
        _OPENING.set(self._seal.seal(sealed))

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for name, value in message.get("headers", ()):
                    if name.lower() == b"mcp-session-id":
                        self._note(value.decode("latin-1"), declared)
            await send(message)

        await sdk(scope, replayed(body, receive), noting)

    def _note(self, session_id: str, declared: JSON) -> None:
        self._declared[session_id] = declared
        while len(self._declared) > MAX_SESSIONS:
            self._declared.popitem(last=False)
        if self._ends is not None:
            self._loop = self._loop or asyncio.get_running_loop()
            self._by_digest[digest(session_id)] = session_id
            while len(self._by_digest) > MAX_SESSIONS:
                self._by_digest.popitem(last=False)

    def _end(self, session_id: str) -> bool:
        """Note that ``session_id`` was ended; whether that is news here."""
        if session_id in self._ended:
            return False
        self._ended[session_id] = None
        while len(self._ended) > MAX_SESSIONS:
            self._ended.popitem(last=False)
        return True

    def _heard(self, digests: set[str]) -> None:
        """Sessions ended on any instance (the change watcher's thread): this one's copies are dropped."""
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._drop(digests), loop)

    async def _drop(self, digests: set[str]) -> None:
        """End this instance's copies of the sessions of these digests, as their client's ``DELETE`` would."""
        manager = self._server.session_manager
        for found in digests:
            session_id = self._by_digest.pop(found, None)
            if session_id is None:
                continue
            self._end(session_id)
            transport = manager._server_instances.get(session_id)
            if transport is not None:
                try:
                    await manager._discard_session(session_id, transport)
                except Exception:
                    log.exception("a session ended on another instance could not be dropped here")

    def _hook_admission(self) -> None:
        """Make the SDK's manager give a session opened by ``opening`` the sealed id it set (once)."""
        if self._hooked:
            return
        self._hooked = True
        manager = self._server.session_manager
        admit = manager._admit_session

        def admitting(requestor: Any) -> StreamableHTTPServerTransport | None:
            transport = admit(requestor)
            wanted = _OPENING.get()
            if transport is None or wanted is None or transport.mcp_session_id is None:
                return transport
            _OPENING.set(None)
            made = transport.mcp_session_id
            transport.mcp_session_id = wanted
            manager._server_instances[wanted] = manager._server_instances.pop(made)
            if made in manager._session_owners:
                manager._session_owners[wanted] = manager._session_owners.pop(made)
            return transport

        manager._admit_session = admitting  # type: ignore[method-assign]
        discard = manager._discard_session

        async def discarding(session_id: str, transport: StreamableHTTPServerTransport) -> None:
            # Its client ended it (an idle or crashed session is not): the other instances are told.
            if transport.is_terminated and self._end(session_id) and self._ends is not None:
                self._ends.record(session_id)
            await discard(session_id, transport)

        manager._discard_session = discarding  # type: ignore[method-assign]

    def known(self, session_id: str) -> bool:
        """Whether the SDK has an open session ``session_id`` here."""
        return session_id in self._server.session_manager._server_instances

    async def revive(self, session_id: str, subject: str) -> bool:
        """Open the session ``session_id`` seals here, as it was after its handshake, if ``subject``
        opened it and there is room; whether it is open here now."""
        manager = self._server.session_manager
        if session_id in manager._server_instances:
            return True
        if session_id in self._ended:
            return False
        self._hook_admission()
        state = self._seal.open(session_id)
        if state is None or state.get("s") != subject:
            return False
        try:
            params = InitializeRequestParams.model_validate(state.get("p"), by_name=False)
        except ValidationError:
            return False
        if self._ends is not None:
            if await self._ended_anywhere(session_id):
                self._end(session_id)
                return False
            if session_id in manager._server_instances:  # revived by another request meanwhile
                return True
        if manager.max_sessions is not None and len(manager._server_instances) >= manager.max_sessions:
            return False
        requested = params.protocol_version
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        transport = StreamableHTTPServerTransport(
            mcp_session_id=session_id,
            is_json_response_enabled=manager.json_response,
            event_store=SessionEvents(),
            security_settings=manager.security_settings,
            retry_interval=RETRY_MS,
            idle_timeout=manager.session_idle_timeout,
        )
        manager._server_instances[session_id] = transport  # no await since the check above: no race

        async def serve(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read, write):
                task_status.started()
                try:
                    idle = transport.idle_scope or anyio.CancelScope()
                    with idle:
                        dispatcher: JSONRPCDispatcher[Any] = JSONRPCDispatcher(
                            read, write, inline_methods=frozenset({"initialize"})
                        )
                        connection = Connection.for_loop(
                            dispatcher, session_id=session_id, protocol_version_hint=version
                        )
                        connection.client_params = params
                        connection.initialized.set()
                        await serve_connection(
                            self._server, dispatcher, connection=connection, lifespan_state=manager._lifespan_state
                        )
                except Exception:
                    log.exception("a revived session crashed")
                finally:
                    await manager._discard_session(session_id, transport)

        try:
            assert manager._task_group is not None
            await manager._task_group.start(serve)
        except BaseException:
            manager._server_instances.pop(session_id, None)
            raise
        self._note(session_id, params.capabilities.model_dump(mode="json", by_alias=True, exclude_none=True))
        return True

    async def _ended_anywhere(self, session_id: str) -> bool:
        """Whether the store says ``session_id`` was ended (read off the loop). A store that cannot
        say does not stop a revival, which only the session's opener can make; it is logged."""
        assert self._ends is not None
        try:
            return await asyncio.to_thread(self._ends.ended, session_id)
        except StoreError as exc:
            log.warning("cannot read the sessions ended on other instances, so one is revived unchecked: %s", exc)
            return False

    def declared(self, session_id: str) -> JSON | None:
        """What the client of ``session_id`` declared at ``initialize``; None for a session not seen opening."""
        return self._declared.get(session_id)

    def transport(self, session_id: str) -> StreamableHTTPServerTransport | None:
        """The SDK's transport of the open session ``session_id``; None when it is unknown or has ended."""
        transport = self._server.session_manager._server_instances.get(session_id)  # no public lookup
        if transport is None or transport.is_terminated:
            self._declared.pop(session_id, None)
            return None
        return transport

    def hold(self, transport: StreamableHTTPServerTransport) -> None:
        """Keep the session open for its idle timeout from now (less ``HOLD_SLACK`` of it), as a request
        the SDK served would."""
        idle = transport.idle_scope
        timeout = self._server.session_manager.session_idle_timeout
        if idle is None or timeout is None or idle.deadline == math.inf:
            return
        # Moving the deadline re-arms a timer: a busy session's is moved once it has fallen behind by
        # a thousandth of the timeout (1.8 s of the default 30 minutes), not twice a request.
        wanted = asyncio.get_running_loop().time() + timeout  # anyio's clock on asyncio; callable outside a task
        if wanted - idle.deadline > timeout * HOLD_SLACK:
            idle.deadline = wanted
