"""The integration guide's "Client-Side Error Handling" class, on this project's generated Python client.

Changed from the guide, and why (each the least change that makes it run):

- The class calls ``self.call_tool``, which the guide never defines: it now subclasses our
  generated client's ``Client`` (``mcp_bridge_client``, generated/python), which has that
  ``call_tool``, and ``__init__`` hands it the URL, with the client's own retries off
  (``Retry(attempts=1)``) so that this class's loop is the only one.
- ``MCPError`` and ``e.code == -32000``: our client raises one exception per problem, each with
  the HTTP ``status``; ``MCPError`` is its base ``ProblemError``. The bridge answers -32000 on
  ``/mcp`` exactly when the upstream is unavailable (503) or timed out (504), so the test is
  ``e.status in (503, 504)``.
- ``ConnectionError``: no answer at all is our client's ``TransportError``.
- ``time`` is imported; the guide uses it without. A ``__main__`` block (the guide has none)
  reads ``MCP_BRIDGE_URL`` (default: the guide's usual http://localhost:8000/mcp) and makes the
  guide's first call through the class.

Run it against ``make run``:
``PYTHONPATH=generated/python python examples/guide/client_with_retry.py``
"""

import os
import time

from mcp_bridge_client import Client, Retry, TransportError
from mcp_bridge_client import ProblemError as MCPError


class MCPClientWithRetry(Client):
    def __init__(self, url, max_retries=3):
        super().__init__(url, retry=Retry(attempts=1))
        self.url = url
        self.max_retries = max_retries
    
    def call_tool_with_retry(self, tool_name, params):
        for attempt in range(self.max_retries):
            try:
                return self.call_tool(tool_name, params)
            
            except MCPError as e:
                if e.status in (503, 504):  # Server error
                    if attempt < self.max_retries - 1:
                        time.sleep(2 ** attempt)  # Exponential backoff
                        continue
                raise
            
            except TransportError as e:
                if attempt < self.max_retries - 1:
                    time.sleep(1)
                    continue
                raise


if __name__ == "__main__":
    client = MCPClientWithRetry(os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000/mcp"))
    result = client.call_tool_with_retry("process_data", {"input": "test data", "format": "json"})
    print(f"Result: {result.structuredContent}")
