"""The bridge's own vocabulary, shared by every layer: servers' states and catalogs, the caller.

Nothing here knows the MCP SDK, Flask or asyncio. The upstream layer fills these in, the
gateway reasons about them, the edges render them; each layer may import this module, and the
gateway's interface names no type but these and plain JSON (dicts in MCP's camelCase wire
shape, passed through without loss).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "ADMIN",
    "DESTRUCTIVE",
    "INPUT_REQUIRED",
    "JSON",
    "MISSING_CAPABILITY",
    "REQUEST_ID_CHARS",
    "SCOPES",
    "SERVING",
    "USE",
    "Catalog",
    "Principal",
    "ProgressCallback",
    "Relay",
    "RelayRefused",
    "ServerState",
    "ServerStatus",
    "TaskSupport",
    "Unheard",
    "UpstreamListener",
    "task_support_of",
]

JSON = dict[str, Any]
#: What a tool's server says of running it as a task (``execution.taskSupport``; None: nothing).
TaskSupport = Literal["forbidden", "optional", "required"] | None
_TASK_SUPPORT: frozenset[TaskSupport] = frozenset({"forbidden", "optional", "required"})


def task_support_of(definition: JSON | None) -> TaskSupport:
    """What a tool's definition declares of running it as a task (``execution.taskSupport``)."""
    execution = definition.get("execution") if definition is not None else None
    support = execution.get("taskSupport") if isinstance(execution, dict) else None
    return support if support in _TASK_SUPPORT else None


ServerState = Literal["connecting", "ready", "degraded", "down"]
#: The states in which a server takes calls; ``degraded`` is connected but recently slow or stale.
SERVING: tuple[ServerState, ...] = ("ready", "degraded")
#: The ``resultType`` of a 2026-07-28 result asking the caller for input and a retry.
INPUT_REQUIRED = "input_required"
#: MCP's JSON-RPC code for "the client lacks a capability this needs" (the SDK's
#: ``MISSING_REQUIRED_CLIENT_CAPABILITY``; a unit test holds the two equal).
MISSING_CAPABILITY = -32021


#: The scope of every caller the bridge admits: call tools, read resources, render prompts.
USE = "use"
#: The scope that may also register and remove servers.
ADMIN = "admin"
#: The scope that may see and call tools annotated ``destructiveHint: true`` (while the operator
#: has that policy on, as by default). Keys from the command line hold it, as does the anonymous
#: caller of an open bridge: they could call every tool before the policy existed.
DESTRUCTIVE = "destructive"
#: Every scope a key may hold.
SCOPES = (USE, ADMIN, DESTRUCTIVE)
#: A caller's own request id (``X-Request-Id``) is kept to this many characters in events.
REQUEST_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the gate established it; the gateway filters by it.

    ``servers`` and ``tools`` are allowlists (None: all). A tool entry is a qualified name
    (``server.tool``) or ``server.*``. A server a principal may not use, and a tool it may not
    call, are absent from its listings, and naming one is refused with 403.
    """

    subject: str
    scopes: frozenset[str] = frozenset({USE})
    servers: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    #: The credential the caller presented, kept only while an upstream is configured to receive
    #: it (``forwardCallerToken``); never shown, never compared.
    credential: str | None = field(default=None, repr=False, compare=False)

    @staticmethod
    def anonymous() -> Principal:
        """A caller of a bridge with no credentials configured: it may use everything but manage nothing."""
        return _ANONYMOUS

    @classmethod
    def restricted(
        cls, subject: str, scopes: Collection[str], servers: Collection[str] | None, tools: Collection[str] | None
    ) -> Principal:
        return cls(
            subject,
            frozenset(scopes),
            None if servers is None else frozenset(servers),
            None if tools is None else frozenset(tools),
        )

    @property
    def unrestricted(self) -> bool:
        return self.servers is None and self.tools is None

    def has_scopes(self, needed: Collection[str]) -> bool:
        return self.scopes.issuperset(needed)

    def may_use(self, server: str) -> bool:
        return self.servers is None or server in self.servers

    def may_call(self, server: str, tool: str) -> bool:
        if not self.may_use(server):
            return False
        return self.tools is None or f"{server}.{tool}" in self.tools or f"{server}.*" in self.tools


# One object: it is immutable, and asked for on every open request.
_ANONYMOUS = Principal("anonymous", frozenset({USE, DESTRUCTIVE}))


@dataclass(frozen=True, slots=True)
class Catalog:
    """What one server offers, as last listed. Replaced whole on refresh, never mutated."""

    tools: Mapping[str, JSON] = field(default_factory=dict)
    resources: tuple[JSON, ...] = ()
    templates: tuple[JSON, ...] = ()
    prompts: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """A server's connection state at one moment."""

    state: ServerState
    protocol_version: str | None = None
    server_info: JSON | None = None
    capabilities: JSON | None = None
    last_error: str | None = None
    #: Seconds until the next reconnect attempt while down (the Retry-After we answer).
    retry_after: int = 1


