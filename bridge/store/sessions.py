"""Handshake-era MCP sessions their clients ended (``DELETE /mcp``), so that no instance serves them again.

A 2025-era session id carries its session (``bridge.endpoint.session_seal``): any instance with
the secret can revive it. Once its client has ended it on one instance, the others must not,
and those holding a copy must drop it. Each ended session is one row, keyed by the SHA-256 of
its id (the id itself is never kept), written with a bump of the ``sessions`` change counter
in the same transaction, so every instance's change watcher hears of it. Rows are swept a day
after, when every copy has long idled out (the SDK's idle timeout is 30 minutes by default).

``SessionEnds`` is what an instance uses: ``record`` a session ended here (through the store's
writer, so the event loop never waits on the database), ask whether one was ``ended`` anywhere
(a read: from a worker thread, never the loop), and hear of those the others end (``reload``,
which the change watcher calls when the ``sessions`` counter moved).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from bridge.store.changes import bump
from bridge.store.database import Database, Transaction, as_text
from bridge.store.writer import StoreWriter

__all__ = ["KEPT_FOR", "OVERLAP", "SWEEP_EVERY", "EndedSessionStore", "SessionEnds", "digest"]

log = logging.getLogger(__name__)

#: Seconds an ended session's row is kept.
KEPT_FOR = 86_400.0
#: Seconds each read of the records made since the last one reaches back: they are stamped with
#: the clock of the instance that made them, which may be this far behind this one's.
OVERLAP = 60.0
#: Seconds between two sweeps of the records older than ``KEPT_FOR``.
SWEEP_EVERY = 3600.0

#: Told the digests of sessions ended (by any instance) since the last read; on the watcher's thread.
Heard = Callable[[set[str]], None]

_INSERT = (
    "INSERT INTO ended_sessions (digest, ended_at) SELECT ?, ?"
    " WHERE NOT EXISTS (SELECT 1 FROM ended_sessions WHERE digest = ?)"
)
_FIND = "SELECT 1 FROM ended_sessions WHERE digest = ?"
_SINCE = "SELECT digest FROM ended_sessions WHERE ended_at >= ?"
_SWEEP = "DELETE FROM ended_sessions WHERE ended_at < ?"


def digest(session_id: str) -> str:
    """What a session is kept as: the SHA-256 of its id, in hex."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


class EndedSessionStore:
    """The ``ended_sessions`` table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @staticmethod
    def end(tx: Transaction, session: str, now: float) -> bool:
        """Record the session of digest ``session`` as ended at ``now`` in ``tx``; whether it is new
        (only then are the other instances told: an instance recording what it heard makes no echo)."""
        if not tx.execute(_INSERT, (session, now, session)):
            return False
        bump(tx, "sessions")
        return True

    def ended(self, session: str) -> bool:
        """Whether the session of digest ``session`` was ended (within the last ``KEPT_FOR``)."""
        with self._database.transaction() as tx:
            return bool(tx.query(_FIND, (session,)))

    def since(self, moment: float) -> set[str]:
        """The digests of the sessions ended at ``moment`` or after."""
        with self._database.transaction() as tx:
            rows = tx.query(_SINCE, (moment,))
        return {as_text(row[0], "ended_sessions.digest") for row in rows}

    @staticmethod
    def sweep(tx: Transaction, now: float) -> int:
        """Forget the sessions ended over ``KEPT_FOR`` before ``now``; how many there were."""
        return tx.execute(_SWEEP, (now - KEPT_FOR,))


class SessionEnds:
    """Records the sessions ended here, tells whether one was ended anywhere, and hears of the others'."""

    def __init__(
        self, store: EndedSessionStore, writer: StoreWriter, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._writer = writer
        self._clock = clock
        self._heard: list[Heard] = []
        self._read_at = clock()
        self._swept = 0.0

    def record(self, session_id: str) -> None:
        """``session_id`` was ended by its client here: kept in the store, the others told (not waited for)."""
        now = self._clock()
        sweep = now - self._swept >= SWEEP_EVERY
        if sweep:
            self._swept = now
        session = digest(session_id)

        def write(tx: Transaction) -> None:
            if sweep:
                EndedSessionStore.sweep(tx, now)
            EndedSessionStore.end(tx, session, now)

        self._writer.submit(write, _logged)

    def ended(self, session_id: str) -> bool:
        """Whether ``session_id`` was ended by its client on any instance; ``StoreError`` when the
        store cannot say. It reads the database: not on the event loop."""
        return self._store.ended(digest(session_id))

    def on_ended(self, heard: Heard) -> None:
        """Call ``heard`` with the digests of the sessions ended since the last read (``reload``)."""
        self._heard.append(heard)

    def reload(self) -> None:
        """Read the sessions ended since the last read and tell each listener (``StoreError``: call again)."""
        now = self._clock()
        found = self._store.since(min(self._read_at, now) - OVERLAP)
        self._read_at = now
        if found:
            for heard in self._heard:
                heard(found)


def _logged(error: BaseException | None) -> None:
    if error is not None:
        log.warning("a session's end was not recorded, so other instances may serve it until it idles out: %s", error)
