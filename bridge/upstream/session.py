"""One long-lived MCP session per upstream server, kept alive by a supervisor task.

The supervisor connects through the official SDK (stdio child, Streamable HTTP or legacy SSE),
lists the server's catalog, then watches the connection with pings. When the connection drops
it reconnects with exponential backoff and jitter; meanwhile calls fail fast with 503. Every
request shares the one session, matched by JSON-RPC id, so many calls are in flight at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter

from bridge import __version__
from bridge.config import ServerConfig
from bridge.errors import UpstreamUnavailable
from bridge.model import (
    JSON,
    SERVING,
    Catalog,
    ProgressCallback,
    Relay,
    RelayRefused,
    ServerState,
    ServerStatus,
    UpstreamListener,
)
from bridge.upstream.http import LeanTransport
from bridge.upstream.relay import RelayTracker
from bridge.upstream.results import OutputChecks
from bridge.upstream.stdio import stdio_transport
from bridge.upstream.translate import is_connection_loss, to_bridge_error, to_json

__all__ = ["UpstreamSession"]

log = logging.getLogger(__name__)

#: How the bridge introduces itself to upstream servers (their logs and any client checks see it).
CLIENT_INFO = types.Implementation(name="mcp-rest-bridge", version=__version__)
T = TypeVar("T")

#: First reconnect delay; doubles per failed attempt up to BACKOFF_MAX.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
#: An idle connection is pinged this often, so a dead or hung upstream is noticed between calls.
PING_INTERVAL = 10.0
PING_TIMEOUT = 5.0
#: How long a call made while the first connection is still being set up waits for it.
CONNECT_GRACE = 5.0
#: How long closing waits for the SDK to stop a child (it escalates to SIGTERM, then SIGKILL).
CLOSE_TIMEOUT = 15.0
#: The catalog walk stops after this many pages: a server whose cursor never ends cannot hang us.
MAX_PAGES = 100

#: Rank of each MCP log level (RFC 5424's severities), lowest first.
_LOG_RANK = {
    level: rank
    for rank, level in enumerate(("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"))
}
_INPUT_RESPONSES: TypeAdapter[types.InputResponses] = TypeAdapter(types.InputResponses)


class UpstreamSession:
    """The bridge's connection to one MCP server. Lives on the upstream event loop."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        connect_timeout: float,
        listener: UpstreamListener | None = None,
    ) -> None:
        self.config = config
        self._connect_timeout = connect_timeout
        self._listener = listener
        self._relays = RelayTracker()
        #: Resource URIs some caller follows; kept across reconnects and subscribed again after one.
        self._followed: set[str] = set()
        self._relisten = asyncio.Event()
        self._mode = config.protocol
        self._prior_discover: Any = None
        self._client: Client | None = None
        self._state: ServerState = "connecting"
        self._protocol_version: str | None = None
        self._server_info: JSON | None = None
        self._capabilities: JSON | None = None
        self._last_error: str | None = None
        self._retry_at = 0.0
        self._catalog = Catalog()
        self._outputs = OutputChecks()
        self._drop = asyncio.Event()
        self._first_attempt_done = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()
        self._refresh_task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def status(self) -> ServerStatus:
        retry_after = max(1, round(self._retry_at - time.monotonic()))
        return ServerStatus(
            state=self._state,
            protocol_version=self._protocol_version,
            server_info=self._server_info,
            capabilities=self._capabilities,
            last_error=self._last_error,
            retry_after=retry_after,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"upstream:{self.name}")

    async def wait_first_attempt(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._first_attempt_done.wait()

    async def close(self) -> None:
        """Drop the connection for good; a stdio child is terminated by the SDK's transport.

        Cancellation goes through the supervisor's own anyio scope, never ``Task.cancel()``:
        the SDK shields its child-process shutdown from anyio cancellation only.
        """
        self._stopping = True
        self._drop.set()
        self._scope.cancel()
        for task in (self._refresh_task, self._task):
            if task is None or task.done():
                continue
            try:
                with anyio.fail_after(CLOSE_TIMEOUT):
                    await asyncio.shield(task)
            except TimeoutError:
                log.warning("upstream %s did not close within %s s", self.name, CLOSE_TIMEOUT)
            except Exception:  # the supervisor logs its own failures
                log.debug("upstream %s closed with an error", self.name, exc_info=True)

    async def _supervise(self) -> None:
        with self._scope:
            await self._reconnect_forever()
        self._state = "down"

    async def _reconnect_forever(self) -> None:
        delay = BACKOFF_INITIAL
        while not self._stopping:
            self._state = "connecting"
            try:
                await self._connect_and_serve()
                delay = BACKOFF_INITIAL
            except Exception as exc:  # any failure to connect is a reason to retry, never to die
                self._last_error = _describe(exc)
                # The server may have changed revision (upgraded, replaced): negotiate afresh.
                self._mode, self._prior_discover = self.config.protocol, None
                log.warning("upstream %s: %s", self.name, self._last_error)
            finally:
                self._client = None
                self._first_attempt_done.set()
            if self._stopping:
                break
            self._state = "down"
            jittered = delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not secrecy
            self._retry_at = time.monotonic() + jittered
            with anyio.move_on_after(jittered):
                await self._drop.wait()  # close() interrupts the wait
            delay = min(delay * 2, BACKOFF_MAX)

    async def _connect_and_serve(self) -> None:
        # The connect deadline must cover the client's own cancel scopes, which live as long as
        # the connection: so one scope spans it all and its deadline is lifted once connected.
        with anyio.CancelScope(deadline=anyio.current_time() + self._connect_timeout) as scope:
            async with AsyncExitStack() as stack:
                client = await self._new_client(stack)
                await stack.enter_async_context(client)
                self._outputs.install(client.session)
                self._pin_protocol(client)
                await self._refresh_catalog(client)
                await self._follow_again(client)
                scope.deadline = math.inf
                self._client = client
                self._state = "ready"
                self._last_error = None
                self._first_attempt_done.set()
                log.info("upstream %s ready (protocol %s)", self.name, self._protocol_version)
                async with anyio.create_task_group() as group:
                    if self._protocol_version in MODERN_PROTOCOL_VERSIONS:
                        group.start_soon(self._listen_for_changes, client)
                    await self._watch(client)
                    group.cancel_scope.cancel()
                self._client = None
        if scope.cancelled_caught:
            raise TimeoutError(f"no MCP handshake within {self._connect_timeout:g} s")

    async def _new_client(self, stack: AsyncExitStack) -> Client:
        cfg = self.config
        target: Any
        if cfg.transport == "stdio":
            target = StdioServerParameters(
                command=cfg.command or "", args=list(cfg.args), env=dict(cfg.env) or None, cwd=cfg.cwd
            )
            if os.name == "posix":  # the same wire with fewer hops per message (bridge/upstream/stdio.py)
                target = stdio_transport(target, cfg.cpus)
        elif cfg.transport == "sse":
            target = sse_client(cfg.url or "", headers=dict(cfg.headers) or None)
        else:
            # A client we pass in is ours to close: the exit stack does it with the connection.
            # The SDK's client settings (create_mcp_http_client) over the lean transport (bridge/upstream/http.py).
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=dict(cfg.headers) or None,
                    timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
                    transport=LeanTransport(),
                )
            )
            target = streamable_http_client(cfg.url or "", http_client=http)
        return Client(
            target,
            mode=self._mode,
            prior_discover=self._prior_discover,
            client_info=CLIENT_INFO,
            cache=None,  # the bridge keeps its own catalog; per-client caching would only go stale
            message_handler=self._on_message,
            logging_callback=self._on_log,
            # Declared so a server may ask; each question goes to the caller whose call asked it.
            sampling_callback=self._on_sampling,
            elicitation_callback=self._on_elicitation,
        )

    def _pin_protocol(self, client: Client) -> None:
        """Remember the negotiated revision, so a reconnect skips the discover probe."""
        version = client.protocol_version
        self._protocol_version = version
        self._mode = version if version in MODERN_PROTOCOL_VERSIONS else "legacy"
        # Re-adopting the server's own discover result keeps its capabilities on reconnect.
        self._prior_discover = client.session.discover_result
        info = client.server_info
        self._server_info = to_json(info) if info is not None else None
        self._capabilities = to_json(client.server_capabilities)

    async def _watch(self, client: Client) -> None:
        """Return when the connection should be dropped: close(), a lost call, or a failed ping."""
        while not self._stopping:
            with anyio.move_on_after(PING_INTERVAL):
                await self._drop.wait()
                self._drop.clear()
                return
            try:
                with anyio.fail_after(PING_TIMEOUT):
                    await self._probe(client)
                self._recover()
            except Exception as exc:  # a dead or hung upstream: reconnect
                self._last_error = f"ping failed: {_describe(exc)}"
                return

    async def _probe(self, client: Client) -> None:
        """A cheap round trip: ``ping`` where it exists, ``server/discover`` at 2026-07-28 (no ping)."""
        version = self._protocol_version
        if version in MODERN_PROTOCOL_VERSIONS:
            await client.session.send_discover(version)
        else:
            await client.send_ping()

    def _degrade(self, reason: str) -> None:
        """Still connected and serving, but the last call timed out or the catalog is stale."""
        if self._state == "ready":
            self._state = "degraded"
            self._last_error = reason
            log.warning("upstream %s degraded: %s", self.name, reason)

    def _recover(self) -> None:
        if self._state == "degraded":
            self._state = "ready"
            self._last_error = None
            log.info("upstream %s ready again", self.name)

    def _connection_lost(self, reason: str) -> None:
        if self._state in SERVING:
            self._state = "down"
            self._last_error = reason
            self._retry_at = time.monotonic() + BACKOFF_INITIAL
            self._drop.set()

    # -- catalog -----------------------------------------------------------------------------

    async def _refresh_catalog(self, client: Client) -> None:
        caps = client.server_capabilities
        tools: dict[str, JSON] = {}
        prompts: dict[str, JSON] = {}
        resources: list[JSON] = []
        templates: list[JSON] = []
        if caps.tools is not None:
            for page in await _pages(lambda c: client.list_tools(cursor=c), "tools"):
                tools.update((t["name"], t) for t in page)
        if caps.resources is not None:
            resources = [r for p in await _pages(lambda c: client.list_resources(cursor=c), "resources") for r in p]
            templates = [
                t
                for p in await _pages(lambda c: client.list_resource_templates(cursor=c), "resourceTemplates")
                for t in p
            ]
        if caps.prompts is not None:
            for page in await _pages(lambda c: client.list_prompts(cursor=c), "prompts"):
                prompts.update((p["name"], p) for p in page)
        self._outputs.update(tools)
        self._catalog = Catalog(tools=tools, resources=tuple(resources), templates=tuple(templates), prompts=prompts)
        if self._listener is not None:
            self._listener.catalog_changed(self.name)

    async def _listen_for_changes(self, client: Client) -> None:
        """At 2026-07-28 changes arrive on a ``subscriptions/listen`` stream, not as notifications.

        The stream carries list changes and updates of the resources callers follow; when that
        set changes, the stream is opened again with the new one.
        """
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        follows = bool(caps.resources and caps.resources.subscribe)
        while True:
            self._relisten.clear()
            uris = sorted(self._followed) if follows else []
            if not (tools or prompts or resources or uris):
                await self._relisten.wait()
                continue
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._cancel_on_relisten, group.cancel_scope)
                    async with client.listen(
                        tools_list_changed=tools,
                        prompts_list_changed=prompts,
                        resources_list_changed=resources,
                        resource_subscriptions=uris,
                    ) as subscription:
                        async for event in subscription:
                            if isinstance(event, ResourceUpdated):
                                self._updated(event.uri)
                            else:
                                await self._refresh_after_change()
                    group.cancel_scope.cancel()
            except Exception as exc:  # no change stream: the catalog still refreshes on reconnect
                log.info("upstream %s: no change stream (%s)", self.name, _describe(exc))
                return
            if not self._relisten.is_set():
                return  # the server ended the stream

    async def _cancel_on_relisten(self, scope: anyio.CancelScope) -> None:
        await self._relisten.wait()
        scope.cancel()

    def _updated(self, uri: str) -> None:
        if self._listener is not None:
            self._listener.resource_updated(self.name, uri)

    async def _follow_again(self, client: Client) -> None:
        """A new 2025-era connection knows no subscriptions: make the callers' again."""
        for uri in sorted(self._followed):
            try:
                await self._send_subscribe(client, uri, True)
            except Exception as exc:  # the caller's subscription is kept; the next reconnect tries again
                log.warning("upstream %s: could not follow %s again: %s", self.name, uri, _describe(exc))

    async def _on_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str) and method.endswith("/list_changed") and self._client is not None:
            # Refresh off the receive loop: listing from inside the handler would wait on itself.
            self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_after_change())
        elif method == "notifications/resources/updated" and self._protocol_version not in MODERN_PROTOCOL_VERSIONS:
            # At 2026-07-28 the SDK also hands listen events here; those arrive through the stream.
            self._updated(str(message.params.uri))
        await asyncio.sleep(0)

    # -- what flows back to the caller -------------------------------------------------------

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        relay = self._relays.owner()
        wanted = relay.log_level if relay is not None else None
        if relay is None or wanted is None or not _at_least(params.level, wanted):
            log.debug("upstream %s: log message with no caller to take it", self.name)
            return
        await relay.log(to_json(params))

    async def _ask(self, method: str, params: JSON) -> JSON | types.ErrorData:
        relay = self._relays.owner()
        if relay is None:
            refusal = f"{method}: no caller of this bridge can answer"
            return types.ErrorData(code=MISSING_REQUIRED_CLIENT_CAPABILITY, message=refusal)
        try:
            return await relay.ask(method, params)
        except RelayRefused as exc:
            return types.ErrorData(code=exc.code, message=str(exc))

    async def _on_sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        answer = await self._ask("sampling/createMessage", to_json(params))
        if isinstance(answer, types.ErrorData):
            return answer
        if isinstance(answer.get("content"), list):
            return types.CreateMessageResultWithTools.model_validate(answer)
        return types.CreateMessageResult.model_validate(answer)

    async def _on_elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        answer = await self._ask("elicitation/create", to_json(params))
        return answer if isinstance(answer, types.ErrorData) else types.ElicitResult.model_validate(answer)

    async def _refresh_after_change(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            with anyio.fail_after(self._connect_timeout):
                await self._refresh_catalog(client)
        except Exception as exc:  # the old catalog stays; the next reconnect lists again
            self._degrade(f"catalog refresh failed: {_describe(exc)}")

    # -- requests ----------------------------------------------------------------------------

    async def request(
        self, op: Callable[[Client], Awaitable[T]], timeout: float | None = None, relay: Relay | None = None
    ) -> T:
        """Run one request on the shared session, translating every failure into the error tree.

        ``relay`` receives what the server sends back for this request while it runs.
        """
        client = self._client
        if client is None and not self._first_attempt_done.is_set():
            await self.wait_first_attempt(CONNECT_GRACE)
            client = self._client
        if client is None or self._state not in SERVING:
            status = self.status()
            reason = f": {status.last_error}" if status.last_error else ""
            raise UpstreamUnavailable(
                f"server {self.name!r} is {status.state}{reason}",
                server=self.name,
                retry_after=status.retry_after,
            )
        deadline = timeout if timeout is not None else self.config.timeout
        try:
            # Every REST call passes here: a bare scope rather than anyio.fail_after, the same
            # deadline without its two generator layers.
            deadline_at = asyncio.get_running_loop().time() + deadline
            with self._relays.carrying(relay), anyio.CancelScope(deadline=deadline_at) as scope:
                result = await op(client)
            if scope.cancelled_caught:
                raise TimeoutError
            self._recover()
            return result
        except Exception as exc:
            if is_connection_loss(exc):
                self._connection_lost(_describe(exc))
            elif isinstance(exc, TimeoutError):
                self._degrade(f"a call timed out after {deadline:g} s")
            raise to_bridge_error(exc, server=self.name, timeout=deadline) from exc

    def _meta(self, relay: Relay | None) -> dict[str, Any] | None:
        """At 2026-07-28 log messages flow only for a request that opts in, at its level."""
        if relay is None or relay.log_level is None or self._protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return None
        return {types.LOG_LEVEL_META_KEY: relay.log_level}

    def _rounds(self, relay: Relay | None) -> tuple[types.InputResponses | None, str | None] | None:
        """This round's answers and state, when input-required rounds pass through to the caller.

        They do when both ends speak 2026-07-28: the upstream's input-required result goes to
        the caller as it is, and the caller's retry comes back here with its answers.
        """
        if relay is None or not relay.takes_input_required or self._protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return None
        answers = relay.input_responses
        return (_INPUT_RESPONSES.validate_python(answers) if answers else None), relay.request_state

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        relay: Relay | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JSON:
        """Call a tool; ``on_progress`` (if any) hears its progress instead of the relay's own callback."""
        progress = on_progress or (relay.progress if relay is not None and relay.wants_progress else None)
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)

        async def call(c: Client) -> Any:
            if rounds is None:  # the SDK drives any input-required rounds, asking through the relay
                return await c.call_tool(name, dict(arguments), progress_callback=progress, meta=meta)
            answers, state = rounds
            return await c.session.call_tool(
                name,
                dict(arguments),
                progress_callback=progress,
                meta=meta,
                input_responses=answers,
                request_state=state,
                allow_input_required=True,
            )

        return to_json(await self.request(call, relay=relay))

    async def read_resource(self, uri: str, relay: Relay | None = None) -> JSON:
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)

        async def read(c: Client) -> Any:
            if rounds is None:
                return await c.read_resource(uri, meta=meta)
            answers, state = rounds
            return await c.session.read_resource(
                uri, input_responses=answers, request_state=state, meta=meta, allow_input_required=True
            )

        return to_json(await self.request(read, relay=relay))

    async def get_prompt(self, name: str, arguments: Mapping[str, str], relay: Relay | None = None) -> JSON:
        meta: Any = self._meta(relay)
        rounds = self._rounds(relay)

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

        return to_json(await self.request(get, relay=relay))

    async def subscribe(self, uri: str, subscribed: bool) -> None:
        """Follow (or stop following) a resource upstream, the way the server's revision has it.

        At 2026-07-28 the followed URIs ride the ``subscriptions/listen`` stream, opened again
        with the new set; before it, ``resources/subscribe`` and ``unsubscribe``. Either way the
        set is kept, so a reconnect follows the same resources.
        """
        if subscribed:
            self._followed.add(uri)
        else:
            self._followed.discard(uri)
        if self._protocol_version in MODERN_PROTOCOL_VERSIONS:
            self._relisten.set()
            return
        await self.request(lambda c: self._send_subscribe(c, uri, subscribed))

    async def _send_subscribe(self, client: Client, uri: str, subscribed: bool) -> None:
        resources = (self._capabilities or {}).get("resources") or {}
        if self._protocol_version in MODERN_PROTOCOL_VERSIONS or not resources.get("subscribe"):
            return
        if subscribed:
            request: Any = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
        else:
            request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
        await client.session.send_request(request, types.EmptyResult)


async def _pages(fetch: Callable[[str | None], Awaitable[Any]], key: str) -> list[list[JSON]]:
    pages: list[list[JSON]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        result = to_json(await fetch(cursor))
        pages.append(list(result.get(key, [])))
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return pages


def _at_least(level: str, floor: str) -> bool:
    return _LOG_RANK.get(level, len(_LOG_RANK)) >= _LOG_RANK.get(floor, 0)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return str(exc) or type(exc).__name__
