"""Blueprints, one per resource; each view validates nothing itself and makes one gateway call."""

from bridge.rest.views import docs, health, mcp, prompts, resources, servers, tools

__all__ = ["docs", "health", "mcp", "prompts", "resources", "servers", "tools"]
