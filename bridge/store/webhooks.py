"""Webhook subscriptions, and the outbox that is also their delivery log.

A subscription row holds its signing secret (and, during a rotation, the previous one with the
time it stops signing): the database is the operator's own, and nothing read from it is logged,
nor answered after the secret was first shown. A delivery row is one event owed to one
subscription: its body as that subscription gets it, its status (``pending``, ``delivered``,
``failed``), attempts so far, when the next is due, and how the last went; each attempt also
gets a row of its own. Rows of finished deliveries are pruned after a retention period.

Deliveries are written on the hot path, so their writes are static methods taking the
``StoreWriter``'s transaction; subscriptions change rarely and use transactions of their own.
Several instances may share one outbox; each delivery is attempted by one of them, the holder
of its lease (``lease_owner``, until ``lease_until``). The instance that writes a delivery holds
its lease from the start; it renews its leases while it lives (``renew``), keeping them through
retries, and lets them go when a delivery is finished or it shuts down (``release``). Any
instance ``claim``s pending deliveries whose lease is free or lapsed (their holder died): each
claimed by exactly one, for the conditional UPDATE of a row changes it for one transaction only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.store.changes import bump
from bridge.store.database import Database, Row, Transaction, Value, as_number, as_optional_text, as_text, timestamp
from bridge.store.errors import StoreError

__all__ = [
    "DeliveryRecord",
    "DeliveryStatus",
    "WebhookAttempt",
    "WebhookRecord",
    "WebhookStore",
]

DeliveryStatus = Literal["pending", "delivered", "failed"]
_STATUSES: dict[str, DeliveryStatus] = {"pending": "pending", "delivered": "delivered", "failed": "failed"}

_SUB_LOAD = (
    "SELECT id, url, description, types, servers, include_payload, "
    "enabled, disabled_reason, source, secret, previous_secret, previous_until, created_at,"
    " updated_at FROM webhook_subscriptions ORDER BY created_at, id"
)
_SUB_GET = (
    "SELECT id, url, description, types, servers, include_payload, "
    "enabled, disabled_reason, source, secret, previous_secret, previous_until, created_at,"
    " updated_at FROM webhook_subscriptions WHERE id = ?"
)
_SUB_BY_SOURCE = (
    "SELECT id, url, description, types, servers, include_payload, "
    "enabled, disabled_reason, source, secret, previous_secret, previous_until, created_at,"
    " updated_at FROM webhook_subscriptions WHERE source = ?"
    " ORDER BY created_at, id"
)
_SUB_INSERT = (
    "INSERT INTO webhook_subscriptions (id, url, description, types, servers, include_payload, "
    "enabled, disabled_reason, source, secret, previous_secret, previous_until, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SUB_UPDATE = (
    "UPDATE webhook_subscriptions SET url = ?, description = ?, types = ?, servers = ?, include_payload = ?,"
    " enabled = ?, disabled_reason = ?, secret = ?, previous_secret = ?, previous_until = ?, updated_at = ?"
    " WHERE id = ?"
)
_SUB_DISABLE = "UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?"
_SUB_DELETE = "DELETE FROM webhook_subscriptions WHERE id = ?"
_ATTEMPTS_OF_SUB_DELETE = (
    "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = ?)"
)
_DELIVERIES_OF_SUB_DELETE = "DELETE FROM webhook_deliveries WHERE subscription_id = ?"

_DEL_INSERT = (
    "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, event_time, body, status, attempts,"
    " next_attempt_at, created_at, lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)"
)
_DEL_GET = (
    "SELECT id, subscription_id, event_id, event_type, event_time, status, "
    "attempts, next_attempt_at, last_status, last_error, created_at,"
    " finished_at FROM webhook_deliveries WHERE subscription_id = ? AND id = ?"
)
_DEL_PAGE = (
    "SELECT id, subscription_id, event_id, event_type, event_time, status, "
    "attempts, next_attempt_at, last_status, last_error, created_at,"
    " finished_at FROM webhook_deliveries WHERE subscription_id = ?"
)
_DEL_BODY = "SELECT body FROM webhook_deliveries WHERE id = ?"
_DEL_COUNTS = "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
#: Both read "the lease is free or lapsed". A claimer's own leases are not claimed again: what
#: it holds is in its hands already (in flight, waiting for a retry, finished but not yet written).
_DEL_CLAIMABLE = (
    "SELECT id, subscription_id, event_id, event_type, event_time, status, "
    "attempts, next_attempt_at, last_status, last_error, created_at, finished_at,"
    " body FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
    " AND (lease_owner IS NULL OR lease_until < ?)"
    # A disabled subscription's deliveries wait in the outbox, taken by nobody, until it is enabled.
    " AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE enabled = 1)"
    " ORDER BY next_attempt_at, id LIMIT ?"
)
#: PostgreSQL: rows another instance's claim has locked are passed over, not waited for.
_DEL_CLAIMABLE_SKIPPING = _DEL_CLAIMABLE + " FOR UPDATE SKIP LOCKED"
_DEL_CLAIM = (
    "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ? AND status = 'pending'"
    " AND (lease_owner IS NULL OR lease_until < ?)"
)
_DEL_RENEW = "UPDATE webhook_deliveries SET lease_until = ? WHERE lease_owner = ? AND status = 'pending'"
_DEL_RELEASE = (
    "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND status = 'pending'"
)
_DEL_RELEASE_ONE = (
    "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?"
)
_DEL_PENDING_OF = (
    "SELECT id, subscription_id, event_id, event_type, event_time, status, "
    "attempts, next_attempt_at, last_status, last_error, created_at, finished_at,"
    " body FROM webhook_deliveries WHERE status = 'pending' AND subscription_id = ?"
    " ORDER BY id LIMIT ?"
)
_DEL_ATTEMPTED = (
    "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?,"
    " finished_at = ? WHERE id = ?"
)
#: A finished delivery's lease is let go; a pending one's stays with the instance that retries it.
_DEL_FINISHED = "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ?"
_ATTEMPT_INSERT = (
    "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (delivery_id, attempt) DO NOTHING"
)
_ATTEMPTS = (
    "SELECT attempt, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt"
)
_REDELIVER = (
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, finished_at = NULL,"
    " lease_owner = NULL, lease_until = NULL WHERE subscription_id = ?"
)
_ATTEMPTS_OF_REDELIVERED = "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE "
_PRUNE_ATTEMPTS = (
    "DELETE FROM webhook_attempts WHERE delivery_id IN"
    " (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < ?)"
)
_PRUNE = "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < ?"


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """One subscription as kept, secrets included."""

    id: str
    url: str
    description: str | None
    #: Event type names and groups (``tool.call``); None for every type.
    types: tuple[str, ...] | None
    #: Server names; None for every server.
    servers: tuple[str, ...] | None
    include_payload: bool
    enabled: bool
    disabled_reason: str | None
    #: ``api``, or ``environment`` for the subscription ``WEBHOOK_URL`` makes at start.
    source: str
    secret: str
    previous_secret: str | None
    #: Seconds since the epoch when ``previous_secret`` stops signing.
    previous_until: float | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One event owed to one subscription; ``body`` only where it was read (the outbox's own reads)."""

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    event_time: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    finished_at: float | None
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at a delivery: when, the HTTP status (None without an answer), what went wrong."""

    attempt: int
    at: float
    status: int | None
    error: str | None
    duration_ms: float


class WebhookStore:
    """The ``webhook_*`` tables (schema version 4 and later)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- subscriptions -------------------------------------------------------------------------

    def subscriptions(self) -> list[WebhookRecord]:
        with self._database.transaction() as tx:
            return [_subscription(row) for row in tx.query(_SUB_LOAD)]

    def subscription(self, subscription_id: str) -> WebhookRecord | None:
        with self._database.transaction() as tx:
            rows = tx.query(_SUB_GET, (subscription_id,))
        return _subscription(rows[0]) if rows else None

    def by_source(self, source: str) -> list[WebhookRecord]:
        with self._database.transaction() as tx:
            return [_subscription(row) for row in tx.query(_SUB_BY_SOURCE, (source,))]

    def insert(self, record: WebhookRecord) -> None:
        with self._database.transaction() as tx:
            tx.execute(_SUB_INSERT, _subscription_columns(record))
            bump(tx, "webhooks")

    def update(self, record: WebhookRecord) -> bool:
        """Keep ``record`` over the subscription of its id; False if there is none."""
        with self._database.transaction() as tx:
            bump(tx, "webhooks")
            return (
                tx.execute(
                    _SUB_UPDATE,
                    (
                        record.url,
                        record.description,
                        _names(record.types),
                        _names(record.servers),
                        int(record.include_payload),
                        int(record.enabled),
                        record.disabled_reason,
                        record.secret,
                        record.previous_secret,
                        record.previous_until,
                        timestamp(),
                        record.id,
                    ),
                )
                > 0
            )

    def delete(self, subscription_id: str) -> bool:
        """Forget the subscription, its deliveries and their attempts; False if there was none."""
        with self._database.transaction() as tx:
            tx.execute(_ATTEMPTS_OF_SUB_DELETE, (subscription_id,))
            tx.execute(_DELIVERIES_OF_SUB_DELETE, (subscription_id,))
            bump(tx, "webhooks")
            return tx.execute(_SUB_DELETE, (subscription_id,)) > 0

    @staticmethod
    def disable(tx: Transaction, subscription_id: str, reason: str) -> None:
        tx.execute(_SUB_DISABLE, (reason, timestamp(), subscription_id))
        bump(tx, "webhooks")

    # -- the outbox ----------------------------------------------------------------------------

    @staticmethod
    def add_deliveries(
        tx: Transaction, deliveries: Sequence[DeliveryRecord], lease: tuple[str, float] | None = None
    ) -> None:
        """Keep new deliveries, leased to ``lease`` (owner, until) when given."""
        owner, until = lease if lease is not None else (None, None)
        for d in deliveries:
            body = (d.body or b"").decode()
            tx.execute(
                _DEL_INSERT,
                (
                    d.id,
                    d.subscription_id,
                    d.event_id,
                    d.event_type,
                    d.event_time,
                    body,
                    d.next_attempt_at,
                    d.created_at,
                    owner,
                    until,
                ),
            )

    def claim(self, owner: str, *, now: float, due_by: float, until: float, limit: int) -> list[DeliveryRecord]:
        """Lease to ``owner`` until ``until`` the pending deliveries of enabled subscriptions due by
        ``due_by`` whose lease is free or lapsed by ``now``; those it got, soonest first, bodies included.

        Each row is taken by a conditional UPDATE in one transaction: of two instances claiming
        at once, the second finds the lease taken (SQLite runs one writer at a time; PostgreSQL
        checks the condition again on the row the first one committed), so it gets none of them.
        On PostgreSQL the read also locks the rows it returns (``FOR UPDATE SKIP LOCKED``), so
        instances sweeping together split the due rows between them instead of queueing.
        """
        claimed: list[DeliveryRecord] = []
        select = _DEL_CLAIMABLE_SKIPPING if self._database.dialect == "postgresql" else _DEL_CLAIMABLE
        with self._database.transaction() as tx:
            for row in tx.query(select, (due_by, now, limit)):
                delivery = _delivery(row[:-1], row[-1])
                if tx.execute(_DEL_CLAIM, (owner, until, delivery.id, now)):
                    claimed.append(delivery)
        return claimed

    @staticmethod
    def let_go(tx: Transaction, delivery_id: str, owner: str) -> None:
        """Let go of ``owner``'s lease on one delivery it will not attempt (its subscription is
        disabled or gone): whoever sweeps after the subscription is enabled again takes it."""
        tx.execute(_DEL_RELEASE_ONE, (delivery_id, owner))

    @staticmethod
    def renew(tx: Transaction, owner: str, until: float) -> int:
        """Extend to ``until`` every lease ``owner`` holds on a pending delivery; how many."""
        return tx.execute(_DEL_RENEW, (until, owner))

    def release(self, owner: str) -> int:
        """Let go of every lease ``owner`` holds on a pending delivery (it stops); how many."""
        with self._database.transaction() as tx:
            released = tx.execute(_DEL_RELEASE, (owner,))
            if released:
                bump(tx, "deliveries")
            return released

    @staticmethod
    def record_attempt(
        tx: Transaction,
        delivery_id: str,
        attempt: WebhookAttempt,
        *,
        status: DeliveryStatus,
        next_attempt_at: float | None,
    ) -> None:
        """Write down ``attempt`` and where the delivery stands after it."""
        finished = None if status == "pending" else attempt.at
        tx.execute(
            _ATTEMPT_INSERT,
            (delivery_id, attempt.attempt, attempt.at, attempt.status, attempt.error, attempt.duration_ms),
        )
        tx.execute(
            _DEL_ATTEMPTED,
            (status, attempt.attempt, next_attempt_at, attempt.status, attempt.error, finished, delivery_id),
        )
        if status != "pending":
            tx.execute(_DEL_FINISHED, (delivery_id,))

    def pending_of(self, subscription_id: str, limit: int) -> list[DeliveryRecord]:
        with self._database.transaction() as tx:
            return [_delivery(row[:-1], row[-1]) for row in tx.query(_DEL_PENDING_OF, (subscription_id, limit))]

    def body(self, delivery_id: str) -> bytes | None:
        with self._database.transaction() as tx:
            rows = tx.query(_DEL_BODY, (delivery_id,))
        return as_text(rows[0][0], "webhook_deliveries.body").encode() if rows else None

    def deliveries(
        self,
        subscription_id: str,
        *,
        limit: int,
        before: str | None = None,
        status: DeliveryStatus | None = None,
    ) -> list[DeliveryRecord]:
        """The subscription's deliveries, newest first, without bodies: those with an id below
        ``before`` (a page's cursor) and of ``status`` when given."""
        sql = _DEL_PAGE
        params: list[Value] = [subscription_id]
        if before is not None:
            sql += " AND id < ?"
            params.append(before)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._database.transaction() as tx:
            return [_delivery(row) for row in tx.query(sql, params)]

    def delivery(self, subscription_id: str, delivery_id: str) -> DeliveryRecord | None:
        with self._database.transaction() as tx:
            rows = tx.query(_DEL_GET, (subscription_id, delivery_id))
        return _delivery(rows[0]) if rows else None

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        with self._database.transaction() as tx:
            rows = tx.query(_ATTEMPTS, (delivery_id,))
        return [
            WebhookAttempt(
                attempt=int(as_number(a, "webhook_attempts.attempt")),
                at=as_number(at, "webhook_attempts.at"),
                status=None if s is None else int(as_number(s, "webhook_attempts.status")),
                error=as_optional_text(e, "webhook_attempts.error"),
                duration_ms=as_number(d, "webhook_attempts.duration_ms"),
            )
            for a, at, s, e, d in rows
        ]

    def redeliver(
        self,
        subscription_id: str,
        now: float,
        *,
        delivery_ids: Sequence[str] = (),
        event_ids: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> int:
        """Make the chosen deliveries pending again, due ``now``, with no attempts; how many.

        Chosen: those with the given ids or event ids, or whose event happened within
        [``since``, ``until``] (RFC 3339 in UTC, compared as text).
        """
        where: list[str] = []
        params: list[Value] = []
        if delivery_ids:
            where.append(f"id IN ({', '.join('?' for _ in delivery_ids)})")
            params += list(delivery_ids)
        if event_ids:
            where.append(f"event_id IN ({', '.join('?' for _ in event_ids)})")
            params += list(event_ids)
        if since is not None or until is not None:
            span: list[str] = []
            if since is not None:
                span.append("event_time >= ?")
                params.append(since)
            if until is not None:
                span.append("event_time <= ?")
                params.append(until)
            where.append(" AND ".join(span))
        if not where:
            raise RuntimeError("redeliver needs ids, event ids or a time range")
        chosen = " AND (" + " OR ".join(f"({w})" for w in where) + ")"
        # Only fixed text and placeholders are joined here; every value is a parameter.
        forget = _ATTEMPTS_OF_REDELIVERED + "subscription_id = ?" + chosen + ")"
        with self._database.transaction() as tx:
            tx.execute(forget, (subscription_id, *params))
            made = tx.execute(_REDELIVER + chosen, (now, subscription_id, *params))
            if made:
                bump(tx, "deliveries")
            return made

    @staticmethod
    def prune(tx: Transaction, finished_before: float) -> int:
        """Drop deliveries (and their attempts) finished before ``finished_before``; how many."""
        tx.execute(_PRUNE_ATTEMPTS, (finished_before,))
        return tx.execute(_PRUNE, (finished_before,))

    def counts_by_status(self) -> dict[str, int]:
        """Deliveries kept, by status (``pending`` is the outbox's depth), for ``GET /metrics``."""
        with self._database.transaction() as tx:
            return {str(row[0]): int(str(row[1])) for row in tx.query(_DEL_COUNTS)}


def _names(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else json.dumps(list(names))


def _subscription_columns(record: WebhookRecord) -> tuple[Value, ...]:
    return (
        record.id,
        record.url,
        record.description,
        _names(record.types),
        _names(record.servers),
        int(record.include_payload),
        int(record.enabled),
        record.disabled_reason,
        record.source,
        record.secret,
        record.previous_secret,
        record.previous_until,
        record.created_at,
        record.updated_at,
    )


def _name_list(value: Value, column: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    try:
        decoded = json.loads(as_text(value, column))
    except ValueError as exc:
        raise StoreError(f"column {column} holds text that is not JSON") from exc
    if not isinstance(decoded, list) or not all(isinstance(n, str) for n in decoded):
        raise StoreError(f"column {column} holds JSON that is not a list of names")
    return tuple(decoded)


def _subscription(row: Row) -> WebhookRecord:
    (
        id_,
        url,
        description,
        types,
        servers,
        payload,
        enabled,
        reason,
        source,
        secret,
        previous,
        until,
        made,
        changed,
    ) = row
    return WebhookRecord(
        id=as_text(id_, "webhook_subscriptions.id"),
        url=as_text(url, "webhook_subscriptions.url"),
        description=as_optional_text(description, "webhook_subscriptions.description"),
        types=_name_list(types, "webhook_subscriptions.types"),
        servers=_name_list(servers, "webhook_subscriptions.servers"),
        include_payload=bool(payload),
        enabled=bool(enabled),
        disabled_reason=as_optional_text(reason, "webhook_subscriptions.disabled_reason"),
        source=as_text(source, "webhook_subscriptions.source"),
        secret=as_text(secret, "webhook_subscriptions.secret"),
        previous_secret=as_optional_text(previous, "webhook_subscriptions.previous_secret"),
        previous_until=None if until is None else as_number(until, "webhook_subscriptions.previous_until"),
        created_at=as_text(made, "webhook_subscriptions.created_at"),
        updated_at=as_text(changed, "webhook_subscriptions.updated_at"),
    )


def _delivery(row: Row, body: Value = None) -> DeliveryRecord:
    id_, sub, event_id, event_type, event_time, status, attempts, due, last_status, last_error, made, finished = row
    state = as_text(status, "webhook_deliveries.status")
    if state not in _STATUSES:
        raise StoreError(f"delivery {id_!r} has an unknown status {state!r}")
    return DeliveryRecord(
        id=as_text(id_, "webhook_deliveries.id"),
        subscription_id=as_text(sub, "webhook_deliveries.subscription_id"),
        event_id=as_text(event_id, "webhook_deliveries.event_id"),
        event_type=as_text(event_type, "webhook_deliveries.event_type"),
        event_time=as_text(event_time, "webhook_deliveries.event_time"),
        status=_STATUSES[state],
        attempts=int(as_number(attempts, "webhook_deliveries.attempts")),
        next_attempt_at=None if due is None else as_number(due, "webhook_deliveries.next_attempt_at"),
        last_status=None if last_status is None else int(as_number(last_status, "webhook_deliveries.last_status")),
        last_error=as_optional_text(last_error, "webhook_deliveries.last_error"),
        created_at=as_number(made, "webhook_deliveries.created_at"),
        finished_at=None if finished is None else as_number(finished, "webhook_deliveries.finished_at"),
        body=None if body is None else as_text(body, "webhook_deliveries.body").encode(),
    )
