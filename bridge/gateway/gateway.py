"""The gateway: many upstream servers behind one set of operations.

Views call exactly one method here per request. The gateway keeps the naming index and each
tool's compiled ``inputSchema`` validator, both rebuilt when a server's catalog changes, checks
arguments before anything goes upstream, and shapes results into the REST contract's form.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.config import DEFAULT_CONNECT_TIMEOUT
from bridge.errors import Ambiguous, NotFound, ToolFailed, UpstreamUnavailable
from bridge.gateway.naming import qualify, resolve
from bridge.gateway.ports import Upstreams
from bridge.gateway.registry import ServerRegistry
from bridge.model import INPUT_REQUIRED, SERVING, Catalog, Relay
from bridge.schema import CompiledSchema, SchemaCompileError
from bridge.store import MemoryRegistrationStore

__all__ = ["Gateway"]

log = logging.getLogger(__name__)
JSON = dict[str, Any]

#: A tool error's detail quotes at most this much of its text content.
DETAIL_CHARS = 500
_RESULT_KEYS = ("content", "structuredContent", "isError", "_meta")


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


class Gateway:
    """Routes REST operations to upstream servers."""

    def __init__(self, upstreams: Upstreams, registry: ServerRegistry | None = None) -> None:
        self.upstreams = upstreams
        self.registry = registry or ServerRegistry(
            upstreams, MemoryRegistrationStore(), allow_stdio=False, connect_timeout=DEFAULT_CONNECT_TIMEOUT
        )
        self._index = _Index()
        self._validators: dict[tuple[str, str, str], tuple[Any, CompiledSchema | None]] = {}
        self._lock = threading.Lock()
        #: Bumped on every catalog change, so derived documents know when to rebuild.
        self.catalog_version = 0
        self._change_listeners: list[Callable[[], None]] = []
        upstreams.set_catalog_listener(self._catalog_changed)
        self._catalog_changed("")

    def close(self) -> None:
        self.upstreams.close()

    # -- catalog bookkeeping -----------------------------------------------------------------

    def _catalogs(self) -> dict[str, Catalog]:
        found: dict[str, Catalog] = {}
        for name in self.upstreams.names():
            try:
                found[name] = self.upstreams.catalog(name)
            except NotFound:  # removed meanwhile
                continue
        return found

    def _catalog_changed(self, _server: str) -> None:
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
            listeners = list(self._change_listeners)
        for listener in listeners:
            listener()

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on whichever thread made the change) whenever any catalog changes."""
        with self._lock:
            self._change_listeners.append(listener)

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

    # -- servers -----------------------------------------------------------------------------

    def server(self, name: str) -> JSON:
        config = self.upstreams.config(name)
        status = self.upstreams.status(name)
        catalog = self.upstreams.catalog(name)
        return {
            "name": name,
            "source": self.registry.source(name),
            "transport": config.transport,
            "status": status.state,
            "protocolVersion": status.protocol_version,
            "serverInfo": status.server_info,
            "capabilities": status.capabilities,
            "counts": {
                "tools": len(catalog.tools),
                "resources": len(catalog.resources),
                "prompts": len(catalog.prompts),
            },
            "lastError": status.last_error,
        }

    def register(self, body: Mapping[str, Any]) -> JSON:
        """Connect a new server from a registration body; its state once connected."""
        return self.server(self.registry.register(body))

    def unregister(self, name: str) -> None:
        self.registry.unregister(name)

    def servers(self) -> list[JSON]:
        found = []
        for name in self.upstreams.names():
            try:
                found.append(self.server(name))
            except NotFound:
                continue
        return found

    def readiness(self) -> tuple[bool, JSON]:
        servers = [{"name": s["name"], "status": s["status"]} for s in self.servers()]
        ready = all(s["status"] in SERVING for s in servers)
        return ready, {"status": "ready" if ready else "not_ready", "servers": servers}

    # -- tools -------------------------------------------------------------------------------

    def _named(self, server: str | None, pick: Callable[[Catalog], Mapping[str, JSON]]) -> list[JSON]:
        """Catalog entries of one server or all, each with its server and qualified name."""
        catalogs = {server: self.upstreams.catalog(server)} if server else self._catalogs()
        return [
            {**entry, "name": name, "qualifiedName": qualify(s, name), "server": s}
            for s, catalog in catalogs.items()
            for name, entry in pick(catalog).items()
        ]

    def tools(self, server: str | None = None) -> list[JSON]:
        return self._named(server, lambda catalog: catalog.tools)

    def resolve_tool(self, name: str) -> tuple[str, str]:
        return resolve(name, self._index.tools, self.upstreams.names(), "tool")

    def call_tool(self, server: str, tool: str, arguments: Mapping[str, Any], *, where: str = "/body") -> JSON:
        """Check ``arguments`` against the tool's inputSchema, call it, and shape the result.

        ``where`` is the JSON pointer of the arguments in the caller's request, so problems
        point into what the caller actually sent.
        """
        self._check_tool_call(server, tool, arguments, where)
        return _tool_result(server, tool, self.upstreams.call_tool(server, tool, arguments))

    async def acall_tool(
        self, server: str, tool: str, arguments: Mapping[str, Any], *, where: str, relay: Relay | None = None
    ) -> JSON:
        """``call_tool`` for async callers, with ``relay`` receiving what the call sends back."""
        self._check_tool_call(server, tool, arguments, where)
        return _tool_result(server, tool, await self.upstreams.acall_tool(server, tool, arguments, relay))

    def _check_tool_call(self, server: str, tool: str, arguments: Mapping[str, Any], where: str) -> None:
        definition = self.upstreams.catalog(server).tools.get(tool)
        if definition is None:
            self._require_ready(server)
            raise NotFound(f"server {server!r} has no tool named {tool!r}")
        schema = definition.get("inputSchema")
        if schema is not None:
            validator = self._compiled(("tool", server, tool), schema, schema)
            if validator is not None:
                validator.check(arguments, base=where, what=f"invalid arguments for tool {qualify(server, tool)!r}")

    # -- resources ---------------------------------------------------------------------------

    def resources(self, server: str | None = None) -> JSON:
        catalogs = {server: self.upstreams.catalog(server)} if server else self._catalogs()
        return {
            "resources": [{**r, "server": s} for s, c in catalogs.items() for r in c.resources],
            "resourceTemplates": [{**t, "server": s} for s, c in catalogs.items() for t in c.templates],
        }

    def resolve_resource(self, uri: str) -> str:
        """The server that serves ``uri``: the one listing it, else the one whose template scheme fits."""
        listed = sorted(self._index.resources.get(uri, ()))
        if len(listed) == 1:
            return listed[0]
        if len(listed) > 1:
            raise Ambiguous(f"resource {uri!r} is offered by {len(listed)} servers", listed)
        scheme = uri.split(":", 1)[0] + ":"
        catalogs = self._catalogs()
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

    def read_resource(self, server: str, uri: str) -> JSON:
        self.upstreams.config(server)  # 404 for an unknown server before going upstream
        return _resource_result(self.upstreams.read_resource(server, uri))

    async def aread_resource(self, server: str, uri: str, relay: Relay | None = None) -> JSON:
        self.upstreams.config(server)
        return _resource_result(await self.upstreams.aread_resource(server, uri, relay))

    async def subscribe(self, uri: str, subscribed: bool) -> str:
        """Follow a resource upstream (or stop); the server that serves it."""
        server = self.resolve_resource(uri)
        await self.upstreams.asubscribe(server, uri, subscribed)
        return server

    # -- prompts -----------------------------------------------------------------------------

    def prompts(self, server: str | None = None) -> list[JSON]:
        return self._named(server, lambda catalog: catalog.prompts)

    def resolve_prompt(self, name: str) -> tuple[str, str]:
        return resolve(name, self._index.prompts, self.upstreams.names(), "prompt")

    def get_prompt(self, server: str, name: str, arguments: Mapping[str, str], *, where: str = "/body") -> JSON:
        """Check ``arguments`` against the prompt's declared arguments, then render it upstream."""
        self._check_prompt(server, name, arguments, where)
        return _prompt_result(self.upstreams.get_prompt(server, name, arguments))

    async def aget_prompt(
        self, server: str, name: str, arguments: Mapping[str, str], *, where: str, relay: Relay | None = None
    ) -> JSON:
        self._check_prompt(server, name, arguments, where)
        return _prompt_result(await self.upstreams.aget_prompt(server, name, arguments, relay))

    def _check_prompt(self, server: str, name: str, arguments: Mapping[str, str], where: str) -> None:
        definition = self.upstreams.catalog(server).prompts.get(name)
        if definition is None:
            self._require_ready(server)
            raise NotFound(f"server {server!r} has no prompt named {name!r}")
        validator = self._compiled(("prompt", server, name), definition, _prompt_schema(definition))
        if validator is not None:
            validator.check(arguments, base=where, what=f"invalid arguments for prompt {qualify(server, name)!r}")


def _tool_result(server: str, tool: str, raw: JSON) -> JSON:
    """The REST contract's tool result; a tool's own failure raises ``ToolFailed`` carrying it."""
    if raw.get("resultType") == INPUT_REQUIRED:
        return raw
    result = {k: raw[k] for k in _RESULT_KEYS if k in raw}
    result.setdefault("content", [])
    result["isError"] = bool(raw.get("isError", False))
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
