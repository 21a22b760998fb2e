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

Several instances may share the outbox: each delivery is leased to one (``bridge.store.webhooks``).
The outbox writes this instance's deliveries leased to it; the sweep claims only deliveries
whose lease is free or lapsed; every third of a lease this instance renews all of its leases,
those waiting for a retry included, so they lapse only when it stops renewing them: it died,
and another instance's sweep takes them over. ``hand_back()`` lets them go at a graceful stop.
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

from bridge.config import DEFAULT_DELIVERY_LEASE
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
    #: Seconds a delivery's lease lasts unless renewed: how long the deliveries of an instance that
    #: died wait before another takes them over.
    lease: float = DEFAULT_DELIVERY_LEASE


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
        *,
        owner: str | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._store = store
        self._writer = writer
        self._loop = loop
        self.settings = settings or DispatchSettings()
        self._client = client or WebhookClient()
        #: This instance, as the holder of delivery leases: the same name after a restart takes back
        #: at once what the instance held when it died (``start``); by default, a name of its own.
        self.owner = owner or "instance-" + new_event_id()
        self._lanes: dict[str, _Lane] = {}
        #: Deliveries in hand: queued or in flight (None), or waiting for a retry (its timer).
        self._held: dict[str, asyncio.TimerHandle | None] = {}
        #: Deliveries being attempted now; ``_quiet`` is set when that falls to none.
        self._attempting: set[str] = set()
        self._quiet = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._handed_back = False
        self._wake = asyncio.Event()
        self._records: list[Write] = []
        subscriptions.add_listener(self.poke)

    # -- from anywhere -------------------------------------------------------------------------

    def lease(self) -> tuple[str, float] | None:
        """A new lease for deliveries this instance writes (its owner, and until when it lasts);
        None once it handed its deliveries back: any instance may take those it writes after."""
        if self._handed_back:
            return None
        return self.owner, time.time() + self.settings.lease

    def submit(self, deliveries: Sequence[DeliveryRecord]) -> None:
        """Deliver these (committed) deliveries, leased to this instance; on the loop's thread."""
        if self._handed_back:
            return  # written without a lease (``lease``): another instance's sweep takes them
        for delivery in deliveries:
            if delivery.id not in self._held:
                self._enqueue(delivery)

    def poke(self) -> None:
        """Sweep the outbox soon (something was made pending); from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to deliver
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- on the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._store.release, self.owner)  # a predecessor's, held when it died
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="webhook-sweeper")
        self._renewer = asyncio.create_task(self._renew_forever(), name="webhook-lease-renewer")

    async def hand_back(self, timeout: float = 10.0) -> int:
        """Stop taking deliveries and let go of this instance's leases, for a graceful shutdown;
        how many pending deliveries it let go.

        Attempts in flight may finish (up to ``timeout`` seconds) and are recorded first; what is
        queued or waiting for a retry is not attempted here, and another instance's next sweep
        takes it at once rather than after the lease would have lapsed. ``close()`` still follows.
        """
        self._handed_back = True
        for task in (self._sweeper, self._renewer):
            if task is not None:
                task.cancel()
        for handle in self._held.values():
            if handle is not None:
                handle.cancel()
        for lane in self._lanes.values():
            while not lane.queue.empty():
                lane.queue.get_nowait()
        if self._attempting:
            self._quiet.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can lose a cancel
                    await self._quiet.wait()
        self._flush_records()
        error = await self._write_waited(lambda _tx: None, timeout)  # the attempts' records, committed
        if error is not None:
            log.warning("webhook deliveries keep their leases until they lapse: the store did not answer (%s)", error)
            return 0
        count = await asyncio.to_thread(self._store.release, self.owner)
        self._held.clear()
        if count:  # most stops hold none: nothing to say
            log.info("handed back %d pending webhook deliveries", count)
        return count

    async def close(self) -> None:
        tasks = [t for lane in self._lanes.values() for t in lane.tasks]
        tasks += [t for t in (self._sweeper, self._renewer) if t is not None]
        for task in tasks:
            task.cancel()
        for handle in self._held.values():
            if handle is not None:
                handle.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._client.close()

    async def _write_waited(self, write: Write, timeout: float) -> BaseException | None:
        """Hand ``write`` to the writer and wait until it is committed; the error if it failed or took too long."""
        done: asyncio.Future[BaseException | None] = self._loop.create_future()

        def kept(error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                self._loop.call_soon_threadsafe(_settle, done, error)

        self._writer.submit(write, kept)
        try:
            return await asyncio.wait_for(done, timeout)
        except TimeoutError as exc:
            return exc

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
                # Often enough that a lapsed lease (its instance died) is taken over soon after.
                # Not wait_for: on 3.11 a cancel that comes as the wait ends is lost, and this loops on.
                async with asyncio.timeout(min(self.settings.sweep, self.settings.lease / 2)):
                    await self._wake.wait()
            self._wake.clear()

    async def _renew_forever(self) -> None:
        """Extend this instance's leases every third of a lease, while it holds any."""
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            if self._held:
                self._writer.submit(self._renewal(time.time() + self.settings.lease))

    def _renewal(self, until: float) -> Write:
        def renew(tx: Transaction) -> None:
            WebhookStore.renew(tx, self.owner, until)

        return renew

    async def _sweep(self, *, prune: bool) -> None:
        """Take in hand what is due before the next sweep: at once what is due now, on a timer the rest."""
        for gone in [s for s in self._lanes if self._subscriptions.subscriber(s) is None]:
            for task in self._lanes.pop(gone).tasks:  # a deleted subscription's workers
                task.cancel()
        now = time.time()
        due = await asyncio.to_thread(
            lambda: self._store.claim(
                self.owner,
                now=now,
                due_by=now + self.settings.sweep,
                until=now + self.settings.lease,
                limit=self.settings.sweep_batch,
            )
        )
        if self._handed_back:  # it stopped while claiming: let these go at once too
            await asyncio.to_thread(self._store.release, self.owner)
            return
        fresh: list[DeliveryRecord] = []
        for delivery in due:
            if delivery.id in self._held:
                handle = self._held[delivery.id]
                if handle is None:
                    continue  # queued or in flight
                handle.cancel()  # waiting for a retry, but made due now (a redelivery)
            subscriber = self._subscriptions.subscriber(delivery.subscription_id)
            if subscriber is None or not subscriber.record.enabled:
                self._drop(delivery.id)  # waits in the outbox until its subscription is enabled again
                continue
            fresh.append(delivery)
        if fresh:
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
            self._attempting.add(delivery.id)
            try:
                await self._attempt(delivery)
            except Exception:
                log.exception("webhook delivery %s failed unexpectedly", delivery.id)
                self._drop(delivery.id)  # a later sweep (here or elsewhere) tries it again
            finally:
                self._attempting.discard(delivery.id)
                if not self._attempting:
                    self._quiet.set()

    async def _attempt(self, delivery: DeliveryRecord) -> None:
        subscriber = self._subscriptions.subscriber(delivery.subscription_id)
        if subscriber is None or not subscriber.record.enabled:
            self._drop(delivery.id)  # deleted, or disabled: it waits in the outbox
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
        if outcome == "pending" and next_at is not None and not self._handed_back:
            again = replace(delivery, attempts=number, body=body, next_attempt_at=next_at)
            self._held[delivery.id] = self._loop.call_later(next_at - time.time(), self._retry, again)
        else:
            self._held.pop(delivery.id, None)

    def _drop(self, delivery_id: str) -> None:
        """Put down a delivery this instance will not attempt, and let go of its lease."""
        self._held.pop(delivery_id, None)
        self._record(lambda tx: WebhookStore.let_go(tx, delivery_id, self.owner))

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


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)


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
