"""The webhook tables: subscriptions kept whole, the outbox's deliveries through their attempts,
redelivery by id, event or time, and pruning of finished deliveries only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bridge.store import Store
from bridge.store.webhooks import DeliveryRecord, WebhookAttempt, WebhookRecord, WebhookStore

SUBSCRIPTION = WebhookRecord(
    id="wh_1",
    url="https://hooks.example/x",
    description=None,
    types=("tool.call",),
    servers=None,
    include_payload=True,
    enabled=True,
    disabled_reason=None,
    source="api",
    secret="whsec_c2VjcmV0",
    previous_secret=None,
    previous_until=None,
    created_at="2026-12-06T00:00:00.000+00:00",
    updated_at="2026-12-06T00:00:00.000+00:00",
)


def _delivery(n: int, at: str = "2026-12-06T00:00:00.000Z") -> DeliveryRecord:
    return DeliveryRecord(
        id=f"msg_{n:03d}",
        subscription_id="wh_1",
        event_id=f"EV{n:03d}",
        event_type="tool.call.finished",
        event_time=at,
        status="pending",
        attempts=0,
        next_attempt_at=100.0 + n,
        last_status=None,
        last_error=None,
        created_at=100.0 + n,
        finished_at=None,
        body=b'{"id": "EV%03d"}' % n,
    )


@pytest.fixture
def store(store_target: str) -> Iterator[WebhookStore]:
    with Store.open(store_target) as kept:
        kept.webhooks.insert(SUBSCRIPTION)
        yield kept.webhooks


def _write(store: WebhookStore, write: object) -> None:
    with store._database.transaction() as tx:  # the writer thread's job, done inline
        write(tx)  # type: ignore[operator]


def _due(store: WebhookStore, by: float) -> list[DeliveryRecord]:
    """What an instance claims as due by ``by``, on a lease lapsed at once: each look sees the outbox afresh."""
    return store.claim("instance-a", now=by, due_by=by, until=0.0, limit=10)


def test_a_subscription_is_kept_whole_and_changed_and_deleted_with_its_deliveries(store: WebhookStore) -> None:
    assert store.subscriptions() == [SUBSCRIPTION]
    rotated = replace(SUBSCRIPTION, secret="whsec_bmV3", previous_secret=SUBSCRIPTION.secret, previous_until=5.0)
    assert store.update(rotated)
    kept = store.subscription("wh_1")
    assert kept is not None
    assert (kept.secret, kept.previous_secret, kept.previous_until) == ("whsec_bmV3", SUBSCRIPTION.secret, 5.0)
    _write(store, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1)]))
    assert store.delete("wh_1")
    assert store.subscription("wh_1") is None
    assert store.deliveries("wh_1", limit=10) == []
    assert not store.delete("wh_1")


def test_deliveries_come_due_in_order_and_attempts_move_them_on(store: WebhookStore) -> None:
    _write(store, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1), _delivery(2), _delivery(3)]))
    assert [d.id for d in _due(store, 102.0)] == ["msg_001", "msg_002"]
    assert _due(store, 101.0)[0].body == b'{"id": "EV001"}'
    failed = WebhookAttempt(1, 150.0, 500, "HTTP 500", 3.0)
    _write(store, lambda tx: WebhookStore.record_attempt(tx, "msg_001", failed, status="pending", next_attempt_at=200))
    delivered = WebhookAttempt(1, 150.0, 204, None, 2.0)
    _write(
        store,
        lambda tx: WebhookStore.record_attempt(tx, "msg_002", delivered, status="delivered", next_attempt_at=None),
    )
    assert [d.id for d in _due(store, 199.0)] == ["msg_003"]
    one = store.delivery("wh_1", "msg_001")
    assert one is not None
    assert (one.status, one.attempts, one.next_attempt_at, one.last_status, one.last_error) == (
        "pending",
        1,
        200.0,
        500,
        "HTTP 500",
    )
    assert store.attempts("msg_001") == [failed]
    assert [d.id for d in store.deliveries("wh_1", limit=10, status="delivered")] == ["msg_002"]
    assert [d.id for d in store.deliveries("wh_1", limit=2, before="msg_003")] == ["msg_002", "msg_001"]


def test_redelivery_chooses_by_id_event_or_time_and_starts_afresh(store: WebhookStore) -> None:
    early, late = "2026-12-06T00:00:00.000Z", "2026-12-06T01:00:00.000Z"
    _write(
        store, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1, early), _delivery(2, late), _delivery(3, late)])
    )
    dead = WebhookAttempt(3, 150.0, 500, "HTTP 500", 1.0)
    for n in (1, 2, 3):
        _write(
            store,
            lambda tx, n=n: WebhookStore.record_attempt(
                tx, f"msg_{n:03d}", dead, status="failed", next_attempt_at=None
            ),
        )
    assert store.redeliver("wh_1", 500.0, delivery_ids=["msg_001"]) == 1
    assert store.redeliver("wh_1", 500.0, event_ids=["EV002"]) == 1
    assert store.redeliver("wh_1", 500.0, since="2026-12-06T00:30:00.000Z") == 2
    again = store.delivery("wh_1", "msg_003")
    assert again is not None
    assert (again.status, again.attempts, again.next_attempt_at, again.finished_at) == ("pending", 0, 500.0, None)
    assert store.attempts("msg_003") == []
    assert store.redeliver("other", 500.0, delivery_ids=["msg_001"]) == 0


def test_pruning_drops_only_deliveries_finished_before_the_cut(store: WebhookStore) -> None:
    _write(store, lambda tx: WebhookStore.add_deliveries(tx, [_delivery(1), _delivery(2), _delivery(3)]))
    for n, at in ((1, 10.0), (2, 1000.0)):
        done = WebhookAttempt(1, at, 200, None, 1.0)
        _write(
            store,
            lambda tx, n=n, done=done: WebhookStore.record_attempt(
                tx, f"msg_{n:03d}", done, status="delivered", next_attempt_at=None
            ),
        )
    with store._database.transaction() as tx:
        assert WebhookStore.prune(tx, 500.0) == 1
    assert sorted(d.id for d in store.deliveries("wh_1", limit=10)) == ["msg_002", "msg_003"]
    assert store.attempts("msg_001") == []
