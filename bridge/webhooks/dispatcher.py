"""The delivery engine: takes what the outbox kept and delivers it, on the bridge's event loop.

Each subscription has a lane of its own (a queue and a few workers), so one slow or dead
endpoint delays only its own deliveries. An attempt resolves the endpoint's host and checks
the addresses again (DNS may have changed since the subscription was made), POSTs the signed
body (``bridge.webhooks.client``), and writes the attempt and its outcome through the store's
writer thread:

- 2xx: delivered;
- 410 Gone: the subscription is disabled, this delivery failed;
- anything else, or no answer: tried again after the schedule's next delay (longer if the
  answer's ``Retry-After`` says so); after the last attempt, failed (the dead letter).

What is due comes from two places: the outbox hands over each delivery once its row is
committed (the common case, no read), and a sweep reads the outbox for what falls due before
the next sweep and is not in hand (each waits on a timer for its time): retries after a
restart or a crash, redeliveries, deliveries of a re-enabled subscription. Retries in this
process wait on timers too. The sweep also prunes finished deliveries past their retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bridge.events import new_event_id
from bridge.store.database import Transaction
from bridge.store.webhooks import DeliveryRecord, DeliveryStatus, WebhookAttempt, WebhookStore
from bridge.store.writer import StoreWriter, Write
from bridge.webhooks.addresses import Target, TargetRefused, check_addresses, parse_target
from bridge.webhooks.client import DeliveryError, WebhookClient
from bridge.webhooks.schedule import RetrySchedule
from bridge.webhooks.signing import signature_headers
from bridge.webhooks.subscriptions import WebhookSubscriptions

__all__ = ["DispatchSettings", "WebhookDispatcher"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    allow_private: bool = False
    #: Deliveries in flight at once per subscription (each on its own kept-alive connection).
    workers: int = 4
    #: Seconds between two sweeps of the outbox for what is due and not in hand.
    sweep: float = 15.0
    #: Deliveries read per sweep at most.
    sweep_batch: int = 1000
    #: Seconds a finished delivery stays in the delivery log.
    retention: float = 7 * 24 * 3600.0


class _Lane:
    """One subscription's queue and workers."""

    def __init__(self, dispatcher: WebhookDispatcher, subscription_id: str, workers: int) -> None:
        self.queue: asyncio.Queue[DeliveryRecord] = asyncio.Queue()
        self.tasks = [
            asyncio.create_task(dispatcher._work(self.queue), name=f"webhook-{subscription_id}-{n}")
            for n in range(workers)
        ]


