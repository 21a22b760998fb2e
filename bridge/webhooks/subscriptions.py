"""Webhook subscriptions: the admin side (create, change, rotate, the delivery log, redelivery)
and the in-memory view of them that the outbox matches events against.

Plain synchronous code over ``WebhookStore``, with no event loop: the REST edge calls it from
its worker threads. Whoever must hear of a change (the outbox, to follow other event kinds; the
dispatcher, to pick up what a redelivery made pending) registers a listener; listeners must
return at once (the dispatcher hands the news to its loop).

A secret is shown once, in the answer that made it (create, rotate) and never again: every
other answer, and every log line, leaves it out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bridge.errors import FieldError, NotFound, RequestInvalid
from bridge.events import new_event_id
from bridge.feed.envelope import EVENT_TYPES, LEGACY_TYPES, EventFilter, rfc3339
from bridge.store.database import timestamp
from bridge.store.webhooks import DeliveryRecord, DeliveryStatus, WebhookRecord, WebhookStore
from bridge.webhooks.addresses import TargetRefused, parse_target, resolve_checked
from bridge.webhooks.signing import key_of, new_secret

__all__ = ["DEFAULT_OVERLAP", "ENVIRONMENT", "Subscriber", "WebhookSubscriptions"]

log = logging.getLogger(__name__)

#: Seconds a rotated-out secret keeps signing beside the new one: a day to deploy the new one.
DEFAULT_OVERLAP = 24 * 3600.0
#: The ``source`` of the one subscription ``WEBHOOK_URL`` makes.
ENVIRONMENT = "environment"
#: What it subscribes to: the guide's ``@mcp.on_tool_execution`` posted each tool execution, so
#: finished calls (``tool_executed``); a PATCH may widen it, and a restart leaves that as it is.
ENVIRONMENT_TYPES = ("tool.call.finished",)
#: Why the ``WEBHOOK_URL`` subscription is disabled once the variable is gone (set again, it resumes).
RETIRED = "WEBHOOK_URL is no longer set"
DEFAULT_PAGE = 50


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscription as the outbox and the dispatcher use it: what it wants, where, which keys."""

    record: WebhookRecord
    filter: EventFilter
    #: The signing keys of the current secret, and of the previous one (its overlap ends at
    #: ``record.previous_until``): worked out once, not on every delivery.
    current_keys: tuple[bytes, ...] = field(init=False)
    overlap_keys: tuple[bytes, ...] = field(init=False)

    def __post_init__(self) -> None:
        current = key_of(self.record.secret)
        object.__setattr__(self, "current_keys", (current,))
        previous = self.record.previous_secret
        object.__setattr__(self, "overlap_keys", (current, key_of(previous)) if previous else (current,))

    @property
    def id(self) -> str:
        return self.record.id

    def keys(self, now: float) -> tuple[bytes, ...]:
        """The keys that sign now: the current secret's, and the previous one's while it overlaps."""
        return self.overlap_keys if (self.record.previous_until or 0) > now else self.current_keys


