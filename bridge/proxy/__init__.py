"""A stdio MCP server that forwards to a bridge's REST API, for clients that start stdio servers."""

from bridge.proxy.stdio import create_proxy, serve_stdio

__all__ = ["create_proxy", "serve_stdio"]
