"""Completion callbacks of asynchronous calls: the ended call POSTed to the caller's URL, signed.

A caller that starts a call with ``Callback-Url`` is told when it ends: the call resource (as
``GET /calls/{id}`` answers it) is POSTed there with the webhook deliveries' signature headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``, ``X-MCP-Signature``) under the
operator's callback secret, through the webhooks' own client and address checks, and retried on
the webhooks' schedule. A callback is not kept across restarts: the call itself is, and the
caller can always read it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from bridge.events import new_event_id
from bridge.webhooks.addresses import Target, TargetRefused, check_addresses, parse_target
from bridge.webhooks.client import DeliveryError, WebhookClient
from bridge.webhooks.schedule import RetrySchedule
from bridge.webhooks.signing import key_of, signature_headers

__all__ = ["CallbackSender"]

log = logging.getLogger(__name__)


class CallbackSender:
    """Delivers callbacks on the bridge's loop; ``check`` vets a URL when a call names it."""

    def __init__(self, secret: str, *, allow_private: bool, schedule: RetrySchedule | None = None) -> None:
        self._key = key_of(secret)
        self._allow_private = allow_private
        self._schedule = schedule or RetrySchedule()
        self._client = WebhookClient()
        self._tasks: set[asyncio.Task[None]] = set()

    def check(self, url: str) -> None:
        """Refuse (``TargetRefused``, a ValueError) a URL a callback may not go to.

        Only its form is checked here, on the loop; its addresses are checked (resolved anew)
        at each attempt, as a webhook's are.
        """
        parse_target(url)

    def send(self, url: str, body: bytes) -> None:
        """Deliver ``body`` to ``url`` from now on, retrying on the schedule; returns at once."""
        task = asyncio.get_running_loop().create_task(self._deliver(url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._client.close()

    async def _deliver(self, url: str, body: bytes) -> None:
        delivery_id = "msg_" + new_event_id()
        attempts = 0
        try:
            target = parse_target(url)
        except TargetRefused as exc:
            log.warning("callback %s: not delivered (%s)", delivery_id, exc)
            return
        while True:
            attempts += 1
            error: str
            try:
                headers = signature_headers(delivery_id, int(time.time()), body, (self._key,))
                answer = await self._client.post(target, self._resolver(target), headers, body)
                if 200 <= answer.status < 300:
                    return
                error = f"HTTP {answer.status}"
                if answer.status == 410:
                    break
            except (TargetRefused, DeliveryError) as exc:
                error = str(exc)
            delay = self._schedule.next_delay(attempts)
            if delay is None:
                break
            await asyncio.sleep(delay)
        log.warning("callback %s: not delivered after %d attempts (%s)", delivery_id, attempts, error)

    def _resolver(self, target: Target) -> Callable[[], Awaitable[list[str]]]:
        return lambda: self._resolve(target)

    async def _resolve(self, target: Target) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefused(f"cannot resolve {target.host}: {exc}") from exc
        return check_addresses(target.host, (str(i[4][0]) for i in infos), self._allow_private)
