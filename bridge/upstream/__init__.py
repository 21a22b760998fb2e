"""Upstream MCP servers through the official SDK: the only layer that knows ``mcp`` and asyncio."""

from bridge.model import Catalog, ServerState, ServerStatus
from bridge.upstream.pool import UpstreamPool

__all__ = ["Catalog", "ServerState", "ServerStatus", "UpstreamPool"]
