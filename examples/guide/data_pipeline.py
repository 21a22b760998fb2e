"""The integration guide's "Data Processing Pipeline", on this project's async generated client.

Changed from the guide, and why:

- ``client`` is used but never defined. It is defined here, over our generated client's
  ``AsyncClient`` (``mcp_bridge_client``, generated/python), as the guide uses it: its
  ``call_tool`` is awaited and answers the tool's value, the result's ``structuredContent``
  (the MCP SDK wraps a value that is not an object as ``{"result": value}``; that is taken off).
  Each step's whole value goes on to the next, as the guide writes it: the demo's
  ``transform_data`` and ``analyze_data`` take the step before's result as well as a list.
- The URL: read from ``MCP_BRIDGE_URL``, with ``http://localhost:8000/mcp`` as the default
  (the guide's other examples use it; this one names none).
- The guide never runs ``process_pipeline``; ``asyncio.run`` does at the end, on sample data
  (with an item the validation rejects), and prints what the report says of itself.

Run it against ``make run``: ``PYTHONPATH=generated/python python examples/guide/data_pipeline.py``
"""

import asyncio
import json
import os

from mcp_bridge_client import AsyncClient


class MCPClient:
    """The guide's client: awaitable tool calls that answer the tool's value."""

    def __init__(self, url):
        self.client = AsyncClient(url)

    async def call_tool(self, name, arguments):
        result = await self.client.call_tool(name, arguments)
        value = result.structuredContent
        return value["result"] if isinstance(value, dict) and list(value) == ["result"] else value


client = MCPClient(os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000/mcp"))


# Chain multiple MCP tools
async def process_pipeline(data):
    # Step 1: Validate data
    validated = await client.call_tool("validate_data", {"data": data})
    
    # Step 2: Transform data
    transformed = await client.call_tool("transform_data", {
        "data": validated,
        "format": "normalized"
    })
    
    # Step 3: Analyze data
    analysis = await client.call_tool("analyze_data", {
        "data": transformed,
        "metrics": ["mean", "median", "std"]
    })
    
    # Step 4: Generate report
    report = await client.call_tool("generate_report", {
        "analysis": analysis,
        "format": "pdf"
    })
    
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(process_pipeline([12.5, "14.1", 13.8, None, 15.2])), sort_keys=True))
