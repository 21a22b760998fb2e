"""The thinnest REST forwarder on the bridge's own stack, as a floor for what a proxy can cost.

``python -m bench.thin_proxy --port P [--cpus N] -- COMMAND...`` serves ``POST /{tool}``: the
JSON body goes as the arguments to one held official-SDK ``Client`` session over the bridge's
stdio transport (with the bridge's output-schema check), and the result goes back as JSON.
The HTTP side is the bridge's: uvicorn with httptools on uvloop, the same listener options.
Nothing else: no request validation, API keys, routing, timeouts, error mapping, access log
or MCP endpoint. ``bench/floor.py`` measures it beside the direct client and the bridge, so
the gap between the bridge and direct splits into what the architecture costs (an HTTP hop
in front of an SDK session) and what the bridge's own features cost.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from typing import Any

import mcp_types as types
import orjson
import uvicorn
from mcp import Client, StdioServerParameters

from bridge.endpoint.http import Receive, Scope, Send, read_body, send_json
from bridge.upstream.connecting import CLIENT_INFO
from bridge.upstream.results import OutputChecks
from bridge.upstream.stdio import stdio_transport
from bridge.upstream.translate import to_json

__all__ = ["thin_app"]


async def _refuse(_context: Any, _params: Any) -> types.ErrorData:
    return types.ErrorData(code=types.INVALID_REQUEST, message="the thin proxy has no one to ask")


def thin_app(server: StdioServerParameters, cpus: list[int] | None) -> Any:
    clients: dict[str, Client] = {}
    # The bridge's introduction and declared capabilities, so the upstream receives the same bytes.
    introduction = {"client_info": CLIENT_INFO, "sampling_callback": _refuse, "elicitation_callback": _refuse}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with contextlib.AsyncExitStack() as stack:
                await receive()  # lifespan.startup
                session = Client(stdio_transport(server, cpus), cache=None, **introduction)
                client = await stack.enter_async_context(session)
                checks = OutputChecks()
                checks.update({tool.name: to_json(tool) for tool in (await client.list_tools()).tools})
                checks.install(client.session)
                clients["upstream"] = client
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        arguments = orjson.loads(await read_body(receive, 1 << 30))
        result = await clients["upstream"].call_tool(scope["path"].lstrip("/"), arguments)
        await send_json(send, to_json(result))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpus", help="hold the stdio server to these CPUs (comma-separated), as the bridge's setting")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the stdio server's command line, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    cpus = [int(cpu) for cpu in args.cpus.split(",")] if args.cpus else None
    listener = socket.create_server(("127.0.0.1", args.port))
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the bridge's listener
    app = thin_app(StdioServerParameters(command=command[0], args=command[1:]), cpus)
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="on", server_header=False
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