class RelayRefused(Exception):
    """The caller cannot answer this question (no capability, no back channel, no caller)."""

    def __init__(self, message: str, code: int = MISSING_CAPABILITY) -> None:
        super().__init__(message)
        self.code = code


class ProgressCallback(Protocol):
    """Hears a call's progress as the upstream reports it."""

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None: ...


class Relay(Protocol):
    """The caller's side of one in-flight upstream call: what flows back to it while it runs."""

    @property
    def wants_progress(self) -> bool: ...

    @property
    def detached(self) -> bool:
        """The call runs apart from its caller's request, in the call store (an asynchronous REST
        call, an MCP task): an upstream may run it as a task of its own, which only the SDK's
        session declares it can follow."""
        ...

    @property
    def log_level(self) -> str | None:
        """The lowest log level the caller asked for, or None for no logs."""
        ...

    @property
    def takes_input_required(self) -> bool:
        """The caller speaks 2026-07-28: an input-required result can be handed to it as it is."""
        ...

    @property
    def declared(self) -> JSON | None:
        """The client capabilities the caller declared (wire shape), which a 2026-07-28 upstream is
        told in the gateway's place (what of them the gateway carries back); None: the caller
        declared none of its own (REST, a socket, a call in the store), and the gateway's stand."""
        ...

    @property
    def input_responses(self) -> JSON | None:
        """On a retry, the caller's answers to the input requests (wire shape), passed on verbatim."""
        ...

    @property
    def request_state(self) -> str | None:
        """On a retry, the opaque state the server handed out, passed on verbatim."""
        ...

    async def progress(self, progress: float, total: float | None, message: str | None) -> None: ...

    async def log(self, params: JSON) -> None:
        """A ``notifications/message`` params object, in wire shape."""
        ...

    async def ask(self, method: str, params: JSON) -> JSON:
        """Forward a server→client request; its result in wire shape, or ``RelayRefused``."""
        ...


class UpstreamListener(Protocol):
    """Who hears what happens upstream (the gateway, which publishes it on its event bus).

    Called on the upstream event loop; an implementation returns at once and never blocks.
    """

    def catalog_changed(self, server: str) -> None:
        """``server``'s catalog was listed anew (connected, reconnected, or it said it changed), or it left."""
        ...

    def state_changed(self, server: str, status: ServerStatus) -> None:
        """``server`` moved to another state (connecting, ready, degraded, down)."""
        ...

    def resource_updated(self, server: str, uri: str) -> None:
        """A resource some caller follows changed upstream."""
        ...


class Unheard:
    """An ``UpstreamListener`` for before anyone listens: what happens upstream goes nowhere."""

    def catalog_changed(self, server: str) -> None:
        pass

    def state_changed(self, server: str, status: ServerStatus) -> None:
        pass

    def resource_updated(self, server: str, uri: str) -> None:
        pass
