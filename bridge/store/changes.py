"""Change counters, and the watcher that tells this process what another one changed.

Several bridge processes may share one database. Whatever each holds in memory from it (the API
keys, the registered servers, the webhook subscriptions) must follow a change made through any
of them, or through the ``mcp-bridge keys`` command, within a second; and webhook deliveries
made free for any instance to take (handed back at a shutdown, redelivered) are taken at once. Each such change bumps
its kind's counter in the same transaction (``bump``; keys keep theirs in ``api_key_changes``),
and a ``ChangeWatcher`` thread reads every counter a few times a second and calls the reloads of
the kinds whose counter moved. A read of a few one-row counters costs far less than a reload,
and nothing on a request's path reads the database for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Literal

from bridge.store.database import Database, Transaction
from bridge.store.errors import StoreError

__all__ = ["POLL_INTERVAL", "ChangeWatcher", "Topic", "bump", "versions"]

log = logging.getLogger(__name__)

#: What changes are counted for: each kind of record other processes hold in memory.
Topic = Literal["keys", "registrations", "webhooks", "deliveries"]
#: Seconds between two reads of the counters: a change holds everywhere within about this, plus
#: the reload, well inside a second; the read is a few rows of two tiny tables.
POLL_INTERVAL = 0.2

_BUMP = "UPDATE store_changes SET version = version + 1 WHERE topic = ?"
_VERSIONS = (
    "SELECT topic, version FROM store_changes UNION ALL SELECT 'keys', version FROM api_key_changes WHERE id = 1"
)


def bump(tx: Transaction, topic: Literal["registrations", "webhooks", "deliveries"]) -> None:
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


class ChangeWatcher:
    """Calls each topic's reloads, on its own thread, when that topic's counter moves.

    The counters are first read when it is made: make it before loading what it keeps current,
    so a change made while that loads is reloaded after. A reload that raises is logged and tried
    again at the next turn, as is a store that cannot be read for now.
    """

    def __init__(self, database: Database, *, interval: float = POLL_INTERVAL) -> None:
        self._database = database
        self._interval = interval
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
        self._thread = threading.Thread(target=self._run, name="change-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                now = versions(self._database)
            except Exception as exc:
                log.warning("cannot read the store's change counters: %s", exc)
                continue
            self.check(now)

    def check(self, now: Mapping[str, int]) -> None:
        """Call the reloads of the topics whose counter differs in ``now`` from the last look."""
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

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._interval * 10 + 5)
