"""Asynchronous calls as kept: the ``calls`` table, one row per call holding its latest view.

The call store (``bridge.calls``) answers every read from memory; this table is what survives
a restart. Rows are written through the ``StoreWriter`` (``put`` and ``sweep`` make the writes),
read once at start-up (``load``), and dropped once past their expiry. A row's ``document`` is
the view as JSON, which only the call store reads; the columns beside it are what is queried.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.store.database import Database, Row, Transaction, as_number, as_text
from bridge.store.writer import Write

__all__ = ["CallRecord", "CallStore"]

_UPSERT = (
    "INSERT INTO calls (id, subject, state, version, expires_at, document) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version,"
    " expires_at = excluded.expires_at, document = excluded.document WHERE calls.version < excluded.version"
)
_LOAD = "SELECT id, subject, state, version, expires_at, document FROM calls WHERE expires_at > ? ORDER BY id"
_SWEEP = "DELETE FROM calls WHERE expires_at <= ?"
_GET = "SELECT id, subject, state, version, expires_at, document FROM calls WHERE id = ?"
_OF_SUBJECT = "SELECT id, subject, state, version, expires_at, document FROM calls WHERE expires_at > ? AND subject = ?"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as kept."""

    id: str
    subject: str
    state: str
    version: int
    #: RFC 3339 in UTC, as stored (text that sorts as time does).
    expires_at: str
    #: The call's view as JSON text.
    document: str


class CallStore:
    """The ``calls`` table (schema version 7 and later)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def load(self, now: str) -> list[CallRecord]:
        """Every call not yet expired at ``now``."""
        with self._database.transaction() as tx:
            rows = tx.query(_LOAD, (now,))
        return [_record(r) for r in rows]

    def get(self, call_id: str) -> CallRecord | None:
        """One call as kept (another instance's, say), expired or not; None if there is no such row."""
        with self._database.transaction() as tx:
            rows = tx.query(_GET, (call_id,))
        return _record(rows[0]) if rows else None

    def of_subject(self, subject: str, now: str) -> list[CallRecord]:
        """``subject``'s calls not yet expired at ``now``, whichever instance ran them."""
        with self._database.transaction() as tx:
            rows = tx.query(_OF_SUBJECT, (now, subject))
        return [_record(r) for r in rows]

    @staticmethod
    def put(record: CallRecord) -> Write:
        """The write that keeps ``record``; an older version never overwrites a newer one."""

        def write(tx: Transaction) -> None:
            tx.execute(
                _UPSERT,
                (record.id, record.subject, record.state, record.version, record.expires_at, record.document),
            )

        return write

    @staticmethod
    def sweep(now: str) -> Write:
        """The write that drops every call expired at ``now``."""

        def write(tx: Transaction) -> None:
            tx.execute(_SWEEP, (now,))

        return write


def _record(row: Row) -> CallRecord:
    return CallRecord(
        id=as_text(row[0], "calls.id"),
        subject=as_text(row[1], "calls.subject"),
        state=as_text(row[2], "calls.state"),
        version=int(as_number(row[3], "calls.version")),
        expires_at=as_text(row[4], "calls.expires_at"),
        document=as_text(row[5], "calls.document"),
    )
