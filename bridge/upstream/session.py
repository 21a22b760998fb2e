"""One long-lived MCP session per upstream server: the face the pool sees, and the requests.

``UpstreamSession`` composes the parts that keep a server's session alive and current, each in
a module of its own:

- ``link``: the live client, the state and the negotiated revision; where the state changes
  and the listener hears of it;
- ``supervisor`` and ``connecting``: connecting, pings, reconnecting with backoff;
- ``catalog``: the catalog listed, and listed again on a change;
- ``following``: the resources callers follow, across reconnects;
- ``relaying``: what the server sends back mid-call, to the caller it belongs to.

Here are the requests. Every request shares the one session, matched by JSON-RPC id, so many
calls are in flight at once; while the server is not connected they fail fast with 503.

A tool call, a resource read and a prompt take the connection's lean channel instead of the
SDK's session when nothing the SDK would add to them is wanted (``bridge/upstream/lean_path.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext
from pydantic import TypeAdapter

from bridge.config import ServerConfig
from bridge.errors import UpstreamUnavailable
from bridge.model import JSON, SERVING, Catalog, Principal, ProgressCallback, Relay, ServerStatus, UpstreamListener
from bridge.telemetry import current
from bridge.upstream.catalog import CatalogKeeper
from bridge.upstream.connecting import Connector
from bridge.upstream.credentials import calling_as
from bridge.upstream.declaring import told
from bridge.upstream.following import FollowedResources
from bridge.upstream.lean_path import LeanPath
from bridge.upstream.link import Link
from bridge.upstream.relaying import BackChannel, RelayTracker
from bridge.upstream.supervisor import CLOSE_TIMEOUT, Supervisor
from bridge.upstream.tasks import CreatedTask, UpstreamTasks
from bridge.upstream.translate import describe, is_connection_loss, to_bridge_error, to_json

__all__ = ["UpstreamSession"]

T = TypeVar("T")

#: How long a call made while the first connection is still being set up waits for it.
CONNECT_GRACE = 5.0
_INPUT_RESPONSES: TypeAdapter[types.InputResponses] = TypeAdapter(types.InputResponses)
_REFERENCE: TypeAdapter[types.PromptReference | types.ResourceTemplateReference] = TypeAdapter(
    types.PromptReference | types.ResourceTemplateReference
)


class _Deadline:
    """``asyncio.timeout``'s rule for the task a call runs in, at a fraction of its cost.

    The task is cancelled once the deadline passes, and that cancellation comes out of the call
    as ``TimeoutError``, unless someone else cancelled the task too. asyncio's ``Timeout`` looks
    the loop and the task up on entry and again on exit, reschedules, and keeps a state machine;
    every upstream request passes here, and needs none of that.
    """

    __slots__ = ("_cancelling", "_handle", "_passed", "_task")

    def __init__(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline outside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._passed = False
        self._handle = loop.call_at(loop.time() + seconds, self._pass)

    def _pass(self) -> None:
        self._passed = True
        self._task.cancel()

    def end(self, exc: BaseException | None) -> None:
        """The call ended (``exc``, if it failed): ``TimeoutError`` when its cancellation was the deadline's."""
        self._handle.cancel()
        if self._passed and self._task.uncancel() <= self._cancelling and isinstance(exc, asyncio.CancelledError):
            raise TimeoutError from exc


