"""The floor of a Python hop that reads what it forwards: HTTP/1.1 and JSON-RPC in, renumbered, out.

``python -m bench.forward --port P --upstream U`` accepts connections on 127.0.0.1:P and joins
each to a connection of its own to 127.0.0.1:U, as ``bench.splice`` does, but it parses every
request and answer (httptools) and every JSON body (orjson): a request's ``id`` is replaced by
one of the hop's own and its answer gets the caller's back, as any gateway must do to share
upstream connections among its callers. Event streams and other bodies pass through as they
come, the answer among an event stream's events given its id back too. That is all: no auth, no
routing, no check of anything, every step a callback of the parser with no task or coroutine,
so no gateway that understands what it forwards can cost less in Python. ``bench.mcp_clients``
runs it (target ``python-forward``) beside ``python-splice`` and ``nginx`` in front of the same
upstream.

HTTP/1.1 answers come in the order of their requests, so each connection keeps the callers'
ids in a queue (with the hop's own), one per request sent on: the answer being read is the first's.

``FORWARD_BURN_US=N`` in its environment makes it spend N µs more of CPU on each call, 70% before
a request goes on and 30% before its answer goes back (about where a gateway's own work falls), in
a loop that reads the thread's CPU clock and touches little else. It measures what a hop that
costs that much more than parsing keeps of direct (README, "Issue 17: the CPU a hop can
spend"): a CPU budget for the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import deque
from typing import Any, Final

import httptools
import orjson

from bench.splice import Joining, run

__all__ = ["burn", "main"]

#: Request fields not passed on: the hop's own framing and connection (``Host`` is the upstream's).
_HOP_BY_HOP = frozenset((b"host", b"connection", b"keep-alive", b"content-length", b"transfer-encoding"))
#: Answer fields not passed on: the framing, which the hop writes itself.
_FRAMING = frozenset((b"content-length", b"transfer-encoding", b"connection", b"keep-alive"))
#: What stands for the ids of a request that had none of its own (a notification, a GET).
_NOT_RENUMBERED: Final = (None, None)
_ids = itertools.count(1)
#: The CPU each call spends on nothing (``FORWARD_BURN_US``), in seconds: before the request, before the answer.
_BURN = float(os.environ.get("FORWARD_BURN_US", "0")) / 1e6
_BURN_BEFORE, _BURN_AFTER = _BURN * 0.7, _BURN * 0.3


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (not wall time: a preempted loop still spends it all)."""
    if seconds > 0:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass


class _Outbound(asyncio.Protocol):
    """The upstream side of one joined pair: each answer parsed, its id given back, written to the client."""

    def __init__(self, client: asyncio.Transport, callers: deque[tuple[Any, str | None]]) -> None:
        self._client = client
        self._callers = callers
        self._parser = httptools.HttpResponseParser(self)
        self._fields: list[bytes] = []
        self._body: list[bytes] = []
        self._json = self._events = self._streamed = False
        #: The caller's id and the hop's of the request being answered; an event stream's partial event.
        self._caller: tuple[Any, str | None] = _NOT_RENUMBERED
        self._pending = b""

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_begin(self) -> None:
        self._fields = []
        self._body = []
        self._json = self._events = False
        self._caller = self._callers.popleft() if self._callers else _NOT_RENUMBERED
        self._pending = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _FRAMING:
            self._fields.append(name + b": " + value + b"\r\n")
        if name == b"content-type":
            self._json = value.startswith(b"application/json")
            self._events = value.startswith(b"text/event-stream")

    def on_headers_complete(self) -> None:
        # A JSON answer is held whole to give its id back; anything else (an event stream) goes on as it comes.
        self._streamed = not self._json or self._parser.get_status_code() == 202
        if self._streamed:
            head = self._head() + b"transfer-encoding: chunked\r\n\r\n"
            self._client.write(head)

    def on_body(self, body: bytes) -> None:
        if not self._streamed:
            self._body.append(body)
            return
        if self._events and self._caller[1] is not None:  # whole events only, the answer's id given back
            events, _, self._pending = (self._pending + body).rpartition(b"\n\n")
            body = b"\n\n".join(map(self._event, events.split(b"\n\n"))) + b"\n\n" if events else b""
        if body:
            self._client.write(b"%x\r\n%s\r\n" % (len(body), body))

    def _event(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(b"data:"):
                lines[i] = b"data: " + self._renumbered(line[5:].strip())
        return b"\n".join(lines)

    def _renumbered(self, body: bytes) -> bytes:
        """A JSON-RPC answer to the request being answered, with the caller's id; anything else as it is."""
        caller, own = self._caller
        if own is None or not body:
            return body
        message = orjson.loads(body)
        if isinstance(message, dict) and "method" not in message and message.get("id") == own:
            message["id"] = caller
            return orjson.dumps(message)
        return body

    def on_message_complete(self) -> None:
        burn(_BURN_AFTER)
        if self._streamed:
            tail = self._pending
            self._client.write((b"%x\r\n%s\r\n" % (len(tail), tail) if tail else b"") + b"0\r\n\r\n")
            return
        body = self._renumbered(b"".join(self._body))
        self._client.write(self._head() + b"content-length: %d\r\n\r\n" % len(body) + body)

    def _head(self) -> bytes:
        status = self._parser.get_status_code()
        return b"HTTP/1.1 %d -\r\n" % status + b"".join(self._fields)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.close()


class _Inbound(Joining):
    """The client side: each request parsed, its id replaced, and sent on to the upstream."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self._host = b"127.0.0.1:%d" % upstream_port
        self._callers: deque[tuple[Any, str | None]] = deque()
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._fields: list[bytes] = []
        self._body: list[bytes] = []

    def outbound(self, client: asyncio.Transport) -> asyncio.Protocol:
        return _Outbound(client, self._callers)

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_begin(self) -> None:
        self._url = b""
        self._fields = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _HOP_BY_HOP:
            self._fields.append(name + b": " + value + b"\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body)
        caller: tuple[Any, str | None] = _NOT_RENUMBERED
        if body:
            message = orjson.loads(body)
            if isinstance(message, dict) and "method" in message and "id" in message:
                caller = (message["id"], f"hop-{next(_ids)}")
                message["id"] = caller[1]
                body = orjson.dumps(message)
        self._callers.append(caller)
        burn(_BURN_BEFORE)
        head = self._parser.get_method() + b" " + self._url + b" HTTP/1.1\r\nhost: " + self._host + b"\r\n"
        self.send(head + b"".join(self._fields) + b"content-length: %d\r\n\r\n" % len(body) + body)


def main() -> None:
    run(_Inbound, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
