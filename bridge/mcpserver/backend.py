"""What a forwarding server forwards to: the ``Backend`` seam, and ``Subscriptions`` for one that changes.

Two implementations live in the edges: the gateway in-process (``bridge.endpoint.server``) and a
bridge's REST API (``bridge.proxy.stdio``). Both answer in MCP's wire shape, plain JSON dicts.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bridge.calls import CallView
from bridge.model import JSON, Relay, TaskSupport

__all__ = ["JSON", "Backend", "Caller", "Completions", "Listing", "Subscriptions", "TaskSupport", "Tasks"]

#: The catalogs a client can list, by their key in the wire result.
Listing = Literal["tools", "prompts", "resources", "resourceTemplates"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: what the edge that admitted it attached to it (its ASGI scope's ``state``).

    The gateway's endpoint finds the principal the gate established there; over stdio there is
    one client and nothing attached.
    """

    state: Mapping[str, Any] = field(default_factory=dict)
    #: The client's JSON-RPC id for the request, as text (it goes into the call's events).
    request_id: str | None = None


class Backend(Protocol):
    """The tools, resources and prompts a forwarding server offers, each request answered in wire shape.

    A request the client should see refused as a JSON-RPC error raises the SDK's ``MCPError``; a
    tool's own failure is a result with ``isError``. ``relay`` is the caller's side of the call,
    for what the upstream sends back while it runs; a backend that cannot carry it ignores it.
    """

    async def listing(self, kind: Listing, caller: Caller) -> list[JSON]: ...
    async def call_tool(self, name: str, arguments: JSON, caller: Caller, relay: Relay | None = None) -> JSON: ...
    async def read_resource(self, uri: str, caller: Caller, relay: Relay | None = None) -> JSON: ...
    async def get_prompt(
        self, name: str, arguments: dict[str, str], caller: Caller, relay: Relay | None = None
    ) -> JSON: ...


class Completions(Protocol):
    """A backend that completes the arguments of its prompts and resource templates."""

    async def complete(
        self, ref: JSON, argument: dict[str, str], context: dict[str, str] | None, caller: Caller
    ) -> JSON:
        """``completion/complete`` in wire shape: ``{"completion": {"values": [...], ...}}``."""
        ...


class Subscriptions(Protocol):
    """A backend whose changes clients can follow; listeners are called on the serving loop."""

    async def subscribe(self, uri: str, subscribed: bool, caller: Caller) -> None:
        """Follow a resource upstream (or stop) for ``caller``; ``on_updated`` listeners hear of its changes."""
        ...

    def on_updated(self, listener: Callable[[str], None]) -> None: ...

    def on_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the tools, resources or prompts on offer change."""
        ...


class Tasks(Protocol):
    """A backend that runs tool calls as tasks: each one a call of its call store, seen only by its caller.

    Refusals raise the SDK's ``MCPError``, as ``Backend``'s do; an unknown task and another
    caller's task are refused alike.
    """

    def task_support(self, name: str, caller: Caller) -> TaskSupport:
        """What the server of tool ``name`` declares; None when it declares nothing or the name is unknown."""
        ...

    async def start_task(self, name: str, arguments: JSON, caller: Caller) -> CallView: ...
    def task(self, task_id: str, caller: Caller) -> CallView: ...
    def watch_task(self, task_id: str, caller: Caller) -> AsyncGenerator[CallView, None]:
        """The task's current view, then each later one, ending after a terminal one; close it when done."""
        ...

    async def answer_task(self, task_id: str, caller: Caller, answers: Mapping[str, JSON]) -> CallView: ...
    async def cancel_task(self, task_id: str, caller: Caller) -> CallView: ...
