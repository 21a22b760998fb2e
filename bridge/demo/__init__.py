"""The bundled demo MCP server (official SDK), started by the bridge as a stdio child."""

from bridge.demo.server import create_server

__all__ = ["create_server"]
