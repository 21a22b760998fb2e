"""mcp-rest-bridge: a validated REST API, and an MCP gateway, over any set of MCP servers."""

import importlib.metadata

#: This installation's version, as the bridge gives it to the MCP servers and clients it meets.
__version__ = importlib.metadata.version("mcp-rest-bridge")
