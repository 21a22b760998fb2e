"""The stdio transport to an upstream child process, with no task between the pipe and the session.

The SDK's ``stdio_client`` moves every message through two pipe tasks and two rendezvous
streams: a request is handed to a writer task that serialises and writes it, a response is read
by a reader task that decodes, splits, parses and hands it on. At one call in flight that is a
task switch per direction, on the path of every call. Here the same wire format (one JSON-RPC
message per line, UTF-8, parsed with the SDK's own message adapter) is written to the pipe by
the sender itself and parsed in the pipe's data callback, which hands the message straight to
the session's receive loop. Flow control holds both ways: a sender waits while the child's
stdin is full, and the child's stdout is paused while the session has messages unread.

Beside the session, the same pipes carry lean requests (``bridge/upstream/lean_pipe.py``): their
responses are recognised by id in the data callback and settled there, as plain dicts with no
model built; every other line goes to the session as before.

On Linux a child can be held to a set of CPUs (``"cpus"`` in its config); where it runs is
``bridge/upstream/placement.py``'s to decide, around the spawn. A command that cannot be started
fails with an error naming it (``SpawnError``), as the OS's own error does not.

Shutdown follows the SDK's sequence, shielded from cancellation and bounded at each step: close
the child's stdin, give it a grace period to exit, then SIGTERM and SIGKILL its process group
(the SDK's own ``terminate_posix_process_tree``); the child starts in a session of its own so
its descendants go with it. POSIX only: elsewhere the bridge uses the SDK's transport.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self, cast

import anyio
import mcp_types as types
from mcp.client.stdio import (
    FORCE_KILL_TIMEOUT,
    PROCESS_TERMINATION_TIMEOUT,
    StdioServerParameters,
    get_default_environment,
)
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage
from pydantic_core import from_json

from bridge.config import Cpus
from bridge.upstream.lean_calls import LEAN_ID_PREFIX
from bridge.upstream.lean_pipe import LeanPipe
from bridge.upstream.placement import Placement

__all__ = ["SpawnError", "stdio_transport"]

log = logging.getLogger(__name__)

#: Messages parsed but not yet taken by the session before the child's stdout is paused.
INBOX_HIGH = 64
INBOX_LOW = 16
#: Time for the loop to see a killed child's exit before the transport is closed anyway.
REAP_TIMEOUT = 2.0
#: Every lean request id carries it, so a line without it is not parsed twice.
_LEAN_MARK = f'"{LEAN_ID_PREFIX}'.encode()

Inbound = SessionMessage | Exception
#: A lean answer held behind messages the session has not taken yet, settled when it reaches them.
Settle = Callable[[], object]


class SpawnError(OSError):
    """A child process that could not be started; unlike the OS's own error, its message names the command."""

    def __str__(self) -> str:
        return str(self.strerror)  # without the "[Errno n]" prefix: the message says it in words


class _Stream:
    """``async with`` closes the stream, as with the SDK's memory streams."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Inbox(_Stream):
    """What the child said, parsed, in order: the session's read stream."""

    def __init__(self, pause: Callable[[bool], None]) -> None:
        self._items: collections.deque[Inbound | Settle] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False  # the child closed its stdout
        self._closed = False  # the session closed this stream
        self._pause = pause
        self._paused = False

    @property
    def pending(self) -> bool:
        """Messages wait that the session has not taken yet."""
        return bool(self._items)

    def put(self, item: Inbound | Settle) -> None:
        if self._closed:
            return
        self._items.append(item)
        if not self._paused and len(self._items) >= INBOX_HIGH:
            self._paused = True
            self._pause(True)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Inbound:
        while True:
            while not self._items:
                if self._closed:
                    raise anyio.ClosedResourceError
                if self._ended:
                    raise anyio.EndOfStream
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            item = self._items.popleft()
            if self._paused and len(self._items) <= INBOX_LOW:
                self._paused = False
                self._pause(False)
            if isinstance(item, SessionMessage | Exception):
                return item
            item()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Inbound:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._closed = True
        self._items.clear()
        self._wake()
        if self._paused:  # a child blocked on a full pipe must be able to finish writing and exit
            self._paused = False
            self._pause(False)


class _Outbox(_Stream):
    """The session's write stream: each message serialised and written to the child's stdin."""

    def __init__(self, protocol: _ChildProtocol) -> None:
        self._protocol = protocol
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        pipe = self._protocol.stdin
        if pipe is None or pipe.is_closing():
            raise anyio.BrokenResourceError
        pipe.write(types.jsonrpc_message_adapter.dump_json(item.message, by_alias=True, exclude_unset=True) + b"\n")
        await self._protocol.drained()

    async def aclose(self) -> None:
        self._closed = True


