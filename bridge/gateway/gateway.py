"""The gateway: many upstream servers behind one set of operations, for one principal at a time.

Edges call exactly one method here per request, passing the principal the gate established.
Anything that goes upstream is a coroutine on the bridge's event loop (a thread reaches it
through ``Upstreams.run``); questions about the gateway's own state (servers, listings, name
resolution) are plain methods. The gateway keeps the naming index and each tool's compiled
``inputSchema`` validator, rebuilt when a catalog changes, checks arguments before anything
goes upstream, shapes results into the REST contract's form, and publishes what happens on its
event bus (``bridge.events``): catalogs, states, resource updates, registrations, and each
tool call's start, progress and end, built only when someone listens.

A principal sees only what it may use: servers and tools outside its allowlists are not
listed for it, and naming one is refused with 403 (``Forbidden``). A server outside them is 403
whatever is asked of it, even one that does not exist, as is any tool named on it; a bare or
qualified tool name that exists nowhere is 404. With the destructive policy on (the
default), a tool annotated ``destructiveHint: true`` is for principals holding the
``destructive`` scope only: hidden from others, and 403 when they name it.

With limits on calls (``bridge.limits``: a caller's calls in flight, a server's or a tool's rate
and calls in flight), every call that goes upstream (tool calls, resource reads, prompts) takes
its slots once it has been checked and gives them back when it ends, however it ends; beyond a
limit it is refused with 429 before it leaves. Without such limits ``limits`` is None and a call
pays one ``is None``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry.trace import Tracer

from bridge.config import ServerConfig
from bridge.errors import Ambiguous, BridgeError, Forbidden, NotFound, ToolFailed, UpstreamUnavailable
from bridge.events import (
    CallEvent,
    CallFailed,
    CallFinished,
    CallProgress,
    CallStarted,
    CatalogChanged,
    EventBus,
    InProcessBus,
    ResourceUpdated,
    ServerRegistered,
    ServerRemoved,
    ServerStateChanged,
)
from bridge.gateway.naming import qualify, resolve
from bridge.gateway.ports import Upstreams
from bridge.gateway.registry import ServerRegistry
from bridge.limits import Lease, UpstreamLimits
from bridge.model import (
    DESTRUCTIVE,
    INPUT_REQUIRED,
    JSON,
    SERVING,
    Catalog,
    Principal,
    ProgressCallback,
    Relay,
    ServerStatus,
)
from bridge.schema import CompiledSchema, SchemaCompileError
from bridge.telemetry import Metrics
from bridge.telemetry.metrics import UNKNOWN

__all__ = ["Gateway"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: A tool error's detail quotes at most this much of its text content.
DETAIL_CHARS = 500
#: The status a call is counted with when its caller went away before the answer (nginx's 499).
CLIENT_GONE = 499
#: Call ids: this process's prefix and a counter, unique without a random draw per call.
_CALL_PREFIX = f"{os.getpid():x}-{int(time.time()):x}-"
_CALL_COUNTER = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Index:
    """Who offers which name; rebuilt whole when any catalog changes."""

    tools: Mapping[str, frozenset[str]] = field(default_factory=dict)
    prompts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    resources: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _owners(pairs: list[tuple[str, str]]) -> dict[str, frozenset[str]]:
    owners: dict[str, set[str]] = {}
    for local, server in pairs:
        owners.setdefault(local, set()).add(server)
    return {k: frozenset(v) for k, v in owners.items()}


def _names(catalog: Catalog) -> dict[str, frozenset[str]]:
    return {
        "tools": frozenset(catalog.tools),
        "prompts": frozenset(catalog.prompts),
        "resources": frozenset(r["uri"] for r in catalog.resources),
    }


class Gateway:
    """Routes operations to upstream servers, and tells the bus what happened."""

    def __init__(
        self,
        upstreams: Upstreams,
        registry: ServerRegistry,
        bus: EventBus | None = None,
        limits: UpstreamLimits | None = None,
        *,
        destructive_scope: bool = True,
    ) -> None:
        self.upstreams = upstreams
        self.registry = registry
        #: Tools annotated ``destructiveHint: true`` are only for principals with the ``destructive`` scope.
        self.destructive_scope = destructive_scope
        self.bus: EventBus = bus if bus is not None else InProcessBus()
        self.limits = limits
        #: Tool calls counted by server, tool and status, and in flight (``GET /metrics``); None: not counted.
        self.metrics: Metrics | None = None
        #: A span per tool call when traces are exported; None: no tracing cost at all.
        self.tracer: Tracer | None = None
        self._index = _Index()
        self._validators: dict[tuple[str, str, str], tuple[Any, CompiledSchema | None]] = {}
        self._lock = threading.Lock()
        #: What each server offered when last seen, to tell what a change added and removed.
        self._offered: dict[str, dict[str, frozenset[str]]] = {}
        #: Bumped on every catalog change, so derived documents know when to rebuild.
        self.catalog_version = 0
        upstreams.attach(self)
        self._reindex()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run one of the gateway's coroutines from a thread other than the loop's, and wait for it.

        The one way a thread (Flask's workers, start-up) reaches the gateway's operations.
        """
        return self.upstreams.run(coro, timeout)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` soon on the gateway's event loop, from any thread (for bus subscribers)."""
        self.upstreams.call_soon(callback)

    async def start(self, configured: Sequence[ServerConfig], *, wait: bool = True) -> None:
        """Start the config file's servers and the kept registrations; with ``wait``, their first handshakes."""
        await self.registry.start(configured)
        if wait:
            await self.upstreams.wait_connected()

    def close(self) -> None:
        self.upstreams.close()

    # -- what the upstreams tell us (UpstreamListener) ---------------------------------------

    def catalog_changed(self, server: str) -> None:
        self._reindex()
        try:
            now = _names(self.upstreams.catalog(server))
        except NotFound:  # removed
            now = {}
        with self._lock:
            before = self._offered.pop(server, {})
            if now:
                self._offered[server] = now
        if self.bus.wants(CatalogChanged):
            kinds = set(now) | set(before)
            empty: frozenset[str] = frozenset()
            added = {k: tuple(sorted(now.get(k, empty) - before.get(k, empty))) for k in kinds}
            removed = {k: tuple(sorted(before.get(k, empty) - now.get(k, empty))) for k in kinds}
            self.bus.publish(
                CatalogChanged(
                    server=server,
                    added={k: v for k, v in added.items() if v},
                    removed={k: v for k, v in removed.items() if v},
                )
            )

    def state_changed(self, server: str, status: ServerStatus) -> None:
        if self.bus.wants(ServerStateChanged):
            self.bus.publish(ServerStateChanged(server=server, state=status.state, last_error=status.last_error))

    def resource_updated(self, server: str, uri: str) -> None:
        if self.bus.wants(ResourceUpdated):
            self.bus.publish(ResourceUpdated(server=server, uri=uri))

    # -- catalog bookkeeping -----------------------------------------------------------------

    def _catalogs(self, principal: Principal | None = None) -> dict[str, Catalog]:
        found: dict[str, Catalog] = {}
        for name in self.upstreams.names():
            if principal is not None and not principal.may_use(name):
                continue
            try:
                found[name] = self.upstreams.catalog(name)
            except NotFound:  # removed meanwhile
                continue
        return found

    def _reindex(self) -> None:
        catalogs = self._catalogs()
        index = _Index(
            tools=_owners([(t, s) for s, c in catalogs.items() for t in c.tools]),
            prompts=_owners([(p, s) for s, c in catalogs.items() for p in c.prompts]),
            resources=_owners([(r["uri"], s) for s, c in catalogs.items() for r in c.resources]),
        )
        with self._lock:
            self._index = index
            self.catalog_version += 1
            # Validators of servers that are gone (removed, or renamed tools) are not kept.
            self._validators = {k: v for k, v in self._validators.items() if k[1] in catalogs}

    def _compiled(self, key: tuple[str, str, str], source: Any, schema: Any) -> CompiledSchema | None:
        """The validator for ``schema``, compiled once while ``source`` (the catalog entry) lives."""
        cached = self._validators.get(key)
        if cached is not None and cached[0] is source:
            return cached[1]
        try:
            compiled: CompiledSchema | None = CompiledSchema(schema)
        except SchemaCompileError as exc:
            # The upstream's schema is broken; it still validates its own input, so pass through.
            log.warning("%s %s.%s has an invalid schema (%s); not checked here", *key, exc)
            compiled = None
        self._validators[key] = (source, compiled)
        return compiled

    def _require_ready(self, server: str) -> None:
        """A server that is not connected has an unknown catalog: 503, not a misleading 404."""
        status = self.upstreams.status(server)
        if status.state not in SERVING:
            reason = f": {status.last_error}" if status.last_error else ""
            raise UpstreamUnavailable(
                f"server {server!r} is {status.state}{reason}", server=server, retry_after=status.retry_after
            )

    def _visible_server(self, server: str, principal: Principal | None) -> None:
        """403 for a server this principal may not use (whether or not it exists), 404 for one that does not exist."""
        if principal is not None and not principal.may_use(server):
            raise Forbidden(f"this caller may not use server {server!r}")
        self.upstreams.config(server)

    def sees_everything(self, principal: Principal) -> bool:
        """Whether ``principal`` is shown every server and tool (no allowlist, no tool held back)."""
        return principal.unrestricted and (not self.destructive_scope or DESTRUCTIVE in principal.scopes)

    def _withheld(self, principal: Principal | None, definition: JSON) -> bool:
        """Whether the destructive policy keeps this tool from ``principal``."""
        return (
            principal is not None
            and self.destructive_scope
            and DESTRUCTIVE not in principal.scopes
            and _destructive(definition)
        )

    # -- servers -----------------------------------------------------------------------------

    def server(self, name: str, principal: Principal | None = None) -> JSON:
        self._visible_server(name, principal)
        config = self.upstreams.config(name)
        status = self.upstreams.status(name)
        catalog = self.upstreams.catalog(name)
        tools = len(catalog.tools) if principal is None or self.sees_everything(principal) else None
        if tools is None:
            tools = len(self.tools(name, principal))
        return {
            "name": name,
            "source": self.registry.source(name),
            "transport": config.transport,
            "status": status.state,
            "protocolVersion": status.protocol_version,
            "serverInfo": status.server_info,
            "capabilities": status.capabilities,
            "counts": {
                "tools": tools,
                "resources": len(catalog.resources),
                "prompts": len(catalog.prompts),
            },
            "lastError": status.last_error,
        }

    def servers(self, principal: Principal | None = None) -> list[JSON]:
        found = []
        for name in self.upstreams.names():
            if principal is not None and not principal.may_use(name):
                continue
            try:
                found.append(self.server(name, principal))
            except NotFound:
                continue
        return found

    def readiness(self) -> tuple[bool, JSON]:
        servers = [{"name": s["name"], "status": s["status"]} for s in self.servers()]
        ready = all(s["status"] in SERVING for s in servers)
        return ready, {"status": "ready" if ready else "not_ready", "servers": servers}

    async def register(self, body: Mapping[str, Any]) -> JSON:
        """Connect a new server from a registration body; its state once connected."""
        name = await self.registry.register(body)
        info = self.server(name)
        if self.bus.wants(ServerRegistered):
            self.bus.publish(ServerRegistered(server=name, transport=info["transport"]))
        return info

    async def unregister(self, name: str) -> None:
        await self.registry.unregister(name)
        if self.bus.wants(ServerRemoved):
            self.bus.publish(ServerRemoved(server=name))

    async def follow_store(self) -> None:
        """Serve what the store's registrations are now (another instance changed them), with the events."""
        added, removed = await self.registry.follow_store()
        if removed and self.bus.wants(ServerRemoved):
            for name in removed:
                self.bus.publish(ServerRemoved(server=name))
        if added and self.bus.wants(ServerRegistered):
            for config in added:
                self.bus.publish(ServerRegistered(server=config.name, transport=config.transport))

    # -- tools -------------------------------------------------------------------------------

    def _named(
        self, server: str | None, principal: Principal | None, pick: Callable[[Catalog], Mapping[str, JSON]]
    ) -> list[JSON]:
        """Catalog entries of one server or all, each with its server and qualified name."""
        if server is not None:
            self._visible_server(server, principal)
        catalogs = {server: self.upstreams.catalog(server)} if server else self._catalogs(principal)
        return [
            {**entry, "name": name, "qualifiedName": qualify(s, name), "server": s}
            for s, catalog in catalogs.items()
            for name, entry in pick(catalog).items()
        ]

    def tools(self, server: str | None = None, principal: Principal | None = None) -> list[JSON]:
        listed = self._named(server, principal, lambda catalog: catalog.tools)
        if principal is None or self.sees_everything(principal):
            return listed
        return [t for t in listed if principal.may_call(t["server"], t["name"]) and not self._withheld(principal, t)]

    def resolve_tool(self, name: str, principal: Principal | None = None) -> tuple[str, str]:
        """(server, tool) for a qualified or bare name; 403 when only tools ``principal`` may not call have it."""
        owners = self._index.tools
        servers = self.upstreams.names()
        if principal is None or principal.unrestricted:
            return resolve(name, owners, servers, "tool")
        permitted = {
            local: frozenset(s for s in offering if principal.may_call(s, local)) for local, offering in owners.items()
        }
        try:
            return resolve(name, permitted, servers, "tool")
        except NotFound:
            prefix, dot, _ = name.partition(".")
            if dot and prefix in servers and not principal.may_use(prefix):
                raise Forbidden(f"this caller may not use server {prefix!r}") from None
            try:
                server, tool = resolve(name, owners, servers, "tool")
            except Ambiguous:  # offered only by servers it may not see: do not name them
                raise Forbidden(f"this caller may not call tool {name!r}") from None
            raise Forbidden(f"this caller may not call tool {qualify(server, tool)!r}") from None

    def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        principal: Principal,
        where: str = "/body",
        relay: Relay | None = None,
        request_id: str | None = None,
    ) -> Coroutine[Any, Any, JSON]:
        """Check ``arguments`` against the tool's inputSchema, call it, and shape the result.

        ``where`` is the JSON pointer of the arguments in the caller's request, so problems
        point into what the caller actually sent. ``relay`` receives what the call sends back.
        ``request_id`` (the caller's name for its request) goes into the call's events.
        A tool's own failure raises ``ToolFailed`` carrying its result. (The coroutine that does it,
        chosen here: one coroutine less in every call's chain.)
        """
        if self.metrics is None and self.tracer is None:
            return self._call_tool(server, tool, arguments, principal, where, relay, request_id)
        return self._observed_call(server, tool, arguments, principal, where, relay, request_id)

    async def _observed_call(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        principal: Principal,
        where: str,
        relay: Relay | None,
        request_id: str | None,
    ) -> JSON:
        """``_call_tool`` counted (calls by status, in flight) and, when traces are exported, in a span."""
        metrics = self.metrics
        status = 200
        if metrics is not None:
            metrics.in_flight += 1
        try:
            if self.tracer is None:
                return await self._call_tool(server, tool, arguments, principal, where, relay, request_id)
            with self.tracer.start_as_current_span(
                f"execute_tool {qualify(server, tool)}",
                attributes={
                    "mcp.server.name": server,
                    "gen_ai.tool.name": tool,
                    "gen_ai.operation.name": "execute_tool",
                },
            ):
                return await self._call_tool(server, tool, arguments, principal, where, relay, request_id)
        except BridgeError as error:
            status = error.status
            raise
        except Exception:
            status = 500
            raise
        except BaseException:  # cancelled: the caller left (nginx's "client closed request")
            status = CLIENT_GONE
            raise
        finally:
            if metrics is not None:
                metrics.in_flight -= 1
                if status in (403, 404) and not self._offers(server, tool):  # names a caller made up: not a series each
                    server, tool = UNKNOWN, UNKNOWN
                metrics.call_ended(server, tool, status)

    def _offers(self, server: str, tool: str) -> bool:
        return server in self.upstreams.names() and tool in self.upstreams.catalog(server).tools

    async def _call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        principal: Principal,
        where: str,
        relay: Relay | None,
        request_id: str | None,
    ) -> JSON:
        self.check_tool_call(server, tool, arguments, where, principal)
        lease = None if (limits := self.limits) is None else await self._acquire(limits, principal, server, tool)
        try:
            bus = self.bus
            if not bus.wants(CallEvent):
                return _tool_result(
                    server, tool, await self.upstreams.call_tool(server, tool, arguments, relay, None, principal)
                )
            observed = _ObservedCall(bus, server, tool, arguments, principal, request_id)
            return await observed.run(self.upstreams, relay)
        finally:
            if lease is not None:
                await lease.release()

    async def _acquire(
        self, limits: UpstreamLimits, principal: Principal, server: str, tool: str | None
    ) -> Lease | None:
        """The call's slots under ``limits``; 429 when one is full or a rate is spent."""
        return await limits.acquire(principal, server, tool, self.upstreams.config(server).timeout)

    def check_tool_call(
        self, server: str, tool: str, arguments: Mapping[str, Any], where: str, principal: Principal
    ) -> None:
        """Raise whatever the call would be refused for before it goes upstream (403, 404, 503, 400)."""
        if (principal.servers is not None or principal.tools is not None) and not principal.may_call(server, tool):
            self._visible_server(server, principal)
            raise Forbidden(f"this caller may not call tool {qualify(server, tool)!r}")
        definition = self.upstreams.catalog(server).tools.get(tool)
        if definition is None:
            self._require_ready(server)
            raise NotFound(f"server {server!r} has no tool named {tool!r}")
        if self.destructive_scope and DESTRUCTIVE not in principal.scopes and _destructive(definition):
            raise Forbidden(
                f"tool {qualify(server, tool)!r} is destructive (destructiveHint); calling it needs the"
                " 'destructive' scope"
            )
        schema = definition.get("inputSchema")
        if schema is not None:
            validator = self._compiled(("tool", server, tool), schema, schema)
            if validator is not None:
                validator.check(arguments, base=where, what=f"invalid arguments for tool {qualify(server, tool)!r}")

    # -- resources ---------------------------------------------------------------------------

    def resources(self, server: str | None = None, principal: Principal | None = None) -> JSON:
        if server is not None:
            self._visible_server(server, principal)
        catalogs = {server: self.upstreams.catalog(server)} if server else self._catalogs(principal)
        return {
            "resources": [{**r, "server": s} for s, c in catalogs.items() for r in c.resources],
            "resourceTemplates": [{**t, "server": s} for s, c in catalogs.items() for t in c.templates],
        }

    def resolve_resource(self, uri: str, principal: Principal | None = None) -> str:
        """The server that serves ``uri``: the one listing it, else the one whose template scheme fits."""
        listed = sorted(s for s in self._index.resources.get(uri, ()) if principal is None or principal.may_use(s))
        if len(listed) == 1:
            return listed[0]
        if len(listed) > 1:
            raise Ambiguous(f"resource {uri!r} is offered by {len(listed)} servers", listed)
        scheme = uri.split(":", 1)[0] + ":"
        catalogs = self._catalogs(principal)
        by_template = sorted(
            s for s, c in catalogs.items() if any(t.get("uriTemplate", "").startswith(scheme) for t in c.templates)
        )
        if len(by_template) == 1:
            return by_template[0]
        if len(by_template) > 1:
            raise Ambiguous(f"resource {uri!r} matches templates of {len(by_template)} servers", by_template)
        if len(catalogs) == 1:
            return next(iter(catalogs))
        raise NotFound(f"no server offers resource {uri!r}")

    async def read_resource(self, server: str, uri: str, *, principal: Principal, relay: Relay | None = None) -> JSON:
        self._visible_server(server, principal)  # 404 for an unknown server before going upstream
        lease = None if (limits := self.limits) is None else await self._acquire(limits, principal, server, None)
        try:
            return _resource_result(await self.upstreams.read_resource(server, uri, relay, principal))
        finally:
            if lease is not None:
                await lease.release()

    async def subscribe(self, uri: str, subscribed: bool, *, principal: Principal) -> str:
        """Follow a resource upstream (or stop); the server that serves it."""
        server = self.resolve_resource(uri, principal)
        await self.upstreams.subscribe(server, uri, subscribed)
        return server

    # -- prompts -----------------------------------------------------------------------------

    def prompts(self, server: str | None = None, principal: Principal | None = None) -> list[JSON]:
        return self._named(server, principal, lambda catalog: catalog.prompts)

    def resolve_prompt(self, name: str, principal: Principal | None = None) -> tuple[str, str]:
        owners = self._index.prompts
        servers = self.upstreams.names()
        if principal is None or principal.servers is None:
            return resolve(name, owners, servers, "prompt")
        permitted = {
            local: frozenset(s for s in offering if principal.may_use(s)) for local, offering in owners.items()
        }
        try:
            return resolve(name, permitted, servers, "prompt")
        except NotFound:
            try:
                server, prompt = resolve(name, owners, servers, "prompt")
            except Ambiguous:  # offered only by servers it may not see: do not name them
                raise Forbidden(f"this caller may not use prompt {name!r}") from None
            raise Forbidden(f"this caller may not use prompt {qualify(server, prompt)!r}") from None

    async def get_prompt(
        self,
        server: str,
        name: str,
        arguments: Mapping[str, str],
        *,
        principal: Principal,
        where: str = "/body",
        relay: Relay | None = None,
    ) -> JSON:
        """Check ``arguments`` against the prompt's declared arguments, then render it upstream."""
        self._visible_server(server, principal)
        definition = self.upstreams.catalog(server).prompts.get(name)
        if definition is None:
            self._require_ready(server)
            raise NotFound(f"server {server!r} has no prompt named {name!r}")
        validator = self._compiled(("prompt", server, name), definition, _prompt_schema(definition))
        if validator is not None:
            validator.check(arguments, base=where, what=f"invalid arguments for prompt {qualify(server, name)!r}")
        lease = None if (limits := self.limits) is None else await self._acquire(limits, principal, server, None)
        try:
            return _prompt_result(await self.upstreams.get_prompt(server, name, arguments, relay, principal))
        finally:
            if lease is not None:
                await lease.release()

    # -- completions -------------------------------------------------------------------------

    def resolve_template(self, uri_template: str, principal: Principal | None = None) -> str:
        """The server offering the resource template ``uri_template``, among those ``principal`` may use."""
        owners = sorted(
            server
            for server, catalog in self._catalogs(principal).items()
            if any(t.get("uriTemplate") == uri_template for t in catalog.templates)
        )
        if len(owners) == 1:
            return owners[0]
        if owners:
            raise Ambiguous(f"resource template {uri_template!r} is offered by {len(owners)} servers", owners)
        raise NotFound(f"no server offers resource template {uri_template!r}")

    async def complete(
        self, ref: JSON, argument: Mapping[str, str], context: Mapping[str, str] | None, *, principal: Principal
    ) -> JSON:
        """Complete an argument of a prompt (named as listed here) or a resource template, on its server.

        A server that did not declare completions has none to offer: an empty list, without a
        request it would refuse.
        """
        if ref.get("type") == "ref/prompt":
            server, prompt = self.resolve_prompt(str(ref.get("name", "")), principal)
            ref = {"type": "ref/prompt", "name": prompt}
        else:
            uri_template = str(ref.get("uri", ""))
            server = self.resolve_template(uri_template, principal)
            ref = {"type": "ref/resource", "uri": uri_template}
        self._require_ready(server)
        if "completions" not in (self.upstreams.status(server).capabilities or {}):
            return {"completion": {"values": [], "hasMore": False}}
        lease = None if (limits := self.limits) is None else await self._acquire(limits, principal, server, None)
        try:
            raw = await self.upstreams.complete(server, ref, argument, context, principal)
        finally:
            if lease is not None:
                await lease.release()
        return {"completion": raw.get("completion", {"values": []})}


class _ObservedCall:
    """A tool call someone listens to: its start, progress and end go on the bus.

    The receipts a call's end gets back (the webhook outbox keeping its event) are awaited
    before the call returns, so a caller has its answer only once they are kept.
    """

    __slots__ = ("arguments", "bus", "call_id", "caller", "request_id", "server", "subject", "tool")

    def __init__(
        self,
        bus: EventBus,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        caller: Principal,
        request_id: str | None,
    ) -> None:
        self.bus = bus
        self.call_id = _CALL_PREFIX + str(next(_CALL_COUNTER))
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.caller = caller
        self.subject = caller.subject
        self.request_id = request_id

    async def run(self, upstreams: Upstreams, relay: Relay | None) -> JSON:
        bus = self.bus
        if bus.wants(CallStarted):
            bus.publish(
                CallStarted(
                    server=self.server,
                    tool=self.tool,
                    call_id=self.call_id,
                    subject=self.subject,
                    request_id=self.request_id,
                    arguments=self.arguments,
                )
            )
        on_progress = self._progress(relay) if bus.wants(CallProgress) else None
        started = time.monotonic()
        try:
            result = _tool_result(
                self.server,
                self.tool,
                await upstreams.call_tool(self.server, self.tool, self.arguments, relay, on_progress, self.caller),
            )
        except ToolFailed as failed:
            await self._finished(started, failed.result, is_error=True)
            raise
        except BridgeError as error:
            if bus.wants(CallFailed):
                for receipt in bus.publish(
                    CallFailed(
                        server=self.server,
                        tool=self.tool,
                        call_id=self.call_id,
                        subject=self.subject,
                        request_id=self.request_id,
                        duration=time.monotonic() - started,
                        arguments=self.arguments,
                        problem=error.to_problem(),
                    )
                ):
                    await receipt
            raise
        await self._finished(started, result, is_error=False)
        return result

    async def _finished(self, started: float, result: JSON, *, is_error: bool) -> None:
        if self.bus.wants(CallFinished):
            duration = time.monotonic() - started
            for receipt in self.bus.publish(
                CallFinished(
                    server=self.server,
                    tool=self.tool,
                    call_id=self.call_id,
                    subject=self.subject,
                    request_id=self.request_id,
                    duration=duration,
                    is_error=is_error,
                    arguments=self.arguments,
                    result=result,
                )
            ):
                await receipt

    def _progress(self, relay: Relay | None) -> ProgressCallback:
        forward = relay.progress if relay is not None and relay.wants_progress else None

        async def report(progress: float, total: float | None, message: str | None) -> None:
            self.bus.publish(
                CallProgress(
                    server=self.server,
                    tool=self.tool,
                    call_id=self.call_id,
                    subject=self.subject,
                    request_id=self.request_id,
                    progress=progress,
                    total=total,
                    message=message,
                )
            )
            if forward is not None:
                await forward(progress, total, message)

        return report


def _destructive(definition: JSON) -> bool:
    """Whether a tool says it may destroy (MCP's ``destructiveHint``; only an explicit true counts)."""
    annotations = definition.get("annotations")
    return isinstance(annotations, dict) and annotations.get("destructiveHint") is True


def _tool_result(server: str, tool: str, raw: JSON) -> JSON:
    """The REST contract's tool result; a tool's own failure raises ``ToolFailed`` carrying it."""
    if raw.get("resultType") == INPUT_REQUIRED:  # an input-required round goes to the caller untouched
        return raw
    # The REST contract's keys, in its order (every tool call passes here: no comprehension).
    result = {"content": raw.get("content", [])}
    if "structuredContent" in raw:
        result["structuredContent"] = raw["structuredContent"]
    result["isError"] = bool(raw.get("isError", False))
    if "_meta" in raw:
        result["_meta"] = raw["_meta"]
    if result["isError"]:
        raise ToolFailed(_error_detail(server, tool, result), result)
    return result


def _resource_result(raw: JSON) -> JSON:
    if raw.get("resultType") == INPUT_REQUIRED:
        return raw
    return {"contents": raw.get("contents", [])}


def _prompt_result(raw: JSON) -> JSON:
    if raw.get("resultType") == INPUT_REQUIRED:
        return raw
    return {k: raw[k] for k in ("description", "messages", "_meta") if k in raw}


def _prompt_schema(definition: JSON) -> JSON:
    """MCP declares prompt arguments as a list; as a schema: strings, the required ones, no others."""
    declared = [a for a in definition.get("arguments") or [] if isinstance(a.get("name"), str)]
    return {
        "type": "object",
        "properties": {a["name"]: {"type": "string"} for a in declared},
        "required": [a["name"] for a in declared if a.get("required")],
        "additionalProperties": False,
    }


def _error_detail(server: str, tool: str, result: JSON) -> str:
    texts = [b.get("text", "") for b in result.get("content", []) if b.get("type") == "text"]
    text = " ".join(t for t in texts if t).strip()
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS] + "…"
    return f"tool {qualify(server, tool)!r} failed: {text}" if text else f"tool {qualify(server, tool)!r} failed"
