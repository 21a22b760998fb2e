"""The floor of a Python hop: a byte forwarder on uvloop that reads nothing of what it passes on.

``python -m bench.splice --port P --upstream U`` accepts connections on 127.0.0.1:P and joins
each to a connection of its own to 127.0.0.1:U, writing what one side sends to the other as it
comes. It parses no HTTP and no JSON, so it is less than any gateway can be; ``bench.mcp_clients``
runs it (target ``python-splice``) beside ``nginx`` in front of the same upstream. Between the
two floors and the gateway's rows, what a hop costs because it is a Python process (its wakeups
and cache misses on two shared cores, its interpreter's share of a call) stands apart from what
the gateway's own work costs.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import cast

import uvloop

__all__ = ["Joining", "main", "run"]


class _Outbound(asyncio.Protocol):
    """The upstream side of one joined pair: what it sends goes to the client."""

    def __init__(self, client: asyncio.Transport) -> None:
        self._client = client

    def data_received(self, data: bytes) -> None:
        self._client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.close()


class Joining(asyncio.Protocol):
    """A client's connection joined to one of its own to the upstream (made by ``outbound``): what
    is ``send`` before that connection is made is held, then passed on. ``bench.forward`` joins so too."""

    def __init__(self, upstream_port: int) -> None:
        self._port = upstream_port
        self._upstream: asyncio.Transport | None = None
        self._early: list[bytes] = []
        self._gone = False

    def outbound(self, client: asyncio.Transport) -> asyncio.Protocol:
        """The protocol of the upstream side, which answers ``client``."""
        return _Outbound(client)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        client = cast(asyncio.Transport, transport)  # uvloop's TCP transport, which is not a subclass
        asyncio.get_running_loop().create_task(self._join(client))

    async def _join(self, client: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(lambda: self.outbound(client), "127.0.0.1", self._port)
        except OSError:
            client.close()
            return
        if self._gone:
            upstream.close()
            return
        for data in self._early:
            upstream.write(data)
        self._early.clear()
        self._upstream = upstream

    def send(self, data: bytes) -> None:
        """Pass ``data`` to the upstream (held until its connection is made)."""
        if self._upstream is None:
            self._early.append(data)
        else:
            self._upstream.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone = True
        if self._upstream is not None:
            self._upstream.close()


class _Inbound(Joining):
    """The client side: what it sends is passed on unread."""

    def data_received(self, data: bytes) -> None:
        self.send(data)


def run(inbound: Callable[[int], asyncio.Protocol], description: str) -> None:
    """Accept connections on ``--port`` with protocols ``inbound(upstream_port)`` until stopped."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True, help="where to accept connections (127.0.0.1)")
    parser.add_argument("--upstream", type=int, required=True, help="the port on 127.0.0.1 to join each to")
    args = parser.parse_args()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: inbound(args.upstream), "127.0.0.1", args.port)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


def main() -> None:
    run(_Inbound, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
