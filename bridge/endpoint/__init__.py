"""``/mcp`` for real MCP clients: the gateway served as one MCP server by the official SDK."""

from bridge.endpoint.asgi import create_asgi_app
from bridge.endpoint.server import create_mcp_server

__all__ = ["create_asgi_app", "create_mcp_server"]
