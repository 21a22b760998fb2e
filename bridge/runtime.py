"""Assembles a running bridge from settings and server configs: upstream pool, gateway, app.

This is the only module that knows every layer; it wires them and owns their shutdown.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from bridge.audit import AuditFile
from bridge.calls import CallLimits, Calls, CallView, render
from bridge.config import BridgeSettings, ConfigError, ServerConfig
from bridge.errors import BridgeError
from bridge.events import Event, InProcessBus, ServerStateChanged
from bridge.feed import Feed, FeedSettings
from bridge.gate import (
    AccessTokens,
    ApiKeys,
    Authenticator,
    CredentialSource,
    Gate,
    Idempotency,
    MetadataError,
    ProtectedResource,
    StaticKeys,
    StoredKeys,
)
from bridge.gateway import Gateway
from bridge.gateway.registry import ServerRegistry
from bridge.instances import Joined
from bridge.limits import Limits
from bridge.rest import create_app
from bridge.spec import Spec
from bridge.store import Store, StoreError
from bridge.store.changes import ChangeWatcher
from bridge.store.events import Retention
from bridge.store.sessions import SessionEnds
from bridge.telemetry import FanoutCollector, Metrics, MetricsServer, MetricsSources, Tracing, create_registry
from bridge.upstream import UpstreamPool
from bridge.validation import RequestValidator
from bridge.webhooks import RetrySchedule, WebhookSubscriptions
from bridge.webhooks.callbacks import CallbackSender
from bridge.webhooks.dispatcher import DispatchSettings, WebhookDispatcher
from bridge.webhooks.outbox import WebhookOutbox

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from bridge.endpoint.draining import Drain
    from bridge.endpoint.lean_post import LeanPosts
    from bridge.endpoint.protocol import GuardedHttpProtocol, QuickAnswer
    from bridge.endpoint.session_seal import SessionSeal

__all__ = ["Bridge"]

log = logging.getLogger(__name__)


@dataclass
class Bridge:
    """A bridge's parts, built and started; ``close()`` stops upstreams and their children."""

    settings: BridgeSettings
    spec: Spec
    gateway: Gateway
    gate: Gate
    app: Any
    pool: UpstreamPool
    store: Store
    feed: Feed
    webhooks: WebhookSubscriptions
    dispatcher: WebhookDispatcher
    outbox: WebhookOutbox
    keys: StoredKeys
    limits: Limits
    calls: Calls
    callbacks: CallbackSender | None = None
    #: The other instances on the same Redis (``--redis-url``); None when alone.
    joined: Joined | None = None
    audit_file: AuditFile | None = None
    #: What keeps this instance current with the others on its store (None: a store of its own).
    changes: ChangeWatcher | None = None
    #: Handshake-era sessions ended by their clients, here or on another instance on the store.
    session_ends: SessionEnds | None = None
    #: Polls of calls answered in the HTTP protocol (``http_protocol``); set by ``asgi_app()``.
    quick_answer: QuickAnswer | None = None
    #: What the HTTP protocol offers each MCP client's POST /mcp (``asgi_app()``, with the lean path).
    lean_posts: LeanPosts | None = None
    #: How the HTTP server stops (``bridge.endpoint.draining``); set by ``asgi_app()``.
    drain: Drain | None = None
    #: What ``GET /metrics`` reports (``settings.telemetry``), and the server on ``--metrics-address``.
    metrics: Metrics | None = None
    registry: CollectorRegistry | None = None
    metrics_server: MetricsServer | None = None
    tracing: Tracing | None = None

    @classmethod
    def create(
        cls,
        settings: BridgeSettings,
        servers: Sequence[ServerConfig],
        *,
        spec_path: Path | None = None,
        wait: bool = True,
        tracing: Tracing | None = None,
    ) -> Bridge:
        """``tracing``: spans exported (``Tracing.from_env``), one per request and per upstream call."""
        spec = Spec.from_file(spec_path)  # a broken spec stops start-up here, before any child starts
        tokens, protected = _access_tokens(settings)  # the issuer is asked now, before anything starts
        with contextlib.ExitStack() as undo:  # a failure below closes, newest first, what was made
            store = (
                Store.open(settings.registry_path, pool=settings.store_pool)
                if settings.registry_path
                else Store.memory()
            )
            undo.callback(store.close)
            # Other processes (instances, mcp-bridge keys …) may change what that file holds.
            changes = ChangeWatcher(store.database) if settings.registry_path else None
            keys = StoredKeys(store.keys, store.writer)
            pool = UpstreamPool(connect_timeout=settings.connect_timeout)
            undo.callback(pool.close)
            # The config file's limits under the command line's; Redis, when given, is reached here.
            limits = Limits.create(settings.limits.including(servers), settings.redis_url)
            undo.callback(lambda: pool.run(limits.close(), 10))
            sources: list[CredentialSource] = [StaticKeys(settings.api_keys, settings.admin_keys), keys]
            sources += [tokens] if tokens is not None else []
            authenticator = Authenticator(sources, resource=protected)
            # Only the config file may send callers' tokens upstream, so this is known at start.
            authenticator.keep_credentials = any(server.forward_caller_token for server in servers)
            idempotency = Idempotency(store.idempotency, store.writer, settings.idempotency_ttl)
            gate = Gate(authenticator, RequestValidator(spec), settings.max_body, limits.caller, idempotency)
            if tokens is not None:  # what needs the network is asked from a worker thread, not the loop's
                tokens.loop_thread = pool.run(_loop_thread(), 10)
            registry = ServerRegistry(
                pool,
                store.registrations,
                allow_stdio=settings.allow_stdio_registration,
                allow_private=settings.allow_private_upstreams,
                connect_timeout=settings.connect_timeout,
                call_timeout=settings.call_timeout,
            )
            bus = InProcessBus()
            feed = Feed(bus, store, _feed_settings(settings))
            undo.callback(feed.close)
            gateway = Gateway(pool, registry, bus, limits.upstream, destructive_scope=settings.destructive_scope)
            metrics, metrics_registry = _metrics(gateway, pool, bus, store) if settings.telemetry else (None, None)
            gateway.tracer = tracing.tracer if tracing is not None else None
            webhooks, dispatcher, outbox = _webhooks(settings, store, feed, pool)
            undo.callback(outbox.close)
            undo.callback(lambda: pool.run(dispatcher.close(), 10))
            callbacks = _callbacks(settings)
            if callbacks is not None:
                undo.callback(lambda: pool.run(callbacks.close(), 10))
            calls = Calls(gateway, store.calls, store.writer, _call_limits(settings), _completion(callbacks))
            joined = None
            if settings.redis_url:  # events and calls shared with the other instances on it
                joined = gateway.run(Joined.start(settings.redis_url, feed, calls, store), 30)
                undo.callback(lambda: pool.run(joined.close(), 10) if joined is not None else None)
                if metrics_registry is not None:
                    metrics_registry.register(FanoutCollector(joined.fanout))
            gateway.run(calls.open(), 30)
            undo.callback(lambda: pool.run(calls.close(), 10))
            gateway.run(gateway.start(servers, wait=wait), settings.connect_timeout * 2 + 10)
            app = create_app(gateway, spec, settings, gate, webhooks, ApiKeys(store.keys, keys.reload))
            session_ends = SessionEnds(store.sessions, store.writer)
            if changes is not None:
                _follow_changes(changes, keys, gateway, webhooks, dispatcher, session_ends, settings)
                undo.callback(changes.close)
            try:
                audit_file = AuditFile.attach(Path(settings.audit_log)) if settings.audit_log else None
            except OSError as exc:
                raise ConfigError(f"cannot open the audit log {settings.audit_log}: {exc.strerror}") from exc
            metrics_server = None
            if metrics_registry is not None and settings.metrics_address:
                metrics_server = MetricsServer.start(settings.metrics_address, metrics_registry)
                undo.callback(metrics_server.close)
            undo.pop_all()  # started: the bridge owns all of it now (``close()``)
        return cls(
            settings=settings,
            spec=spec,
            gateway=gateway,
            gate=gate,
            app=app,
            pool=pool,
            store=store,
            feed=feed,
            webhooks=webhooks,
            dispatcher=dispatcher,
            outbox=outbox,
            keys=keys,
            limits=limits,
            calls=calls,
            callbacks=callbacks,
            joined=joined,
            audit_file=audit_file,
            metrics=metrics,
            registry=metrics_registry,
            metrics_server=metrics_server,
            tracing=tracing,
            changes=changes,
            session_ends=session_ends,
        )

    def asgi_app(self) -> Any:
        """The REST API and the MCP endpoint on one ASGI application."""
        from bridge.endpoint import create_asgi_app
        from bridge.endpoint.access import EventAccess
        from bridge.endpoint.async_calls import AsyncCalls
        from bridge.endpoint.call_resources import CallResources
        from bridge.endpoint.calls import ToolCalls
        from bridge.endpoint.draining import Drain
        from bridge.endpoint.jsonrpc import PlainJsonRpc
        from bridge.endpoint.lean import LeanMcp
        from bridge.endpoint.lean_post import LeanPosts
        from bridge.endpoint.metrics import MetricsEndpoint
        from bridge.endpoint.observe import Observer
        from bridge.endpoint.origins import Origins
        from bridge.endpoint.server import create_gateway_server
        from bridge.endpoint.stream import EventStream
        from bridge.endpoint.websocket import WebSocketEndpoint
        from bridge.gateway.jsonrpc import JsonRpcDispatcher

        mcp = create_gateway_server(self.gateway, self.calls)
        check_callback = self.callbacks.check if self.callbacks is not None else None
        calls = ToolCalls(self.gateway, self.gate, AsyncCalls(self.calls, check_callback))
        origins = Origins(self.settings.allowed_origins, self.settings.host, self.settings.allowed_hosts)
        access = EventAccess(self.gate, origins)
        call_resources = CallResources(self.calls, self.gate, origins=origins, request_ids=self.observed)
        dispatcher = JsonRpcDispatcher(self.gateway)  # one for /ws and plain POST /mcp: it keeps no state
        self.quick_answer = call_resources.quick_answer
        self.drain = drain = Drain(self.settings.shutdown_grace)
        lean = None
        if self.settings.mcp_lean_path:
            lean = LeanMcp(mcp, tasks=self.calls is not None, seal=self._session_seal(), ends=self.session_ends)
        if lean is not None and self.tracing is None:  # with traces, the observer opens every request's span
            self.lean_posts = LeanPosts(
                lean, self.gate, origins, drain, named=self.observed, metrics=self.metrics if self.observed else None
            )
        app = create_asgi_app(
            self.app,
            mcp.server,
            self.gate,
            host=self.settings.host,
            calls=calls,
            call_resources=call_resources,
            stream=EventStream(self.feed, access, stopping=drain.stopping),
            websocket=WebSocketEndpoint(dispatcher, self.feed, access, stopping=drain.stopping),
            plain_rpc=PlainJsonRpc(dispatcher, self.gate),
            lean=lean,
            origins=origins,
            threads=self.settings.threads,
            drain=drain,
            metrics=MetricsEndpoint(self.registry, self.gate) if self.registry is not None else None,
        )
        if not self.observed:
            return app
        return Observer(app, self.metrics, self.tracing.tracer if self.tracing is not None else None)

    def _session_seal(self) -> SessionSeal:
        """What 2025-era session ids are sealed with: the operator's shared secret, or a key of this process's."""
        from bridge.endpoint.session_seal import SessionSeal

        secret = self.settings.session_secret
        return SessionSeal(secret.encode() if secret else None)

    def http_protocol(self) -> type[GuardedHttpProtocol]:
        """uvicorn's HTTP protocol for this bridge (after ``asgi_app()``): bounded request heads, and
        plain polls of calls answered in the protocol."""
        from bridge.endpoint.protocol import GuardedHttpProtocol

        protocol = (
            GuardedHttpProtocol if self.quick_answer is None else GuardedHttpProtocol.answering(self.quick_answer)
        )
        if self.lean_posts is not None:
            protocol = protocol.posting(self.lean_posts)
        return protocol.naming_requests() if self.observed else protocol

    @property
    def observed(self) -> bool:
        """Whether every request is named (``X-Request-Id``, the problems' ``requestId``) and observed:
        telemetry is on, or traces are sent."""
        return self.settings.telemetry or self.tracing is not None

    def serve(self, server: Coroutine[Any, Any, None], stop: Callable[[], None]) -> None:
        """Run an HTTP server's coroutine on the upstream sessions' loop until it returns.

        One loop for both means the MCP endpoint awaits upstream calls with no thread hop, and a
        client's cancellation reaches the upstream request. Ctrl-C or SIGTERM (as
        KeyboardInterrupt in this, the main thread) calls ``stop()`` and waits for the server.
        """
        future = self.pool.run_forever(server)
        while True:
            try:
                future.result(timeout=0.5)
                return
            except concurrent.futures.TimeoutError:
                continue
            except KeyboardInterrupt:
                stop()

    def close(self) -> None:
        if self.changes is not None:
            self.changes.close()
        try:  # first, while the upstreams are there: running calls are marked cut off and kept
            self.pool.run(self.calls.close(), 10)
        except Exception:  # the loop is gone already: the next start marks them cut off
            log.debug("calls closed with the loop")
        if self.joined is not None:
            try:  # after the calls: how they ended reaches the other instances
                self.pool.run(self.joined.close(), 10)
            except Exception:  # the loop is gone already: the others see this one's heartbeat lapse
                log.debug("left the other instances with the loop")
        if self.callbacks is not None:
            with contextlib.suppress(Exception):  # the loop is gone already: nothing is in flight
                self.pool.run(self.callbacks.close(), 10)
        try:  # another instance on the store takes up at once what this one leaves pending
            self.pool.run(self.dispatcher.hand_back(), 15)
        except Exception:  # the loop is gone already: the leases lapse instead
            log.debug("webhook deliveries not handed back: the loop is gone")
        try:
            self.pool.run(self.dispatcher.close(), 10)
        except Exception:  # the loop is gone already: nothing is in flight
            log.debug("webhook dispatcher stopped with the loop")
        self.outbox.close()
        try:
            self.pool.run(self.limits.close(), 10)
        except Exception:  # the loop is gone already: so are the connections to Redis
            log.debug("limits closed with the loop")
        self.gateway.close()
        self.feed.close()
        self.store.close()
        if self.audit_file is not None:
            self.audit_file.detach()
        if self.metrics_server is not None:
            self.metrics_server.close()
        if self.tracing is not None:
            self.tracing.close()