class UpstreamSession:
    """The bridge's connection to one MCP server. Lives on the upstream event loop."""

    def __init__(
        self, config: ServerConfig, *, connect_timeout: float, listener: UpstreamListener | None = None
    ) -> None:
        self.config = config
        self._timeout = config.timeout  # read on every call
        self._identifies = config.identifies_caller  # likewise
        self._link = link = Link(config.name, listener)
        self._relays = RelayTracker()
        self._following = FollowedResources(link, listener)
        self._keeper = CatalogKeeper(link, self._following, listener, refresh_timeout=connect_timeout)
        back = BackChannel(config.name, self._relays)
        self._tasks = UpstreamTasks(back)
        connector = Connector(config, link, back, self._on_message, self._tasks)
        self._supervisor = Supervisor(link, connector, self._keeper, self._following, connect_timeout=connect_timeout)
        self._lean = LeanPath(link, self._keeper, self._tasks, identifies=self._identifies)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def catalog(self) -> Catalog:
        return self._keeper.catalog

    def status(self) -> ServerStatus:
        return self._link.status()

    @property
    def protocol_version(self) -> str | None:
        """The revision the server speaks (None until a handshake): ``status().protocol_version``."""
        return self._link.protocol_version

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._supervisor.start()

    async def wait_first_attempt(self, timeout: float) -> None:
        await self._supervisor.wait_first_attempt(timeout)

    async def close(self) -> None:
        """Drop the connection for good (a stdio child is stopped), and let refreshes in flight end."""
        await self._supervisor.close()
        await self._keeper.close(CLOSE_TIMEOUT)

    async def _on_message(self, message: Any) -> None:
        """What the server sends unasked: list changes and, before 2026-07-28, resource updates."""
        method = getattr(message, "method", None)
        if isinstance(method, str) and method.endswith("/list_changed") and self._link.client is not None:
            self._keeper.refresh_soon()
        elif method == "notifications/resources/updated" and not self._link.modern:
            # At 2026-07-28 the SDK also hands listen events here; those arrive through the stream.
            self._following.updated(str(message.params.uri))
        await asyncio.sleep(0)

    # -- requests ----------------------------------------------------------------------------

    async def request(
        self,
        op: Callable[[Client], Awaitable[T]],
        timeout: float | None = None,
        relay: Relay | None = None,
        caller: Principal | None = None,
    ) -> T:
        """Run one request on the shared session, translating every failure into the error tree.

        ``relay`` receives what the server sends back for this request while it runs; ``caller``
        is whom it is made for, told to a server configured to hear it (``identity``).
        """
        if caller is not None and self._identifies:
            op = _made_for(caller, op)
        link = self._link
        client = link.client
        if client is None and not self._supervisor.attempted:
            await self._supervisor.wait_first_attempt(CONNECT_GRACE)
            client = link.client
        if client is None or link.state not in SERVING:
            status = link.status()
            reason = f": {status.last_error}" if status.last_error else ""
            raise UpstreamUnavailable(
                f"server {self.name!r} is {status.state}{reason}",
                server=self.name,
                retry_after=status.retry_after,
            )
        deadline = timeout if timeout is not None else self._timeout
        try:
            # Every call passes here: asyncio's deadline rule (TimeoutError when it passes). It
            # cancels the call's task once, as a client going away does; the SDK's shielded steps
            # are not cut short.
            cut = _Deadline(deadline)
            try:
                with self._relays.carrying(relay):
                    result = await op(client)
            except BaseException as exc:
                cut.end(exc)
                raise
            cut.end(None)
            link.recover()
            return result
        except Exception as exc:
            if is_connection_loss(exc):
                self._supervisor.lost(describe(exc))
            elif isinstance(exc, TimeoutError):
                link.degrade(f"a call timed out after {deadline:g} s")
            raise to_bridge_error(exc, server=self.name, timeout=deadline) from exc

    def _meta(self, relay: Relay | None) -> dict[str, Any] | None:
        """The caller's request id and trace context (``traceparent``; the MCP SDK's own client span
        takes its place when traces are exported); at 2026-07-28 the capabilities an MCP caller
        declared (``bridge.upstream.declaring``) and the log level a request opts in at."""
        context = current.get()
        meta: dict[str, Any] | None = None if context is None else context.meta()
        if relay is None or not self._link.modern:
            return meta
        declared, level = relay.declared, relay.log_level
        if declared is None and level is None:
            return meta
        if meta is None:
            meta = {}
        if declared is not None:
            meta[types.CLIENT_CAPABILITIES_META_KEY] = told(declared, relay.takes_input_required)
        if level is not None:
            meta[types.LOG_LEVEL_META_KEY] = level
        return meta

    def _rounds(self, relay: Relay | None) -> tuple[types.InputResponses | None, str | None] | None:
        """This round's answers and state, when input-required rounds pass through to the caller.

        They do when both ends speak 2026-07-28: the upstream's input-required result goes to
        the caller as it is, and the caller's retry comes back here with its answers.
        """
        if relay is None or not relay.takes_input_required or not self._link.modern:
            return None
        answers = relay.input_responses
        return (_INPUT_RESPONSES.validate_python(answers) if answers else None), relay.request_state

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        relay: Relay | None = None,
        on_progress: ProgressCallback | None = None,
        caller: Principal | None = None,
    ) -> JSON:
        """Call a tool; ``on_progress`` (if any) hears its progress instead of the relay's own callback."""
        progress = on_progress or (relay.progress if relay is not None and relay.wants_progress else None)
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)
        # The first round of a call whose input-required rounds pass through goes lean too.
        passing = rounds is not None
        # A detached call keeps the SDK's session, whose declared tasks extension lets the upstream
        # make a task of it; every other call may go lean, progress and all.
        plain = rounds in (None, (None, None)) and (relay is None or not relay.detached)
        lean = self._lean.channel(plain, caller, tool=name)
        if lean is not None:

            def lean_call(c: Client) -> Awaitable[JSON]:
                return self._lean.call_tool(c, lean, name, arguments, meta, passing, progress)

            return await self.request(lean_call, relay=relay, caller=caller)

        async def call(c: Client) -> Any:
            if rounds is None:  # the SDK drives any input-required rounds, asking through the relay
                return await c.call_tool(name, dict(arguments), progress_callback=progress, meta=meta)
            answers, state = rounds
            result = await c.session.call_tool(
                name,
                dict(arguments),
                progress_callback=progress,
                meta=meta,
                input_responses=answers,
                request_state=state,
                allow_input_required=True,
                allow_claimed=True,
            )
            if isinstance(result, CreatedTask):  # the upstream made a task of it: followed to its end
                return await self._tasks.follow(
                    result, ClaimContext(session=c.session, tool_name=name, read_timeout_seconds=None)
                )
            return result

        return to_json(await self.request(call, relay=relay, caller=caller))

    async def read_resource(self, uri: str, relay: Relay | None = None, caller: Principal | None = None) -> JSON:
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)
        lean = self._lean.channel(rounds in (None, (None, None)), caller)
        if lean is not None:
            passing = rounds is not None

            async def lean_read(c: Client) -> JSON:
                return await self._lean.read_resource(c, lean, uri, meta, passing)

            return await self.request(lean_read, relay=relay, caller=caller)

        async def read(c: Client) -> Any:
            if rounds is None:
                return await c.read_resource(uri, meta=meta)
            answers, state = rounds
            return await c.session.read_resource(
                uri, input_responses=answers, request_state=state, meta=meta, allow_input_required=True
            )

        return to_json(await self.request(read, relay=relay, caller=caller))

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str], relay: Relay | None = None, caller: Principal | None = None
    ) -> JSON:
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)
        lean = self._lean.channel(rounds in (None, (None, None)), caller)
        if lean is not None:
            passing = rounds is not None

            async def lean_get(c: Client) -> JSON:
                return await self._lean.get_prompt(c, lean, name, arguments, meta, passing)

            return await self.request(lean_get, relay=relay, caller=caller)

        async def get(c: Client) -> Any:
            if rounds is None:
                return await c.get_prompt(name, dict(arguments), meta=meta)
            answers, state = rounds
            return await c.session.get_prompt(
                name,
                dict(arguments),
                input_responses=answers,
                request_state=state,
                meta=meta,
                allow_input_required=True,
            )

        return to_json(await self.request(get, relay=relay, caller=caller))

    async def complete(
        self, ref: JSON, argument: Mapping[str, str], context: Mapping[str, str] | None, caller: Principal | None = None
    ) -> JSON:
        """Complete one argument of a prompt or resource template (``ref``, in the server's own names)."""
        reference = _REFERENCE.validate_python(ref)

        async def complete(c: Client) -> Any:
            return await c.complete(reference, dict(argument), None if context is None else dict(context))

        return to_json(await self.request(complete, caller=caller))

    async def subscribe(self, uri: str, subscribed: bool) -> None:
        """Follow (or stop following) a resource upstream, the way the server's revision has it.

        At 2026-07-28 the followed URIs ride the ``subscriptions/listen`` stream, opened again
        with the new set; before it, ``resources/subscribe`` and ``unsubscribe``. Either way the
        set is kept, so a reconnect follows the same resources.
        """
        following = self._following
        if following.follow(uri, subscribed):
            await self.request(lambda c: following.send(c, uri, subscribed))


def _made_for(caller: Principal, op: Callable[[Client], Awaitable[T]]) -> Callable[[Client], Awaitable[T]]:
    """``op`` with ``caller`` as the one its HTTP requests are made for (``calling_as``)."""

    async def made_for(client: Client) -> T:
        with calling_as(caller):
            return await op(client)

    return made_for
