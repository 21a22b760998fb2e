"""The webhook outbox: a feed sink that keeps, for each event, one delivery per matching subscription.

The rows are written through the store's writer thread (group commit), and the sink hands the
feed a receipt, a future of the bridge's loop completed once the commit is done; the gateway
awaits it before answering the call, so a caller that has its answer knows the event is kept,
and a ``kill -9`` right after loses nothing. Only after the commit are the deliveries handed to
the dispatcher, which therefore never attempts a delivery that is not yet in the outbox. They
are written leased to this instance's dispatcher, so no other instance attempts them as well.

An event no enabled subscription wants costs a loop over the (cached) subscriptions and no more;
the outbox makes the feed hear exactly the kinds its subscriptions want, with calls' params and
results when one of them includes them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from bridge.events import Event, Receipt, new_event_id
from bridge.feed import Feed, WireEvent
from bridge.feed.feed import Following
from bridge.store.webhooks import DeliveryRecord, WebhookStore
from bridge.store.writer import StoreWriter
from bridge.webhooks.subscriptions import Subscriber, WebhookSubscriptions

__all__ = ["WebhookOutbox"]

log = logging.getLogger(__name__)

Dispatch = Callable[[Sequence[DeliveryRecord]], None]
#: A lease for deliveries about to be written: the instance that holds it, and until when; None: no lease.
Lease = Callable[[], tuple[str, float] | None]


class WebhookOutbox:
    """The feed's sink for webhooks; see the module's notes."""

    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        feed: Feed,
        writer: StoreWriter,
        loop: asyncio.AbstractEventLoop,
        dispatch: Dispatch,
        lease: Lease,
    ) -> None:
        self._subscriptions = subscriptions
        self._feed = feed
        self._writer = writer
        self._loop = loop
        self._dispatch = dispatch
        self._lease = lease
        self._lock = threading.Lock()
        self._active: tuple[Subscriber, ...] = ()
        self._following: Following | None = None
        subscriptions.add_listener(self._follow)
        feed.add_sink(self)
        self._follow()

    def _follow(self) -> None:
        """Hear what the enabled subscriptions want, now that they changed."""
        active = self._subscriptions.active
        kinds: set[type[Event]] = set()
        for subscriber in active:
            kinds |= subscriber.filter.kinds()
        payload = any(s.record.include_payload for s in active)
        with self._lock:
            following = self._feed.follow(kinds, payload=payload) if active else None
            old, self._following, self._active = self._following, following, active
        if old is not None:
            old.close()

    def close(self) -> None:
        with self._lock:
            old, self._following, self._active = self._following, None, ()
        if old is not None:
            old.close()

    def __call__(self, wire: WireEvent) -> Receipt | None:
        matched = [s for s in self._active if s.filter.matches(wire)]
        if not matched:
            return None
        now = time.time()
        at = wire.document(True)["time"]
        deliveries = [
            DeliveryRecord(
                id="msg_" + new_event_id(),
                subscription_id=s.id,
                event_id=wire.id,
                event_type=wire.type,
                event_time=at,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                last_status=None,
                last_error=None,
                created_at=now,
                finished_at=None,
                body=wire.json(s.record.include_payload),
            )
            for s in matched
        ]
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        future: asyncio.Future[None] | None = self._loop.create_future() if on_loop else None

        def kept(error: BaseException | None) -> None:
            self._loop.call_soon_threadsafe(self._kept, deliveries, future, error)

        lease = self._lease()
        self._writer.submit(lambda tx: WebhookStore.add_deliveries(tx, deliveries, lease), kept)
        return future

    def _kept(
        self, deliveries: list[DeliveryRecord], future: asyncio.Future[None] | None, error: BaseException | None
    ) -> None:
        if error is None:
            self._dispatch(deliveries)
        else:  # the call still gets its answer: its tool ran, and failing it would invite a retry
            log.error("webhook deliveries of event %s could not be kept: %s", deliveries[0].event_id, error)
        if future is not None and not future.done():
            future.set_result(None)
