"""The events of a ``text/event-stream`` body, parsed from its bytes as they arrive (the SSE spec's rules).

A 2025-era Streamable HTTP upstream (the SDK's server, and most in the wild) answers each lean
request with an event stream. Read through httpx2, each answer built an ``httpx2.Response``
around the pooled body and passed every chunk through ``EventSource``, ``aiter_text``,
``aiter_bytes``, the content and text decoders, a line decoder and an event decoder, async
generators left for the loop to close once the answer was found. That is the hot path of every
call to such an upstream: in py-spy profiles of the bridge under load (``bench/profile.py --mcp
2025 --transport http``) the chain held 20 to 100 µs of CPU per call, by run; alone, one answer
(one event in one chunk) cost 57 µs in it and 3 µs here. Here the chunks are split into lines
as bytes, and only the values used are decoded, once an event is complete. A chunk that is one
whole ``message`` event and nothing else, as the SDK's server writes every message, is read
without splitting it (its data lies between line ends whose places are known).

The rules are those of the HTML standard's event stream interpretation: lines end with CRLF,
LF or CR (in any mix, and a CRLF may be split across chunks); a UTF-8 byte order mark at the
stream's start is dropped; a line starting with a colon is a comment; a line without a colon
is a field with an empty value; one space after the colon is stripped; ``data`` lines are
joined with LF; ``id`` (without NUL) is kept for the events after it; ``retry`` (ASCII digits
only) sets the stream's reconnection time; unknown fields are ignored; a blank line dispatches
the event, unless it has no data; an event not ended by a blank line when the stream ends is
dropped. Bytes that are not UTF-8 become U+FFFD, as decoding the whole stream would make them.

An event may be no larger than a bound (its field lines, and a line still arriving, in bytes),
so an upstream cannot make the bridge buffer without end: past it ``EventTooLarge``, with the
words httpx2's ``SSEError`` uses, so a lean request fails as the SDK's would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["Event", "EventParser", "EventTooLarge"]

BOM = b"\xef\xbb\xbf"
CR, LF, COLON = 13, 10, 58
#: How the MCP SDK's server writes each message: one event, in one chunk of its own.
_MESSAGE_START = b"event: message\r\ndata: "
_MESSAGE_END = b"\r\n\r\n"
#: The field lines of such an event but its data: ``event: message``.
_MESSAGE_FIELDS = len(b"event: message")


class Event(NamedTuple):
    """One dispatched event: its type ("message" unless named), its data, and the last event id so far."""

    type: str
    data: str
    id: str


class EventTooLarge(ValueError):
    """An event (or a line of one still arriving) grew past the parser's bound."""


class EventParser:
    """The events in a stream's chunks, fed in order; one parser per stream."""

    __slots__ = (
        "_data",
        "_head",
        "_id",
        "_limit",
        "_partial",
        "_pending",
        "_size",
        "_skip_lf",
        "_type",
        "last_id",
        "retry",
    )

    def __init__(self, max_event_size: int) -> None:
        self._limit = max_event_size
        #: The stream's first bytes while they may still be a split byte order mark; None after.
        self._head: bytes | None = b""
        #: The last chunk ended with CR: an LF starting the next one belongs to that line end.
        self._skip_lf = False
        #: The line still arriving (no line end yet), in pieces, and its length.
        self._partial: list[bytes] = []
        self._pending = 0
        #: The event being read: its field lines' length, its data lines, its type.
        self._size = 0
        self._data: list[bytes] = []
        self._type = b""
        self._id = ""
        #: The last event id as of the last event ended (a blank line), data or not: where a cut
        #: stream resumes (``Last-Event-ID``). An id on an event cut off before its end is not it.
        self.last_id = ""
        #: The stream's reconnection time in ms, once a ``retry`` field has set it.
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> Iterator[Event]:
        """The events that ``chunk`` completes, in order, read before the next chunk is fed.
        ``EventTooLarge`` comes where the bound is passed, after the events before it (as from
        httpx2's reader on the SDK's path, whose answer may come before an oversized event)."""
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < len(BOM) and BOM.startswith(chunk):
                self._head = chunk
                return
            self._head = None
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == LF:
                chunk = chunk[1:]
        if (
            not self._partial
            and not self._data
            and not self._type
            and chunk.startswith(_MESSAGE_START)
            and chunk.endswith(_MESSAGE_END)
            and chunk.count(b"\r") == 3
            and chunk.count(b"\n") == 3
        ):
            # One whole event and nothing else, as the SDK writes each message (what the lines
            # below make of it, without splitting it): its data is all between the known line ends.
            self._size = _MESSAGE_FIELDS + len(chunk) - len(_MESSAGE_START) - len(_MESSAGE_END) + len(b"data: ")
            self._bound(0)
            self._size = 0
            value = chunk[len(_MESSAGE_START) : -len(_MESSAGE_END)]
            self.last_id = self._id
            yield Event("message", value.decode("utf-8", "replace"), self._id)
            return
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._partial.append(chunk)
                self._pending += len(chunk)
                self._bound(self._pending)
            return
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
            self._pending = 0
        lines = chunk.splitlines()  # at CRLF, LF and CR: bytes have no other line ends
        end = chunk[-1]
        if end == CR:
            self._skip_lf = True
        elif end != LF:
            tail = lines.pop()
            self._partial.append(tail)
            self._pending = len(tail)
        for line in lines:
            if not line:
                self._size = 0
                self.last_id = self._id
                data, kind, self._data, self._type = self._data, self._type, [], b""
                if data:
                    kind_name = kind.decode("utf-8", "replace") if kind else "message"
                    yield Event(kind_name, b"\n".join(data).decode("utf-8", "replace"), self._id)
                continue
            if line[0] == COLON:
                continue
            self._size += len(line)
            self._bound(0)
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
            elif name == b"event":
                self._type = value
            elif name == b"id":
                if b"\0" not in value:
                    self._id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self.retry = int(value)
        self._bound(self._pending)

    def _bound(self, pending: int) -> None:
        if self._size + pending > self._limit:
            raise EventTooLarge(f"Server-sent event exceeded the {self._limit} byte limit.")
