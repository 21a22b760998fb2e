"""A TCP relay on loopback that cuts one connection mid-answer: a network that drops a stream.

``cutting_once(port, marker)`` relays each connection it accepts to ``port`` on loopback, both
ways, on a thread of its own (so a test may call through it with blocking or async clients
alike). The first connection whose answer carries ``marker`` is cut right after the chunk
that carried it is passed on: both its sockets are closed, as a network failure would leave
them. Every other connection, later ones included, is relayed whole. It yields its own port and
the event that is set once the cut happened; it stops when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness.net import LOOPBACK

__all__ = ["cutting_once"]

#: Bound on the relay's thread starting and stopping.
THREAD_TIMEOUT = 10.0


@contextmanager
def cutting_once(port: int, marker: bytes) -> Iterator[tuple[int, threading.Event]]:
    cut = threading.Event()
    ready: list[int] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: bool) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if watch and not cut.is_set() and marker in data:
                    cut.set()
                    return
        except ConnectionError:
            pass

    async def joined(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        writers = [client_writer]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(LOOPBACK, port)
            writers.append(upstream_writer)
            both = [
                asyncio.create_task(pipe(upstream_reader, client_writer, True)),
                asyncio.create_task(pipe(client_reader, upstream_writer, False)),
            ]
            try:
                await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in both:
                    task.cancel()
                await asyncio.gather(*both, return_exceptions=True)
        except OSError:
            pass
        finally:
            for writer in writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def serve() -> None:
        server = await asyncio.start_server(joined, LOOPBACK, 0)
        ready.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await stop
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:  # the connections still relayed
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(THREAD_TIMEOUT):
        raise RuntimeError("the cutting relay did not start")
    try:
        yield ready[0], cut
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(THREAD_TIMEOUT)
        loop.close()
