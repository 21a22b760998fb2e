"""FastMCP's proxy in front of one stdio MCP server, served over Streamable HTTP at ``/mcp``.

``bench/.venv-fastmcp/bin/python bench/fastmcp_proxy.py --port P -- python server.py stdio``

Runs in FastMCP's own venv (``bench/fastmcp-requirements.txt``), never in the project's: only
FastMCP and the standard library are imported. The proxy is built the way FastMCP's documentation
says to: ``create_proxy`` on the server's transport, then ``run(transport="http")``, its defaults
kept except the address, ``log_level="WARNING"`` (as the bridge runs at ``--log-level warning``)
and no start-up banner.
"""

from __future__ import annotations

import argparse

from fastmcp.client.transports import StdioTransport
from fastmcp.server import create_proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the stdio server's command line, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    proxy = create_proxy(StdioTransport(command=command[0], args=command[1:]), name="fastmcp-proxy")
    proxy.run(transport="http", host="127.0.0.1", port=args.port, log_level="WARNING", show_banner=False)


if __name__ == "__main__":
    main()