class WebhookSubscriptions:
    """Subscriptions kept in ``store``, cached in memory; see the module's notes."""

    def __init__(self, store: WebhookStore, *, allow_private: bool) -> None:
        self._store = store
        self.allow_private = allow_private
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[], None], ...] = ()
        self._all: Mapping[str, Subscriber] = {}
        self.reload()

    # -- the cache -----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the subscriptions again and tell the listeners."""
        found = {r.id: Subscriber(r, _filter(r)) for r in self._store.subscriptions()}
        with self._lock:
            self._all = found
            listeners = self._listeners
        for listener in listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)

    @property
    def active(self) -> tuple[Subscriber, ...]:
        """The enabled subscriptions, as of the last change."""
        return tuple(s for s in self._all.values() if s.record.enabled)

    def subscriber(self, subscription_id: str) -> Subscriber | None:
        return self._all.get(subscription_id)

    def disable(self, subscription_id: str, reason: str) -> None:
        """Stop delivering to a subscription (its endpoint answered 410 Gone)."""
        record = self._store.subscription(subscription_id)
        if record is not None and record.enabled:
            self._store.update(replace(record, enabled=False, disabled_reason=reason))
            log.warning("webhook %s disabled: %s", subscription_id, reason)
        self.reload()

    # -- the admin operations (REST) -------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, source: str = "api", secret: str | None = None) -> dict[str, Any]:
        """A new subscription from a validated body; its answer shows the secret, this once."""
        url = self._checked_url(body["url"])
        types, servers = _filters(body)
        now = timestamp()
        record = WebhookRecord(
            id="wh_" + new_event_id(),
            url=url,
            description=body.get("description"),
            types=types,
            servers=servers,
            include_payload=bool(body.get("includePayload", False)),
            enabled=bool(body.get("enabled", True)),
            disabled_reason=None,
            source=source,
            secret=secret or new_secret(),
            previous_secret=None,
            previous_until=None,
            created_at=now,
            updated_at=now,
        )
        self._store.insert(record)
        log.info("webhook %s created", record.id)
        self.reload()
        return {**describe(record), "secret": record.secret}

    def list(self) -> list[dict[str, Any]]:
        return [describe(s.record) for s in self._all.values()]

    def get(self, subscription_id: str) -> dict[str, Any]:
        return describe(self._record(subscription_id))

    def update(self, subscription_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        record = self._record(subscription_id)
        changes: dict[str, Any] = {}
        if "url" in body:
            changes["url"] = self._checked_url(body["url"])
        if "types" in body or "servers" in body:
            types, servers = _filters(body)
            if "types" in body:
                changes["types"] = types
            if "servers" in body:
                changes["servers"] = servers
        if "includePayload" in body:
            changes["include_payload"] = bool(body["includePayload"])
        if "description" in body:
            changes["description"] = body["description"]
        if "enabled" in body:
            changes["enabled"] = bool(body["enabled"])
            if body["enabled"]:
                changes["disabled_reason"] = None
        updated = replace(record, **changes)
        if not self._store.update(updated):
            raise _missing(subscription_id)
        log.info("webhook %s changed (%s)", subscription_id, ", ".join(sorted(body)))
        self.reload()
        return describe(self._record(subscription_id))

    def delete(self, subscription_id: str) -> None:
        if not self._store.delete(subscription_id):
            raise _missing(subscription_id)
        log.info("webhook %s deleted", subscription_id)
        self.reload()

    def rotate(self, subscription_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new secret, shown this once; the old one signs beside it for ``overlapSeconds``."""
        record = self._record(subscription_id)
        overlap = float(body.get("overlapSeconds", DEFAULT_OVERLAP))
        until = time.time() + overlap
        rotated = replace(
            record,
            secret=new_secret(),
            previous_secret=record.secret if overlap > 0 else None,
            previous_until=until if overlap > 0 else None,
        )
        self._store.update(rotated)
        log.info("webhook %s: secret rotated, the old one signs for %g s more", subscription_id, overlap)
        self.reload()
        return {**describe(self._record(subscription_id)), "secret": rotated.secret}

    def deliveries(
        self, subscription_id: str, *, limit: int = DEFAULT_PAGE, before: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        """A page of the delivery log, newest first; ``next`` is the cursor for the page after it."""
        self._record(subscription_id)
        wanted: DeliveryStatus | None = None
        if status is not None:
            wanted = {"pending": "pending", "delivered": "delivered", "failed": "failed"}[status]  # type: ignore[assignment]
        rows = self._store.deliveries(subscription_id, limit=limit, before=before, status=wanted)
        return {
            "deliveries": [describe_delivery(d) for d in rows],
            "next": rows[-1].id if len(rows) == limit else None,
        }

    def delivery(self, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        found = self._store.delivery(subscription_id, delivery_id)
        if found is None:
            raise NotFound(f"webhook {subscription_id!r} has no delivery {delivery_id!r}")
        attempts = [
            {
                "attempt": a.attempt,
                "at": rfc3339(a.at),
                "status": a.status,
                "error": a.error,
                "durationMs": round(a.duration_ms, 3),
            }
            for a in self._store.attempts(delivery_id)
        ]
        return {**describe_delivery(found), "attemptLog": attempts}

    def redeliver_one(self, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        self._record(subscription_id)
        if not self._store.redeliver(subscription_id, time.time(), delivery_ids=(delivery_id,)):
            raise NotFound(f"webhook {subscription_id!r} has no delivery {delivery_id!r}")
        self.reload()
        return self.delivery(subscription_id, delivery_id)

    def redeliver(self, subscription_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Deliveries of the given events, or of events within [since, until], pending again."""
        self._record(subscription_id)
        since, until = _utc(body, "since"), _utc(body, "until")
        if not body.get("eventIds") and since is None and until is None:
            raise RequestInvalid(
                "/body: give eventIds, since or until", [FieldError("/body", "give eventIds, since or until")]
            )
        count = self._store.redeliver(
            subscription_id, time.time(), event_ids=tuple(body.get("eventIds", ())), since=since, until=until
        )
        log.info("webhook %s: %d deliveries to make again", subscription_id, count)
        self.reload()
        return {"redelivered": count}

    def from_environment(self, url: str, secret: str | None) -> str:
        """The one subscription ``WEBHOOK_URL`` stands for (finished calls, as the guide's handler
        sent), made on the first start and kept in step with the variables afterwards (never a
        second one); its id."""
        kept = self._store.by_source(ENVIRONMENT)
        if not kept:
            made = self.create({"url": url, "types": list(ENVIRONMENT_TYPES)}, source=ENVIRONMENT, secret=secret)
            if secret is None:
                log.warning(
                    "WEBHOOK_URL: webhook %s made with a secret of its own, not shown in the log;"
                    " set WEBHOOK_SECRET, or rotate it (POST /webhooks/%s/rotate) to be shown one",
                    made["id"],
                    made["id"],
                )
            return str(made["id"])
        record = kept[0]
        back = not record.enabled and record.disabled_reason == RETIRED
        if back or record.url != url or (secret is not None and record.secret != secret):
            changed = replace(record, url=self._checked_url(url), secret=secret or record.secret)
            if back:
                changed = replace(changed, enabled=True, disabled_reason=None)
            self._store.update(changed)
            log.info("WEBHOOK_URL: webhook %s follows the environment's URL and secret", record.id)
            self.reload()
        return record.id

    def retire_environment(self) -> None:
        """``WEBHOOK_URL`` is no longer set: its subscription stops (its delivery log stays)."""
        for record in self._store.by_source(ENVIRONMENT):
            if record.enabled:
                self._store.update(replace(record, enabled=False, disabled_reason=RETIRED))
                log.info("WEBHOOK_URL is not set: webhook %s disabled", record.id)
        self.reload()

    # -- helpers -------------------------------------------------------------------------------

    def _record(self, subscription_id: str) -> WebhookRecord:
        record = self._store.subscription(subscription_id)
        if record is None:
            raise _missing(subscription_id)
        return record

    def _checked_url(self, url: str) -> str:
        try:
            resolve_checked(parse_target(url), self.allow_private)
        except TargetRefused as exc:
            raise RequestInvalid(f"/body/url: {exc}", [FieldError("/body/url", str(exc))]) from exc
        return url


def describe(record: WebhookRecord) -> dict[str, Any]:
    """A subscription as answered: everything but its secrets."""
    found: dict[str, Any] = {
        "id": record.id,
        "url": record.url,
        "types": None if record.types is None else list(record.types),
        "servers": None if record.servers is None else list(record.servers),
        "includePayload": record.include_payload,
        "description": record.description,
        "enabled": record.enabled,
        "disabledReason": record.disabled_reason,
        "source": record.source,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "previousSecretExpiresAt": None,
    }
    if record.previous_secret and record.previous_until and record.previous_until > time.time():
        found["previousSecretExpiresAt"] = rfc3339(record.previous_until)
    return found


def describe_delivery(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "eventTime": delivery.event_time,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastStatus": delivery.last_status,
        "lastError": delivery.last_error,
        "nextAttemptAt": None if delivery.next_attempt_at is None else rfc3339(delivery.next_attempt_at),
        "createdAt": rfc3339(delivery.created_at),
        "finishedAt": None if delivery.finished_at is None else rfc3339(delivery.finished_at),
    }


def _missing(subscription_id: str) -> NotFound:
    return NotFound(f"there is no webhook {subscription_id!r}")


def _filters(body: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The body's type and server filters; 400 pointing at each type that is no type nor group."""
    types: Sequence[str] | None = body.get("types")
    servers: Sequence[str] | None = body.get("servers")
    if types is not None:
        errors = [
            FieldError(f"/body/types/{i}", f"{name!r} is no event type nor group ({', '.join(EVENT_TYPES)})")
            for i, name in enumerate(types)
            if not _known_type(name)
        ]
        if errors:
            raise RequestInvalid(f"{errors[0].pointer}: {errors[0].message}", errors)
    return (
        None if not types or "*" in types else tuple(dict.fromkeys(LEGACY_TYPES.get(t, t) for t in types)),
        None if not servers else tuple(dict.fromkeys(servers)),
    )


def _known_type(name: str) -> bool:
    name = LEGACY_TYPES.get(name, name)
    return name == "*" or any(t == name or t.startswith(name + ".") for t in EVENT_TYPES)


def _filter(record: WebhookRecord) -> EventFilter:
    return EventFilter(
        None if record.types is None else frozenset(record.types),
        None if record.servers is None else frozenset(record.servers),
    )


def _utc(body: Mapping[str, Any], member: str) -> str | None:
    """The body's RFC 3339 time as the outbox keeps times (UTC, ``Z``, milliseconds), to compare as text."""
    text = body.get(member)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        where = f"/body/{member}"
        raise RequestInvalid(
            f"{where}: not an RFC 3339 date-time", [FieldError(where, "not an RFC 3339 date-time")]
        ) from exc
    if moment.tzinfo is None:
        where = f"/body/{member}"
        raise RequestInvalid(f"{where}: give the time's offset (Z or ±hh:mm)", [FieldError(where, "no offset")])
    return rfc3339(moment.timestamp())