class _Stdin:
    """The child's stdin: the lines written to it in one turn of the loop go to the pipe in one write.

    With several calls in flight their requests are sent in the same turn (each task runs up to
    its write); one write for all of them is one system call here, and one wake-up and one read
    for the child, where a write each made as many. Written lines wait at most until the loop's
    next turn; ``close`` writes what waits first.
    """

    __slots__ = ("_loop", "_pipe", "_queued")

    def __init__(self, pipe: asyncio.WriteTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._pipe = pipe
        self._loop = loop
        self._queued: list[bytes] | None = None

    def write(self, line: bytes) -> None:
        queued = self._queued
        if queued is None:
            self._queued = [line]
            self._loop.call_soon(self.flush)
        else:
            queued.append(line)

    def flush(self) -> None:
        lines, self._queued = self._queued, None
        if lines and not self._pipe.is_closing():
            self._pipe.write(lines[0] if len(lines) == 1 else b"".join(lines))

    def is_closing(self) -> bool:
        return self._pipe.is_closing()

    def close(self) -> None:
        self.flush()
        self._pipe.close()


class _ChildProtocol(asyncio.SubprocessProtocol):
    """Splits the child's stdout into lines and parses each into the inbox as it arrives."""

    def __init__(self, lean: LeanPipe | None = None) -> None:
        self.transport: asyncio.SubprocessTransport | None = None
        self.stdin: _Stdin | None = None
        self.inbox = _Inbox(self._pause_stdout)
        self.lean = lean
        self._partial: list[bytes] = []
        self._can_write: asyncio.Future[None] | None = None
        #: Set when the child has exited (its pipes may still be held open by its own children).
        self.exited = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the asyncio methods without subclassing the asyncio classes.
        self.transport = cast(asyncio.SubprocessTransport, transport)
        pipe = cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))
        self.stdin = _Stdin(pipe, asyncio.get_running_loop())

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            line = data[start:end]
            if self._partial:
                self._partial.append(line)
                line = b"".join(self._partial)
                self._partial.clear()
            start = end + 1
            if line.strip() and not (_LEAN_MARK in line and self._settled(line)):
                self.inbox.put(_parse(line))
        if start < len(data):
            self._partial.append(data[start:])

    def _settled(self, line: bytes) -> bool:
        """True when ``line`` answers a lean request (and has settled it, or will), or is progress on
        one (handed over).

        An answer that comes after messages the session has not yet taken waits behind them,
        as it would on the session: a log the server sent before answering still finds its
        call in flight (``bridge/upstream/relaying.py``).
        """
        lean = self.lean
        if lean is None:
            return False
        try:
            message = from_json(line)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return False
        if lean.progressed(message):
            return True
        if not lean.answers(message):
            return False
        if self.inbox.pending:
            self.inbox.put(lambda: lean.settle(message))
        else:
            lean.settle(message)
        return True

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.inbox.end()
            if self.lean is not None:
                self.lean.close()
        elif fd == 0:
            self._release_writers()

    def process_exited(self) -> None:
        self.exited.set()
        self._release_writers()

    def pause_writing(self) -> None:
        if self._can_write is None:
            self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_writers()

    def _release_writers(self) -> None:
        waiter, self._can_write = self._can_write, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drained(self) -> None:
        if self._can_write is not None:
            await asyncio.shield(self._can_write)

    def _pause_stdout(self, paused: bool) -> None:
        if self.transport is None:
            return
        pipe = cast(asyncio.ReadTransport | None, self.transport.get_pipe_transport(1))  # None once closed
        if pipe is not None and not pipe.is_closing():
            if paused:
                pipe.pause_reading()
            else:
                pipe.resume_reading()

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode() if self.transport is not None else None

    @property
    def pid(self) -> int:
        assert self.transport is not None
        return self.transport.get_pid()


def _parse(line: bytes) -> Inbound:
    """One line as the SDK's stdio transport parses it; a bad line is handed on as an error value."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        log.warning("upstream sent a line that is not a JSON-RPC message: %s", exc)
        return exc


@asynccontextmanager
async def stdio_transport(
    server: StdioServerParameters, cpus: Cpus | None = None, lean: LeanPipe | None = None
) -> AsyncIterator[tuple[_Inbox, _Outbox]]:
    """Start ``server`` as a child process and yield the session's (read, write) streams over its pipes.

    ``cpus`` holds the child, and every process it starts, to those CPUs (Linux). ``lean``, if
    given, carries lean requests over the same pipes.
    """
    loop = asyncio.get_running_loop()
    protocol = _ChildProtocol(lean)
    with Placement(cpus) as placement:
        async with placement.forking():
            await _spawn(loop, protocol, server)
        if lean is not None:
            assert protocol.stdin is not None  # set when the child was spawned
            lean.attach(protocol.stdin, protocol.drained)
        outbox = _Outbox(protocol)
        try:
            yield protocol.inbox, outbox
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(protocol)


async def _spawn(loop: asyncio.AbstractEventLoop, protocol: _ChildProtocol, server: StdioServerParameters) -> None:
    try:
        await loop.subprocess_exec(
            lambda: protocol,
            server.command,
            *server.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the child's diagnostics go to the bridge's own stderr, as with the SDK
            env=get_default_environment() | (server.env or {}),
            cwd=server.cwd,
            start_new_session=True,  # its own process group, so stopping it stops its descendants
        )
    except OSError as exc:
        # A missing working directory fails the same way as a missing command: name both.
        where = f" in {os.fspath(server.cwd)!r}" if server.cwd is not None else ""
        raise SpawnError(exc.errno, f"cannot start {server.command!r}{where}: {exc.strerror or exc}") from exc


async def _stop(protocol: _ChildProtocol) -> None:
    transport = protocol.transport
    assert transport is not None
    assert protocol.stdin is not None
    await protocol.inbox.aclose()
    if protocol.lean is not None:
        protocol.lean.close()
    protocol.stdin.close()  # writes what is buffered, then EOF: the child's cue to exit
    if not await _exited(protocol, PROCESS_TERMINATION_TIMEOUT):
        await terminate_posix_process_tree(protocol, FORCE_KILL_TIMEOUT)  # type: ignore[arg-type]
        if not await _exited(protocol, REAP_TIMEOUT):
            log.warning("upstream process %d is still alive after SIGKILL; abandoning it", protocol.pid)
    transport.close()


async def _exited(protocol: _ChildProtocol, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        await protocol.exited.wait()
    return protocol.exited.is_set()
