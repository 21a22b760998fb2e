"""A stdio MCP server whose one tool answers with the ``_meta`` its request carried, as JSON text.

What the bridge sends upstream of a caller's request (its request id, W3C ``traceparent``) is
seen here as the upstream sees it, after the MCP SDK's client has added what it adds::

    python tests/servers/meta_server.py
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer


def build() -> MCPServer:
    server = MCPServer("meta")

    @server.tool()
    def meta(ctx: Context) -> str:
        """The ``_meta`` of this request, as JSON."""
        raw: Any = ctx.request_context.meta
        dumped = raw.model_dump(by_alias=True, exclude_none=True) if hasattr(raw, "model_dump") else raw
        return json.dumps(dumped or {}, sort_keys=True, default=str)

    return server


if __name__ == "__main__":
    build().run("stdio")
