"""A lean HTTP/1.1 client for webhook deliveries, made to be safe.

Each connection is an asyncio protocol whose answers httptools parses as they arrive
(``bridge.upstream.wire``): a delivery is one write of head and body and one wake when the
answer is in, with no stream or pure-Python parser in between.

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
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bridge.upstream.wire import HttpConnection, request_head
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
_USER_AGENT = b"mcp-rest-bridge-webhooks/1"

Resolve = Callable[[], Awaitable[Sequence[str]]]


class DeliveryError(Exception):
    """No usable answer: the connection failed or timed out, or the answer was not HTTP."""


class _Reset(Exception):
    """The connection closed before any answer: on a kept-alive one, try another."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes


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
        self._idle: dict[tuple[str, str, int], list[tuple[float, HttpConnection]]] = {}

    async def post(self, target: Target, resolve: Resolve, headers: Sequence[tuple[str, str]], body: bytes) -> Answer:
        """POST ``body`` to ``target``; ``resolve`` gives the checked addresses when a new
        connection is needed."""
        try:
            head = request_head(
                b"POST",
                target.path.encode("ascii"),
                [
                    (b"Host", target.authority.encode("ascii")),
                    (b"User-Agent", _USER_AGENT),
                    (b"Content-Type", b"application/json"),
                    (b"Content-Length", b"%d" % len(body)),
                    *((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers),
                ],
            )
        except (UnicodeEncodeError, ValueError) as exc:
            raise DeliveryError(f"the request cannot be sent: {exc}") from None
        message = head + body
        key = (target.scheme, target.host, target.port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout
        # An idle connection the endpoint has closed is seen (and skipped) here: its FIN arrives at
        # once. One it closes at the very moment it is reused fails this attempt before any answer
        # was read; a delivery may arrive more than once, so it is tried again on another.
        while (connection := self._reuse(key)) is not None:
            try:
                return await self._exchange(key, connection, message, deadline)
            except _Reset:
                continue
        try:
            async with asyncio.timeout_at(deadline):
                connection = await self._connect(target, await resolve())
        except TimeoutError:
            raise DeliveryError(f"no answer within {self.total_timeout:g} s") from None
        try:
            return await self._exchange(key, connection, message, deadline)
        except _Reset as exc:
            raise DeliveryError(str(exc)) from None

    async def _exchange(
        self, key: tuple[str, str, int], connection: HttpConnection, message: bytes, deadline: float
    ) -> Answer:
        loop = asyncio.get_running_loop()
        timer = loop.call_at(deadline, connection.expire, TimeoutError())
        try:
            connection.begin()
            assert connection.transport is not None
            connection.transport.write(message)
            while not connection.complete and not connection.truncated:
                if connection.lost:
                    break
                await connection.wait()
        finally:
            timer.cancel()
        if not connection.head_done:
            connection.close()
            if isinstance(connection.error, TimeoutError):
                raise DeliveryError(f"no answer within {self.total_timeout:g} s")
            reason = "the connection closed before an answer"
            if connection.error is not None and not isinstance(connection.error, ConnectionError | OSError):
                raise DeliveryError(f"the answer is not HTTP/1.1: {connection.error}")
            raise _Reset(reason if connection.error is None else f"{reason}: {connection.error}")
        if not connection.complete and not connection.truncated and isinstance(connection.error, TimeoutError):
            connection.close()
            raise DeliveryError(f"no answer within {self.total_timeout:g} s")
        answer = Answer(
            connection.status,
            {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in connection.headers},
            b"".join(connection.chunks),
        )
        idle = self._idle.setdefault(key, [])
        if connection.reusable() and len(idle) < IDLE_PER_ENDPOINT:
            connection.chunks.clear()
            idle.append((time.monotonic(), connection))
        else:
            connection.close()
        return answer

    def _reuse(self, key: tuple[str, str, int]) -> HttpConnection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            since, connection = idle.pop()
            if now - since < IDLE_SECONDS and not connection.lost:
                return connection
            connection.close()
        return None

    async def _connect(self, target: Target, addresses: Sequence[str]) -> HttpConnection:
        tls = None
        if target.scheme == "https":
            tls = self._tls or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        error: BaseException | None = None
        for address in addresses:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    _, connection = await loop.create_connection(
                        lambda: HttpConnection(self.max_body),
                        address,
                        target.port,
                        ssl=tls,
                        server_hostname=target.host if tls is not None else None,
                    )
            except TimeoutError as exc:
                error = DeliveryError(f"no connection to {target.authority} within {self.connect_timeout:g} s")
                error.__cause__ = exc
                continue
            except (OSError, ssl.SSLError) as exc:
                error = exc
                continue
            return connection
        if isinstance(error, DeliveryError):
            raise error
        raise DeliveryError(f"cannot connect to {target.authority}: {getattr(error, 'strerror', None) or error}")

    def close(self) -> None:
        for idle in self._idle.values():
            for _since, connection in idle:
                connection.close()
        self._idle.clear()
