"""Change counters, and the watcher that tells this process what another one changed.

Several bridge processes may share one database. Whatever each holds in memory from it (the API
keys, the registered servers, the webhook subscriptions) must follow a change made through any
of them, or through the ``mcp-bridge keys`` command, within a second; and webhook deliveries
made free for any instance to take (handed back at a shutdown, redelivered) are taken at once. Each such change bumps
its kind's counter in the same transaction (``bump``; keys keep theirs in ``api_key_changes``),
and a ``ChangeWatcher`` thread reads every counter and calls the reloads of the kinds whose
counter moved. When it reads: on PostgreSQL, when a trigger on the counters sends a notice
(``LISTEN``/``NOTIFY`` on a connection of its own), and every ``FALLBACK`` seconds in case one
was missed while reconnecting; on SQLite, which has no notices, a few times a second. A read of
a few one-row counters costs far less than a reload, and nothing on a request's path reads the
database for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from bridge.store.database import Database, Transaction
from bridge.store.errors import StoreError

__all__ = ["CHANNEL", "FALLBACK", "POLL_INTERVAL", "ChangeWatcher", "Listener", "Topic", "bump", "versions"]

log = logging.getLogger(__name__)

#: What changes are counted for: each kind of record other processes hold in memory.
Topic = Literal["keys", "registrations", "webhooks", "deliveries", "sessions"]
#: Seconds between two reads of the counters: a change holds everywhere within about this, plus
#: the reload, well inside a second; the read is a few rows of two tiny tables.
POLL_INTERVAL = 0.2

#: Seconds between reads of the counters when notices wake the watcher: a notice sent while its
#: connection was being made again is not lost for longer than this.
FALLBACK = 5.0
_SLICE = 0.25
#: The PostgreSQL channel the counters' trigger notifies (migration 9).
CHANNEL = "mcp_bridge_changes"

_BUMP = "UPDATE store_changes SET version = version + 1 WHERE topic = ?"
_VERSIONS = (
    "SELECT topic, version FROM store_changes UNION ALL SELECT 'keys', version FROM api_key_changes WHERE id = 1"
)


def bump(tx: Transaction, topic: Literal["registrations", "webhooks", "deliveries", "sessions"]) -> None:
    """Count a change to ``topic``'s records, in the transaction that makes it."""
    tx.execute(_BUMP, (topic,))


def versions(database: Database) -> dict[str, int]:
    """Every counter, by topic."""
    with database.transaction() as tx:
        rows = tx.query(_VERSIONS)
    found: dict[str, int] = {}
    for topic, version in rows:
        if not isinstance(topic, str) or not isinstance(version, int):
            raise StoreError("a change counter row holds something other than a topic and a number")
        found[topic] = version
    return found


class Listener(Protocol):
    """Notices that something changed (PostgreSQL's ``LISTEN``)."""

    def wait(self, timeout: float) -> bool:
        """Whether a notice came within ``timeout`` seconds."""
        ...

    def close(self) -> None: ...


def _listener(database: Database) -> Listener | None:
    """Notices of ``database``'s changes, where the engine sends them; None where it must be polled."""
    if database.dialect != "postgresql":
        return None
    from bridge.store.postgres import PostgresDatabase  # only a PostgreSQL store has psycopg loaded

    if not isinstance(database, PostgresDatabase):
        raise RuntimeError(f"a PostgreSQL dialect on a {type(database).__name__}, which cannot LISTEN")
    return database.listen(CHANNEL)


class ChangeWatcher:
    """Calls each topic's reloads, on its own thread, when that topic's counter moves.

    The counters are first read when it is made: make it before loading what it keeps current,
    so a change made while that loads is reloaded after. A reload that raises is logged and tried
    again at the next turn, as is a store that cannot be read for now.
    """

    def __init__(self, database: Database, *, interval: float = POLL_INTERVAL) -> None:
        self._database = database
        self._interval = interval
        self._listener: Listener | None = None
        self._reloads: dict[str, list[Callable[[], object]]] = {}
        self._seen: Mapping[str, int] = versions(database)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on(self, topic: Topic, reload: Callable[[], object]) -> None:
        """Call ``reload`` (on the watcher's thread) whenever ``topic``'s records changed; before ``start``."""
        if self._thread is not None:
            raise RuntimeError("the change watcher runs already: add reloads before start()")
        self._reloads.setdefault(topic, []).append(reload)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the change watcher runs already")
        with contextlib.suppress(StoreError):  # not now: the thread listens when it can
            self._listener = _listener(self._database)
        self._thread = threading.Thread(target=self._run, name="change-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        behind = False  # the first read at once: a change made before listening began is read
        while not self._stop.is_set():
            if behind:
                self._stop.wait(self._interval)
                behind = False
            try:
                behind = not self.check(versions(self._database))
            except Exception as exc:
                log.warning("cannot read the store's change counters: %s", exc)
                behind = True
                continue
            if not behind:
                self._wait()

    def _wait(self) -> None:
        """Until a notice comes or the fallback passes (PostgreSQL), or for the poll's interval."""
        try:
            if self._listener is None:
                self._listener = _listener(self._database)
            if self._listener is not None:
                deadline = time.monotonic() + FALLBACK
                # In short slices, so that close() is seen soon.
                while not self._stop.is_set() and time.monotonic() < deadline:
                    if self._listener.wait(_SLICE):
                        return
                return
        except Exception as exc:  # the connection broke: read now, listen again after a pause
            log.warning("cannot listen for the store's changes: %s", exc)
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._stop.wait(self._interval)

    def check(self, now: Mapping[str, int]) -> bool:
        """Call the reloads of the topics whose counter differs in ``now`` from the last look;
        whether they all succeeded (those that failed are called again at the next look)."""
        seen = dict(self._seen)
        for topic, version in now.items():
            if seen.get(topic) == version:
                continue
            try:
                for reload in self._reloads.get(topic, ()):
                    reload()
            except Exception:
                log.exception("reloading %s after a change failed; tried again shortly", topic)
                continue
            seen[topic] = version
        self._seen = seen
        return seen == dict(now)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()