def _metrics(
    gateway: Gateway, pool: UpstreamPool, bus: InProcessBus, store: Store
) -> tuple[Metrics, CollectorRegistry]:
    """Metrics counted by the gateway, the upstream pool and the HTTP edge; the rest read when scraped."""
    metrics = Metrics()
    gateway.metrics = pool.metrics = metrics

    def state_changed(event: Event) -> None:
        if isinstance(event, ServerStateChanged):
            metrics.state_changed(event.server, event.state)

    bus.subscribe(state_changed, [ServerStateChanged])
    sources = MetricsSources(
        states=lambda: {name: pool.status(name).state for name in pool.names()},
        deliveries=lambda: _delivery_counts(store),
    )
    return metrics, create_registry(metrics, sources)


def _webhooks(
    settings: BridgeSettings, store: Store, feed: Feed, pool: UpstreamPool
) -> tuple[WebhookSubscriptions, WebhookDispatcher, WebhookOutbox]:
    """Subscriptions (with the one ``WEBHOOK_URL`` stands for), the dispatcher on the loop, the outbox on the feed."""
    webhooks = WebhookSubscriptions(store.webhooks, allow_private=settings.allow_private_webhooks)
    if settings.webhook_url:
        try:
            webhooks.from_environment(settings.webhook_url, settings.webhook_secret)
        except BridgeError as exc:
            raise ConfigError(f"WEBHOOK_URL cannot be used: {exc.detail.removeprefix('/body/url: ')}") from exc
    else:
        webhooks.retire_environment()
    loop = pool.run(_running_loop(), 10)
    schedule = RetrySchedule(settings.webhook_retry_delays) if settings.webhook_retry_delays else RetrySchedule()
    dispatcher = WebhookDispatcher(
        webhooks,
        store.webhooks,
        store.writer,
        loop,
        DispatchSettings(
            schedule=schedule, allow_private=settings.allow_private_webhooks, lease=settings.delivery_lease
        ),
        # Instances on one store are told apart by where they serve; one restarted there takes
        # back at once the deliveries it held when it stopped.
        owner=f"{socket.gethostname()}:{settings.port}",
    )
    outbox = WebhookOutbox(webhooks, feed, store.writer, loop, dispatcher.submit, dispatcher.lease)
    pool.run(dispatcher.start(), 10)
    return webhooks, dispatcher, outbox


