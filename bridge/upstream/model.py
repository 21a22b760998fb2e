"""Plain data the upstream layer hands upward: a server's status and its catalog.

Nothing here knows the MCP SDK; everything is JSON-ready dicts in MCP's own wire shape
(camelCase), so the layers above pass content through without loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SERVING", "Catalog", "ServerState", "ServerStatus"]

ServerState = Literal["connecting", "ready", "degraded", "down"]
#: The states in which a server takes calls; ``degraded`` is connected but recently slow or stale.
SERVING: tuple[ServerState, ...] = ("ready", "degraded")
JSON = dict[str, Any]


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