class WebhookDispatcher:
    """Delivers the outbox's deliveries; ``start``/``close`` on the loop, ``submit``/``poke`` from anywhere."""

    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        store: WebhookStore,
        writer: StoreWriter,
        loop: asyncio.AbstractEventLoop,
        settings: DispatchSettings | None = None,
        client: WebhookClient | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._store = store
        self._writer = writer
        self._loop = loop
        self.settings = settings or DispatchSettings()
        self._client = client or WebhookClient()
        self._owner = "instance-" + new_event_id()
        self._lanes: dict[str, _Lane] = {}
        #: Deliveries in hand: queued or in flight (None), or waiting for a retry (its timer).
        self._held: dict[str, asyncio.TimerHandle | None] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._records: list[Write] = []
        subscriptions.add_listener(self.poke)

    # -- from anywhere -------------------------------------------------------------------------

    def submit(self, deliveries: Sequence[DeliveryRecord]) -> None:
        """Deliver these (committed) deliveries; on the loop's thread."""
        for delivery in deliveries:
            if delivery.id not in self._held:
                self._enqueue(delivery)

    def poke(self) -> None:
        """Sweep the outbox soon (something was made pending); from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to deliver
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- on the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="webhook-sweeper")

    async def close(self) -> None:
        tasks = [t for lane in self._lanes.values() for t in lane.tasks]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        for handle in self._held.values():
            if handle is not None:
                handle.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._client.close()

    def _enqueue(self, delivery: DeliveryRecord) -> None:
        self._held[delivery.id] = None
        lane = self._lanes.get(delivery.subscription_id)
        if lane is None:
            lane = self._lanes[delivery.subscription_id] = _Lane(self, delivery.subscription_id, self.settings.workers)
        lane.queue.put_nowait(delivery)

    async def _sweep_forever(self) -> None:
        sweeps = 0
        while True:
            try:
                await self._sweep(prune=sweeps % 240 == 0)
            except Exception:
                log.exception("webhook outbox sweep failed")
            sweeps += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.sweep)
            self._wake.clear()

    async def _sweep(self, *, prune: bool) -> None:
        """Take in hand what is due before the next sweep: at once what is due now, on a timer the rest."""
        for gone in [s for s in self._lanes if self._subscriptions.subscriber(s) is None]:
            for task in self._lanes.pop(gone).tasks:  # a deleted subscription's workers
                task.cancel()
        now = time.time()
        due = await asyncio.to_thread(self._store.due, now + self.settings.sweep, self.settings.sweep_batch)
        fresh: list[DeliveryRecord] = []
        for delivery in due:
            if delivery.id in self._held:
                handle = self._held[delivery.id]
                if handle is None:
                    continue  # queued or in flight
                handle.cancel()  # waiting for a retry, but made due now (a redelivery)
            subscriber = self._subscriptions.subscriber(delivery.subscription_id)
            if subscriber is None or not subscriber.record.enabled:
                continue  # waits in the outbox until its subscription is enabled again
            fresh.append(delivery)
        if fresh:
            until = now + self.settings.schedule.delays[0] if self.settings.schedule.delays else now
            ids = [d.id for d in fresh]
            self._writer.submit(lambda tx: WebhookStore.lease(tx, ids, self._owner, until))
            for delivery in fresh:
                wait = (delivery.next_attempt_at or now) - time.time()
                if wait > 0:
                    self._held[delivery.id] = self._loop.call_later(wait, self._retry, delivery)
                else:
                    self._enqueue(delivery)
        if prune:
            before = now - self.settings.retention
            self._writer.submit(lambda tx: log.debug("pruned %d deliveries", WebhookStore.prune(tx, before)))

    async def _work(self, queue: asyncio.Queue[DeliveryRecord]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._attempt(delivery)
            except Exception:
                log.exception("webhook delivery %s failed unexpectedly", delivery.id)
                self._held.pop(delivery.id, None)

    async def _attempt(self, delivery: DeliveryRecord) -> None:
        subscriber = self._subscriptions.subscriber(delivery.subscription_id)
        if subscriber is None or not subscriber.record.enabled:
            self._held.pop(delivery.id, None)  # deleted, or disabled: it waits in the outbox
            return
        body = delivery.body
        if body is None:
            body = await asyncio.to_thread(self._store.body, delivery.id)
            if body is None:  # deleted meanwhile
                self._held.pop(delivery.id, None)
                return
        number = delivery.attempts + 1
        started = time.time()
        clock = time.perf_counter()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            target = parse_target(subscriber.record.url)
            headers = signature_headers(delivery.id, int(started), body, subscriber.keys(started))
            answer = await self._client.post(target, lambda: self._resolve(target), headers, body)
            status = answer.status
            if not 200 <= status < 300:
                error = f"HTTP {status}" + (" (a redirect, not followed)" if 300 <= status < 400 else "")
                retry_after = _retry_after(answer.headers.get("retry-after"), started)
        except (TargetRefused, DeliveryError) as exc:
            error = str(exc)
        attempt = WebhookAttempt(number, started, status, error, (time.perf_counter() - clock) * 1000)
        outcome: DeliveryStatus
        next_at: float | None = None
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
        elif status == 410:
            outcome = "failed"
            reason = f"the endpoint answered 410 Gone to delivery {delivery.id}"
            self._loop.run_in_executor(None, self._subscriptions.disable, delivery.subscription_id, reason)
        else:
            delay = self.settings.schedule.next_delay(number, retry_after)
            if delay is None:
                outcome = "failed"
                log.warning(
                    "webhook %s: delivery %s failed after %d attempts (%s)", subscriber.id, delivery.id, number, error
                )
            else:
                outcome = "pending"
                next_at = started + delay
        self._record(
            lambda tx: WebhookStore.record_attempt(tx, delivery.id, attempt, status=outcome, next_attempt_at=next_at)
        )
        if outcome == "pending" and next_at is not None:
            again = replace(delivery, attempts=number, body=body, next_attempt_at=next_at)
            self._held[delivery.id] = self._loop.call_later(next_at - time.time(), self._retry, again)
        else:
            self._held.pop(delivery.id, None)

    def _record(self, write: Write) -> None:
        """Hand ``write`` to the store's writer with the others of this turn of the loop: one
        hand-over (one wake of the writer thread) for all the attempts that ended together."""
        if not self._records:
            self._loop.call_soon(self._flush_records)
        self._records.append(write)

    def _flush_records(self) -> None:
        writes, self._records = self._records, []

        def all_of(tx: Transaction) -> None:
            for write in writes:
                write(tx)

        self._writer.submit(all_of)

    def _retry(self, delivery: DeliveryRecord) -> None:
        if self._held.get(delivery.id) is not None:
            self._enqueue(delivery)

    async def _resolve(self, target: Target) -> list[str]:
        try:
            infos = await self._loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefused(f"cannot resolve {target.host}: {exc}") from exc
        return check_addresses(target.host, (str(i[4][0]) for i in infos), self.settings.allow_private)


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delay-seconds or an HTTP date); None without one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    return None