def _follow_changes(
    changes: ChangeWatcher,
    keys: StoredKeys,
    gateway: Gateway,
    webhooks: WebhookSubscriptions,
    dispatcher: WebhookDispatcher,
    session_ends: SessionEnds,
    settings: BridgeSettings,
) -> None:
    """Reload what another instance on the store changed (keys, registered servers, webhooks), sweep
    the outbox when deliveries were made free to take, and drop the sessions another ended."""
    changes.on("keys", keys.refresh)
    changes.on("registrations", lambda: gateway.run(gateway.follow_store(), settings.connect_timeout + 10))
    changes.on("webhooks", webhooks.reload)
    changes.on("deliveries", dispatcher.poke)
    changes.on("sessions", session_ends.reload)
    changes.start()


def _delivery_counts(store: Store) -> dict[str, int]:
    """The webhook deliveries by status, for a scrape; none when the store fails (logged), so the
    scrape still has every other series."""
    try:
        return dict(store.webhooks.counts_by_status())
    except StoreError as exc:
        log.warning("a scrape of /metrics left the webhook deliveries out: the store failed: %s", exc)
        return {}


def _access_tokens(settings: BridgeSettings) -> tuple[AccessTokens | None, ProtectedResource | None]:
    """OAuth 2.0 access tokens as a credential source, and the bridge as their protected resource,
    when configured (the issuer asked now); else neither."""
    oauth = settings.oauth
    if not oauth.enabled:
        return None, None
    resource = settings.resource_url
    try:
        tokens = AccessTokens.create(oauth, resource)
    except MetadataError as exc:
        raise ConfigError(f"OAuth 2.0 tokens cannot be checked: {exc}") from exc
    protected = ProtectedResource(
        resource=resource,
        authorization_servers=(oauth.issuer,) if oauth.issuer else (),
        scopes=tokens.scopes.names,
    )
    return tokens, protected


async def _loop_thread() -> int:
    return threading.get_ident()


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _call_limits(settings: BridgeSettings) -> CallLimits:
    return CallLimits(
        retention=settings.call_retention,
        per_caller=settings.call_limit_per_caller,
        total=settings.call_limit_total,
        max_result=settings.call_max_result,
    )


def _callbacks(settings: BridgeSettings) -> CallbackSender | None:
    """What delivers asynchronous calls' completion callbacks; None without a secret to sign them."""
    if not settings.callback_secret:
        return None
    schedule = RetrySchedule(settings.webhook_retry_delays) if settings.webhook_retry_delays else None
    return CallbackSender(settings.callback_secret, allow_private=settings.allow_private_webhooks, schedule=schedule)


def _completion(callbacks: CallbackSender | None) -> Callable[[CallView, str], None] | None:
    if callbacks is None:
        return None
    return lambda view, url: callbacks.send(url, orjson.dumps(render(view)))


def _feed_settings(settings: BridgeSettings) -> FeedSettings:
    return FeedSettings(
        retention=Retention(count=settings.event_log_count, age=settings.event_log_age),
        log_calls="always" if settings.log_all_calls else "followed",
        payloads=settings.event_payloads,
    )
