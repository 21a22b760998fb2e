"""Blueprints, one per resource; each view validates nothing itself and makes one gateway call."""

from bridge.rest.views import health, mcp, prompts, resources, servers, tools

__all__ = ["health", "mcp", "prompts", "resources", "servers", "tools"]
