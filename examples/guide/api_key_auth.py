"""The integration guide's "API Key Authentication", on this project's generated Python client.

Changed from the guide, and why:

- ``MCPClient`` is never imported in the guide; it is our generated client's ``Client``
  (``mcp_bridge_client``, generated/python), which takes ``url=`` and ``headers=``. The bridge
  accepts a key as ``X-API-Key`` as well as ``Authorization: Bearer``.
- The URL: read from ``MCP_BRIDGE_URL`` (hence ``import os``), the guide's URL as the default.
- The guide defines the function and never calls it; the ``__main__`` block added at the end
  authenticates with ``MCP_API_KEY`` and lists the tools that key may use. A wrong key raises
  the client's ``Unauthorized`` (401).

Run it against ``mcp-bridge serve --api-key K``:
``MCP_API_KEY=K PYTHONPATH=generated/python python examples/guide/api_key_auth.py``
"""

import os

from mcp_bridge_client import Client as MCPClient


def authenticate_api_key(api_key):
    client = MCPClient(
        url=os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000/mcp"),
        headers={"X-API-Key": api_key}
    )
    return client


if __name__ == "__main__":
    client = authenticate_api_key(os.environ["MCP_API_KEY"])
    print("Tools for this key:", ", ".join(tool.qualifiedName for tool in client.list_tools()))
