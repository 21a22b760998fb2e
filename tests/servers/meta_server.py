"""An MCP server whose tool ``meta`` answers with the ``_meta`` its request carried, as JSON text.

What the bridge sends upstream of a caller's request (its request id, W3C ``traceparent``, at
2026-07-28 the client capabilities it declares) is seen here as the upstream sees it, after the
MCP SDK's client has added what it adds. Its tool ``view`` answers as a UI tool does, by the
SDK's own test of MCP Apps support: ``app`` to a client that declared it, ``text`` to others::

    python tests/servers/meta_server.py                  (stdio)
    python tests/servers/meta_server.py http --port P    (Streamable HTTP at /mcp)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context, MCPServer


def build() -> MCPServer:
    server = MCPServer("meta")

    @server.tool()
    def meta(ctx: Context) -> str:
        """The ``_meta`` of this request, as JSON."""
        raw: Any = ctx.request_context.meta
        dumped = raw.model_dump(by_alias=True, exclude_none=True) if hasattr(raw, "model_dump") else raw
        return json.dumps(dumped or {}, sort_keys=True, default=str)

    @server.tool()
    def view(ctx: Context) -> str:
        """How this tool would show itself to its client: as an app, or as text."""
        return "app" if client_supports_apps(ctx) else "text"

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", nargs="?", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.transport == "stdio":
        build().run("stdio")
        return
    import uvicorn

    uvicorn.run(build().streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
