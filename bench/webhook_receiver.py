"""A webhook endpoint for the bench that costs next to nothing: asyncio streams and h11, no framework.

Every POST is answered 200 with an empty body, after noting when (``time.time()`` as the answer
is written) and which event it carried (its ``id``, read from the body). ``GET /stats`` answers
those notes, in order; ``DELETE /stats`` forgets them.

    python -m bench.webhook_receiver --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import h11

_heard: list[tuple[str, float]] = []


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    connection = h11.Connection(h11.SERVER)
    request: h11.Request | None = None
    body = bytearray()
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                connection.receive_data(data)
                if not data and connection.their_state is not h11.MUST_CLOSE:
                    return
                continue
            if isinstance(event, h11.Request):
                request, body = event, bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                answer = b""
                if request.method == b"POST":
                    event_id = json.loads(body).get("id", "")
                elif request.method == b"GET":
                    answer = json.dumps(_heard).encode()
                else:
                    _heard.clear()
                headers = [("Content-Length", str(len(answer))), ("Content-Type", "application/json")]
                writer.write(connection.send(h11.Response(status_code=200, headers=headers)))
                writer.write(connection.send(h11.Data(data=answer)) + connection.send(h11.EndOfMessage()))
                if request.method == b"POST":
                    _heard.append((event_id, time.time()))
                await writer.drain()
                connection.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (h11.ProtocolError, ConnectionError):
        return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    try:
        import uvloop

        uvloop.run(_main(parser.parse_args().port))
    except ImportError:
        asyncio.run(_main(parser.parse_args().port))


if __name__ == "__main__":
    main()
