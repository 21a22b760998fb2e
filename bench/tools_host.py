"""Many generated-tools servers in one process, over Streamable HTTP, for the bench's scale scenario.

``python -m bench.tools_host --servers 50 --tools 20 --port P`` serves ``/s00/mcp`` …
``/s49/mcp``: each an official-SDK server from ``bench/tools_server.py``'s ``build``, mounted in
one Starlette app. Fifty stdio servers would be fifty Python interpreters starting at once, which
on two cores takes far longer than anything the bridge does; one host process pays that once,
before the bridge starts, so the bridge's start-to-ready time is its own.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bench.tools_server import build

__all__ = ["create_app", "server_name"]


def server_name(index: int) -> str:
    return f"s{index:02d}"


def create_app(servers: int, tools: int) -> Starlette:
    """One ``Mount`` per server; the lifespan runs every mounted app's own (its session manager)."""
    built = [build(server_name(i), tools, fill=False) for i in range(servers)]
    apps = [server.streamable_http_app(streamable_http_path="/mcp") for server in built]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for app in apps:
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield

    mounts = [Mount(f"/{server_name(i)}", app=app) for i, app in enumerate(apps)]
    return Starlette(routes=mounts, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--tools", type=int, default=20)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.servers, args.tools), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
