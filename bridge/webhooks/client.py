"""A lean HTTP/1.1 client for webhook deliveries: h11 over asyncio streams, made to be safe.

It does one thing, POST a signed body and read the status, and refuses what a webhook must not
do: it connects only to addresses the caller checked (``connect`` is handed them), sending the
URL's own host in ``Host`` (and as the TLS server name for https, so certificates are checked
against it); it never follows a redirect (a 3xx is an answer like any other); it gives up after
a connect timeout and a total one; and it reads at most ``max_body`` bytes of an answer, closing
the connection instead of reading more. Connections are kept alive per endpoint and reused, so
a busy subscription pays for its TCP (and TLS) handshake once.

Errors leave as ``DeliveryError``, with a message fit for the delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import h11

from bridge.webhooks.addresses import Target

__all__ = ["Answer", "DeliveryError", "WebhookClient"]

#: Seconds to set up a connection (TCP, and TLS for https).
CONNECT_TIMEOUT = 5.0
#: Seconds for a whole attempt, connecting included.
TOTAL_TIMEOUT = 15.0
#: Bytes of an answer's body read at most: a receiver's answer is only for the delivery log.
MAX_BODY = 16 * 1024
#: Idle connections kept per endpoint, and how long one may stay idle.
IDLE_PER_ENDPOINT = 8
IDLE_SECONDS = 30.0
_USER_AGENT = "mcp-rest-bridge-webhooks/1"

Resolve = Callable[[], Awaitable[Sequence[str]]]


class DeliveryError(Exception):
    """No usable answer: the connection failed or timed out, or the answer was not HTTP."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes


class _Connection:
    __slots__ = ("address", "http", "idle_since", "reader", "writer")

    def __init__(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.address = address
        self.reader = reader
        self.writer = writer
        self.http = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def exchange(self, request: h11.Request, body: bytes, max_body: int) -> tuple[Answer, bool]:
        """Send one request, read its answer; and whether the connection may serve another."""
        http = self.http
        self.writer.write(http.send(request) + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
        await self.writer.drain()
        response: h11.Response | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await self.reader.read(65536))
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > max_body:  # read no more of it: this connection is done
                    chunks.append(event.data[: max_body - (size - len(event.data))])
                    return _answer(response, chunks), False
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                if response is None:
                    raise DeliveryError("the connection closed before an answer")
                return _answer(response, chunks), False
        reusable = http.our_state is h11.DONE and http.their_state is h11.DONE
        if reusable:
            http.start_next_cycle()
        return _answer(response, chunks), reusable


def _answer(response: h11.Response | None, chunks: list[bytes]) -> Answer:
    if response is None:
        raise DeliveryError("no answer")
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in response.headers}
    return Answer(response.status_code, headers, b"".join(chunks))


class WebhookClient:
    """POSTs to webhook endpoints; see the module's notes. Lives on one event loop."""

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_body: int = MAX_BODY,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_body = max_body
        self._tls = tls
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    async def post(self, target: Target, resolve: Resolve, headers: Sequence[tuple[str, str]], body: bytes) -> Answer:
        """POST ``body`` to ``target``; ``resolve`` gives the checked addresses when a new
        connection is needed."""
        request = h11.Request(
            method="POST",
            target=target.path,
            headers=[
                ("Host", target.authority),
                ("User-Agent", _USER_AGENT),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *headers,
            ],
        )
        key = (target.scheme, target.host, target.port)
        try:
            async with asyncio.timeout(self.total_timeout):
                while (connection := self._reuse(key)) is not None:
                    try:
                        return await self._exchange(key, connection, request, body)
                    except (OSError, DeliveryError, h11.ProtocolError):
                        continue  # the endpoint closed an idle connection meanwhile: another, or a new one
                connection = await self._connect(target, await resolve())
                return await self._exchange(key, connection, request, body)
        except TimeoutError as exc:
            raise DeliveryError(f"no answer within {self.total_timeout:g} s") from exc
        except h11.ProtocolError as exc:
            raise DeliveryError(f"the answer is not HTTP/1.1: {exc}") from exc
        except OSError as exc:
            raise DeliveryError(f"connection failed: {exc.strerror or exc}") from exc

    async def _exchange(
        self, key: tuple[str, str, int], connection: _Connection, request: h11.Request, body: bytes
    ) -> Answer:
        try:
            answer, reusable = await connection.exchange(request, body, self.max_body)
        except BaseException:
            connection.close()
            raise
        idle = self._idle.setdefault(key, [])
        if reusable and len(idle) < IDLE_PER_ENDPOINT:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection.close()
        return answer

    def _reuse(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if now - connection.idle_since < IDLE_SECONDS and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self, target: Target, addresses: Sequence[str]) -> _Connection:
        tls = None
        if target.scheme == "https":
            tls = self._tls or ssl.create_default_context()
        error: BaseException | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        address, target.port, ssl=tls, server_hostname=target.host if tls is not None else None
                    ),
                    self.connect_timeout,
                )
            except TimeoutError as exc:
                error = DeliveryError(f"no connection to {target.authority} within {self.connect_timeout:g} s")
                error.__cause__ = exc
                continue
            except (OSError, ssl.SSLError) as exc:
                error = exc
                continue
            return _Connection(address, reader, writer)
        if isinstance(error, DeliveryError):
            raise error
        raise DeliveryError(f"cannot connect to {target.authority}: {getattr(error, 'strerror', None) or error}")

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
