"""Delivery leases on one outbox shared by instances, on each engine: what one writes or claims no other claims
until its lease lapses; renewal keeps it; a finished delivery's lease is let go, a pending one's
kept; release hands pending ones back (and tells other instances to sweep)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from bridge.store import Store
from bridge.store.changes import versions
from bridge.store.webhooks import WebhookAttempt, WebhookStore
from tests.store.test_webhooks import SUBSCRIPTION, _delivery


@pytest.fixture
def outbox(store_target: str) -> Iterator[tuple[WebhookStore, WebhookStore]]:
    """The outbox as two instances see it, each over its own connections to one store."""
    with Store.open(store_target) as a, Store.open(store_target) as b:
        a.webhooks.insert(SUBSCRIPTION)
        yield a.webhooks, b.webhooks


def _write(store: WebhookStore, write: object) -> None:
    with store._database.transaction() as tx:
        write(tx)  # type: ignore[operator]


def _claim(store: WebhookStore, owner: str, now: float, lease: float = 30.0) -> list[str]:
    return [d.id for d in store.claim(owner, now=now, due_by=now, until=now + lease, limit=100)]


def test_a_delivery_written_leased_is_claimed_by_no_other_until_its_lease_lapses(
    outbox: tuple[WebhookStore, WebhookStore],
) -> None:
    a, b = outbox
    _write(a, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1)], ("A", 140.0)))
    assert _claim(b, "B", 139.0) == []
    assert _claim(a, "A", 139.0) == []  # nor by its holder: it has it in hand already
    assert _claim(b, "B", 141.0) == ["msg_001"]  # A's lease lapsed: A died
    assert _claim(a, "A", 142.0) == []


def test_a_disabled_subscriptions_deliveries_are_claimed_by_nobody(outbox: tuple[WebhookStore, WebhookStore]) -> None:
    a, b = outbox
    _write(a, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1)]))
    _write(a, lambda tx: WebhookStore.disable(tx, SUBSCRIPTION.id, "HTTP 410"))
    assert _claim(b, "B", 150.0) == []
    assert a.update(SUBSCRIPTION)  # enabled again
    assert _claim(b, "B", 150.0) == ["msg_001"]


def test_renewal_keeps_a_lease_past_its_first_term(outbox: tuple[WebhookStore, WebhookStore]) -> None:
    a, b = outbox
    _write(a, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1), _delivery(2)], ("A", 140.0)))
    with a._database.transaction() as tx:
        assert WebhookStore.renew(tx, "A", 300.0) == 2
    assert _claim(b, "B", 200.0) == []
    assert _claim(b, "B", 301.0) == ["msg_001", "msg_002"]


def test_of_many_instances_claiming_at_once_each_delivery_goes_to_exactly_one(store_target: str) -> None:
    stores = [Store.open(store_target) for _ in range(4)]
    try:
        stores[0].webhooks.insert(SUBSCRIPTION)
        _write(stores[0].webhooks, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(n) for n in range(1, 41)]))
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda n: _claim(stores[n].webhooks, f"I{n}", 500.0), range(4)))
    finally:
        for store in stores:
            store.close()
    claimed = [d for ids in got for d in ids]
    assert sorted(claimed) == [f"msg_{n:03d}" for n in range(1, 41)]  # each once, none left out


def test_a_retried_delivery_keeps_its_lease_and_a_finished_one_lets_it_go(
    outbox: tuple[WebhookStore, WebhookStore],
) -> None:
    a, b = outbox
    _write(a, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1), _delivery(2)], ("A", 400.0)))
    refused = WebhookAttempt(1, 150.0, 503, "HTTP 503", 1.0)
    _write(a, lambda tx: WebhookStore.record_attempt(tx, "msg_001", refused, status="pending", next_attempt_at=160.0))
    delivered = WebhookAttempt(1, 150.0, 200, None, 1.0)
    _write(
        a, lambda tx: WebhookStore.record_attempt(tx, "msg_002", delivered, status="delivered", next_attempt_at=None)
    )
    assert _claim(b, "B", 170.0) == []  # the retry is still A's
    with a._database.transaction() as tx:
        WebhookStore.let_go(tx, "msg_001", "A")  # A puts it down (its subscription was disabled)
    assert _claim(b, "B", 170.0) == ["msg_001"]
    with a._database.transaction() as tx:
        (lease,) = tx.query("SELECT lease_owner FROM webhook_deliveries WHERE id = 'msg_002'")
    assert lease == (None,)


def test_release_hands_pending_deliveries_back_at_once_and_bumps_the_deliveries_counter(
    outbox: tuple[WebhookStore, WebhookStore],
) -> None:
    a, b = outbox
    _write(a, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1)], ("A", 400.0)))
    before = versions(a._database)["deliveries"]
    assert a.release("A") == 1
    assert versions(a._database)["deliveries"] == before + 1
    assert a.release("A") == 0
    assert versions(a._database)["deliveries"] == before + 1  # nothing handed back: nobody to wake
    assert _claim(b, "B", 150.0) == ["msg_001"]


def test_on_postgresql_a_claim_passes_over_rows_another_claim_has_locked(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.webhooks.insert(SUBSCRIPTION)
        _write(store.webhooks, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1), _delivery(2)]))
        with psycopg.connect(postgres_url) as other:  # another instance, mid-claim
            other.execute("SELECT id FROM webhook_deliveries WHERE id = 'msg_001' FOR UPDATE")
            with ThreadPoolExecutor(1) as pool:  # waiting on the lock instead would not end in time
                claimed = pool.submit(_claim, store.webhooks, "B", 500.0).result(timeout=10)
            other.rollback()
        assert claimed == ["msg_002"]
        assert _claim(store.webhooks, "B", 501.0) == ["msg_001"]
