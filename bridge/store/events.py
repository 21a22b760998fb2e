"""The event log: recent events kept for replay (``Last-Event-ID``), pruned by count and age.

Each row is one event as the wire carries it (``body``: its JSON text), under its id, which
sorts in the order events were made. Writes come through the ``StoreWriter`` (``append`` takes
its transaction); reads are the replay queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.store.database import Database, Transaction, as_text

__all__ = ["EventLogStore", "LoggedEvent", "Retention"]

_INSERT = "INSERT INTO events (id, type, server, at, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
_AFTER = "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?"
_OLDEST = "SELECT MIN(id) FROM events"
_PRUNE_AGE = "DELETE FROM events WHERE at < ?"
_PRUNE_COUNT = "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)"


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event to keep: its id, type, server, time (RFC 3339, UTC) and JSON text."""

    id: str
    type: str
    server: str | None
    at: str
    body: str


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of the log is kept: at most ``count`` events, none older than ``age`` seconds."""

    count: int = 10_000
    age: float = 24 * 3600.0


class EventLogStore:
    """The ``events`` table (schema version 3 and later)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @staticmethod
    def append(tx: Transaction, events: Sequence[LoggedEvent]) -> None:
        """Keep ``events`` in ``tx`` (an id kept already is left as it is)."""
        for event in events:
            tx.execute(_INSERT, (event.id, event.type, event.server, event.at, event.body))

    def after(self, last_id: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` events after ``last_id``, oldest first, as (id, JSON text)."""
        with self._database.transaction() as tx:
            rows = tx.query(_AFTER, (last_id, limit))
        return [(as_text(i, "events.id"), as_text(b, "events.body")) for i, b in rows]

    def oldest(self) -> str | None:
        with self._database.transaction() as tx:
            rows = tx.query(_OLDEST)
        return None if not rows or rows[0][0] is None else as_text(rows[0][0], "events.id")

    @staticmethod
    def prune(tx: Transaction, retention: Retention, oldest_kept: str) -> int:
        """Drop what ``retention`` no longer keeps: events before ``oldest_kept`` (RFC 3339), then
        all but the newest ``retention.count``; how many were dropped."""
        return tx.execute(_PRUNE_AGE, (oldest_kept,)) + tx.execute(_PRUNE_COUNT, (retention.count,))
