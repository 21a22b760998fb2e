"""The integration guide's "Python Client", run on this project's generated Python client.

Changed from the guide, and why:

- The import: ``mcp`` is the official MCP SDK, whose ``Client`` is an async session over an MCP
  transport, not the synchronous calls below. Ours is ``mcp_bridge_client`` (generated/python,
  written by ``mcp-bridge generate python``), whose ``Client`` has these methods and answers them
  over the bridge's REST API.
- The URL: read from ``MCP_BRIDGE_URL`` (hence ``import os``), with the guide's URL as the
  default, so the example runs against a bridge anywhere.

Run it against ``make run``: ``PYTHONPATH=generated/python python examples/guide/python_client.py``
"""

import os

from mcp_bridge_client import Client

# Initialize client
client = Client(os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000/mcp"))

# List available tools
tools = client.list_tools()
for tool in tools:
    print(f"Tool: {tool.name} - {tool.description}")

# Call a tool
result = client.call_tool(
    "process_data",
    {"input": "test data", "format": "json"}
)
print(f"Result: {result}")

# Access resources
resource = client.get_resource("config://settings")
print(f"Settings: {resource}")
