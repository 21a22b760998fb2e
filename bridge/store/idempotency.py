"""Idempotency keys: the first answer given for each caller's key, kept until it expires.

One row per (caller, key): the request's fingerprint and the answer as it was sent (status,
the headers that matter, the body). ``keep`` and ``sweep`` take the ``StoreWriter``'s
transaction; ``find`` reads, from a worker thread (an edge on the loop never waits on the file).
What to keep and when is ``bridge.gate.idempotency``'s business; this module only keeps it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bridge.store.database import Database, Transaction, as_number, as_text

__all__ = ["IdempotencyStore", "KeptAnswer"]

_FIND = (
    "SELECT fingerprint, status, headers, body, expires_at FROM idempotency_keys"
    " WHERE subject = ? AND idempotency_key = ? AND expires_at > ?"
)
_FORGET = "DELETE FROM idempotency_keys WHERE subject = ? AND idempotency_key = ?"
_INSERT = (
    "INSERT INTO idempotency_keys"
    " (subject, idempotency_key, fingerprint, status, headers, body, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SWEEP = "DELETE FROM idempotency_keys WHERE expires_at <= ?"


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """The answer first given for a key, and the fingerprint of the request it answered."""

    fingerprint: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str
    expires_at: float


class IdempotencyStore:
    """The ``idempotency_keys`` table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def find(self, subject: str, key: str, now: float) -> KeptAnswer | None:
        """The answer kept for ``subject``'s ``key``, unless there is none or it expired by ``now``."""
        with self._database.transaction() as tx:
            rows = tx.query(_FIND, (subject, key, now))
        if not rows:
            return None
        fingerprint, status, headers, body, expires_at = rows[0]
        pairs = json.loads(as_text(headers, "idempotency_keys.headers"))
        return KeptAnswer(
            fingerprint=as_text(fingerprint, "idempotency_keys.fingerprint"),
            status=int(as_number(status, "idempotency_keys.status")),
            headers=tuple((str(name), str(value)) for name, value in pairs),
            body=as_text(body, "idempotency_keys.body"),
            expires_at=as_number(expires_at, "idempotency_keys.expires_at"),
        )

    @staticmethod
    def keep(tx: Transaction, subject: str, key: str, answer: KeptAnswer, now: float) -> None:
        """Keep ``answer`` for ``subject``'s ``key`` in ``tx``, in place of an expired one not yet swept."""
        tx.execute(_FORGET, (subject, key))
        headers = json.dumps([list(pair) for pair in answer.headers])
        tx.execute(
            _INSERT, (subject, key, answer.fingerprint, answer.status, headers, answer.body, now, answer.expires_at)
        )

    @staticmethod
    def sweep(tx: Transaction, now: float) -> int:
        """Forget the answers expired by ``now``; how many there were."""
        return tx.execute(_SWEEP, (now,))

    def count(self) -> int:
        """Answers kept, expired or not (for tests and operators)."""
        with self._database.transaction() as tx:
            rows = tx.query("SELECT COUNT(*) FROM idempotency_keys")
        return int(as_number(rows[0][0], "count"))
