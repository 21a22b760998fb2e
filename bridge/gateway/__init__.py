"""Many MCP servers behind one set of operations: naming, routing, argument checks."""

from bridge.gateway.gateway import Gateway
from bridge.gateway.ports import Upstreams

__all__ = ["Gateway", "Upstreams"]
