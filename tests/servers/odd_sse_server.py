"""The lean test server with every event stream it sends re-framed in odd but valid SSE.

Servers in the wild do not all frame events as the SDK's does (``event: message``, one ``data``
line, CRLF, one write per event). Here an ASGI middleware re-frames each event the lean server
(``tests/servers/lean_server.py``) sends, keeping its meaning by the SSE spec: a byte order mark
and a comment open the stream; line ends cycle through CRLF, LF and CR; a ``retry``, an event
of another type and an id-only event (not dispatched) come before each message; its data starts
with a field without a colon (an empty line, which JSON reads as whitespace) and then the JSON,
indented, one ``data`` line per line (after the first, without a space after the colon), a
comment among them. Each event is written in several pieces, cut inside the byte
order mark, between each CR and its LF, and inside each UTF-8 character, a short pause between
them so that they reach the client as separate reads::

    python -m tests.servers.odd_sse_server --port N [--legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import orjson
import uvicorn

from tests.servers.lean_server import build
from tests.servers.rich_server import speak_handshake_only

BOM = b"\xef\xbb\xbf"
#: How the SDK's server (sse_starlette) ends each line and event.
SEP = b"\r\n"
PAUSE = 0.002


def reframed(event: bytes, first: bool) -> bytes:
    """One event of the SDK's framing in the odd framing; anything else (a comment) as it was."""
    fields = dict(line.split(b": ", 1) for line in event.split(SEP) if b": " in line and not line.startswith(b":"))
    if set(fields) - {b"event", b"data", b"id"} or b"data" not in fields:
        return event + SEP + SEP
    ends = itertools.cycle([b"\r\n", b"\n", b"\r"])
    lines = [b": odd framing ahead"] if first else []
    lines += [b"retry: 2500", b"", b"event: note", b"data: not for MCP", b"", b"id: odd-1", b""]
    lines += [b"id: " + fields[b"id"]] if b"id" in fields else []
    lines += [b"event: " + fields.get(b"event", b"message"), b"data"]
    indented = orjson.dumps(orjson.loads(fields[b"data"]), option=orjson.OPT_INDENT_2).split(b"\n")
    lines += [b"data: " + indented[0], b": among the data lines", *(b"data:" + line for line in indented[1:]), b""]
    return (BOM if first else b"") + b"".join(line + next(ends) for line in lines)


def pieces(framed: bytes) -> Iterator[bytes]:
    """``framed`` cut after the BOM's first byte, between each CR and its LF, and inside each UTF-8 character."""
    cuts = {1 if framed.startswith(BOM) else 0}
    cuts |= {i + 1 for i in range(len(framed) - 1) if framed[i : i + 2] == b"\r\n"}
    cuts |= {i + 1 for i, byte in enumerate(framed) if byte >= 0xC0}  # after a multi-byte character's lead
    bounds = sorted(cut for cut in cuts if 0 < cut < len(framed))
    for start, end in itertools.pairwise([0, *bounds, len(framed)]):
        yield framed[start:end]


class OddFraming:
    """ASGI middleware: event-stream responses re-framed (``reframed``), written in ``pieces``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"events": False, "first": True, "buffer": b""}

        async def framed(message: Any) -> None:
            if message["type"] == "http.response.start":
                state["events"] = dict(message["headers"]).get(b"content-type", b"").startswith(b"text/event-stream")
            if message["type"] != "http.response.body" or not state["events"]:
                await send(message)
                return
            buffer = state["buffer"] + message.get("body", b"")
            *events, state["buffer"] = buffer.split(SEP + SEP)
            for event in events:
                for piece in pieces(reframed(event, state["first"])):
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                    await asyncio.sleep(PAUSE)
                state["first"] = False
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": state["buffer"], "more_body": False})

        await self.app(scope, receive, framed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--legacy", action="store_true", help="speak only the 2025-11-25 handshake generation")
    args = parser.parse_args()
    server = build()
    if args.legacy:
        speak_handshake_only(server)
    app = OddFraming(server.streamable_http_app())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
