"""The integration guide's "REST Client Example": JSON-RPC posted to the bridge's ``POST /mcp``.

Changed from the guide, and why: nothing in the class. The guide defines it and never uses it,
so a ``__main__`` block is added: it reads the bridge's base URL from ``MCP_BRIDGE_URL`` (the
guide gives none; the default is where ``make run`` listens as the guide writes it,
http://localhost:8000) and an optional key from ``MCP_API_KEY``, makes the guide's first call
and prints its result.

Run it against ``make run``: ``python examples/guide/rest_client.py`` (needs only requests)
"""

import json
import os

import requests


class MCPRestClient:
    def __init__(self, base_url, api_key=None):
        self.base_url = base_url
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
    
    def call_tool(self, tool_name, params):
        payload = {
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": {
                "name": tool_name,
                "arguments": params
            },
            "id": 1
        }
        
        response = requests.post(
            f"{self.base_url}/mcp",
            json=payload,
            headers=self.headers
        )
        
        response.raise_for_status()
        return response.json()["result"]


if __name__ == "__main__":
    client = MCPRestClient(os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000"), os.environ.get("MCP_API_KEY"))
    result = client.call_tool("process_data", {"input": "test data", "format": "json"})
    print(json.dumps(result, indent=2))
