"""The PostgreSQL engine: a pool of connections to one database, for several bridges to share.

The only module that imports psycopg (3) and psycopg_pool; their errors become ``StoreError``
here, naming the database by ``location``, which never shows a password. A transaction borrows a
pooled connection for its length (commit when the block ends, rollback if it raises); with
``lock`` it first takes ``pg_advisory_xact_lock(lock)``, held to its end, so callers naming the
same key run one at a time across every process sharing the database (migrations at start).

Messages carry PostgreSQL's primary message only: its detail line may quote a row's values
("Key (id)=(…) already exists"), and the rows hold upstream secrets.

``dedicated()`` opens a connection of its own, outside the pool and in autocommit, for work that
holds a connection for long, such as ``LISTEN`` (``listen()``: how instances sharing the database
hear of each other's changes, ``bridge.store.changes``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.sql
import psycopg_pool

from bridge.config import DEFAULT_STORE_POOL
from bridge.store.database import DbApiTransaction, Dialect, Transaction
from bridge.store.errors import StoreError

__all__ = ["CONNECT_TIMEOUT", "POOL_SIZE", "Listening", "PostgresDatabase", "location_of"]

#: Seconds to wait for the server when connecting, and for a free pooled connection.
CONNECT_TIMEOUT = 10.0
#: Connections the pool keeps at most: the writer thread, the REST worker threads and the key
#: watcher each hold one for a transaction's length only.
POOL_SIZE = DEFAULT_STORE_POOL
#: Seconds a statement waits for a lock another session holds (an instance frozen in the middle of
#: a transaction, an operator's maintenance) before it fails: its request is then answered 503
#: ``store-unavailable`` rather than left hanging. The schema's advisory lock is waited for as
#: long as another bridge's migration takes.
LOCK_TIMEOUT = 10.0

_ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(%s)"


def location_of(url: str) -> str:
    """``url`` as shown in messages: scheme, user, hosts, ports and database, never a password.

    The query (``?sslmode=…&password=…``) is left out too: libpq accepts a password there.
    """
    parts = urlsplit(url)
    user_info, at, hosts = parts.netloc.rpartition("@")
    user = user_info.partition(":")[0]
    netloc = f"{user}@{hosts}" if at and user else hosts
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PostgresDatabase:
    """A ``Database`` in PostgreSQL, reached by a libpq URL (``postgresql://user:pass@host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        connect_timeout: float = CONNECT_TIMEOUT,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self._conninfo = url
        self._location = location_of(url)
        self._connect_timeout = connect_timeout
        self._lock_timeout_ms = max(1, round(lock_timeout * 1000))
        self._closed = False
        # One connection first, outside the pool: a pool that cannot connect only says it timed
        # out, while this says why (refused, no such database, authentication failed).
        self.dedicated().close()
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=connect_timeout,
            kwargs={"connect_timeout": max(1, round(connect_timeout))},
            name="mcp-bridge-store",
            configure=self._configure,
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout as exc:
            raise StoreError(f"{self._location}: no connection within {connect_timeout:g} s") from exc

    @property
    def dialect(self) -> Dialect:
        return "postgresql"

    @property
    def location(self) -> str:
        return self._location

    @contextmanager
    def transaction(self, *, lock: int | None = None) -> Iterator[Transaction]:
        if self._closed:
            raise RuntimeError(f"the database {self._location} is closed")
        try:
            # The pool's context commits when the block ends and rolls back when it raises.
            with self._pool.connection() as connection, connection.cursor() as cursor:
                if lock is not None:  # waited for as long as the holder's transaction takes
                    cursor.execute("SET LOCAL lock_timeout = 0")
                    cursor.execute(_ADVISORY_LOCK, (lock,))
                yield DbApiTransaction(cursor, psycopg.paramstyle)
        except psycopg_pool.PoolTimeout as exc:  # a psycopg.Error too: this first, for its own message
            raise StoreError(f"{self._location}: no free connection within {self._connect_timeout:g} s") from exc
        except psycopg.Error as exc:
            raise self._translated(exc) from exc

    def _configure(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        """Each pooled connection, once made: its statements wait at most ``LOCK_TIMEOUT`` for a lock."""
        connection.execute(psycopg.sql.SQL("SET lock_timeout = {}").format(self._lock_timeout_ms))
        connection.commit()

    def dedicated(self) -> psycopg.Connection[tuple[object, ...]]:
        """A new connection of the caller's own, in autocommit, outside the pool (for ``LISTEN``):
        the caller closes it."""
        try:
            return psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
            )
        except psycopg.Error as exc:
            raise self._translated(exc) from exc

    def listen(self, channel: str) -> Listening:
        """A dedicated connection that has run ``LISTEN channel``: ``wait`` for a notice on it."""
        connection = self.dedicated()
        try:
            connection.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        except psycopg.Error as exc:
            connection.close()
            raise self._translated(exc) from exc
        return Listening(connection, self)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(psycopg.Error):
            self._pool.close()

    def _translated(self, exc: psycopg.Error) -> StoreError:
        primary = exc.diag.message_primary
        if primary is None:  # no answer from the server: the client's own message (refused, timed out, …)
            primary = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"{self._location}: {primary}")


class Listening:
    """Notices on one ``LISTEN``ed channel, over a connection of its own (``PostgresDatabase.listen``)."""

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]], database: PostgresDatabase) -> None:
        self._connection = connection
        self._database = database

    def wait(self, timeout: float) -> bool:
        """Whether a notice came within ``timeout`` seconds (all that came are taken)."""
        try:
            heard = any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))
            while any(True for _ in self._connection.notifies(timeout=0, stop_after=1)):
                pass  # several changes at once: one reload serves them all
        except psycopg.Error as exc:
            raise self._database._translated(exc) from exc
        return heard

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._connection.close()
