"""Blueprints, one per resource; each view validates nothing itself and makes one gateway call."""

from bridge.rest.views import docs, explorer, health, keys, mcp, oauth, prompts, resources, servers, tools, webhooks

__all__ = [
    "docs",
    "explorer",
    "health",
    "keys",
    "mcp",
    "oauth",
    "prompts",
    "resources",
    "servers",
    "tools",
    "webhooks",
]
