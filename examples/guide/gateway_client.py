"""The integration guide's "Gateway Client Usage", on this project's generated Python client.

Changed from the guide, and why:

- The import: ``mcp_gateway`` is a made-up package. The bridge is the gateway, and its client is
  our generated ``mcp_bridge_client`` (generated/python), whose ``Client`` is imported under the
  guide's name; it takes ``url=`` and ``token=`` (sent as ``Authorization: Bearer``), lists the
  servers and calls a tool on one of them with ``server=``, ``tool=``, ``params=``.
- ``os`` is imported; the guide uses it without.
- The URL: read from ``MCP_BRIDGE_URL``, with the guide's placeholder as the default.

"my-server" is the server register_server.sh registers; ``GATEWAY_TOKEN`` is a key of the bridge
(an admin key, as there). Run it after that script:
``GATEWAY_TOKEN=... PYTHONPATH=generated/python python examples/guide/gateway_client.py``
"""

import os

from mcp_bridge_client import Client as GatewayClient

# Connect to gateway
gateway = GatewayClient(
    url=os.environ.get("MCP_BRIDGE_URL", "http://gateway.example.com"),
    token=os.getenv("GATEWAY_TOKEN")
)

# List available servers
servers = gateway.list_servers()
print(f"Available servers: {servers}")

# Call tool on specific server
result = gateway.call_tool(
    server="my-server",
    tool="process_data",
    params={"input": "test"}
)
