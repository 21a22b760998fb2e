"""The SQLite engine: one file, created readable by its owner only, one connection per thread.

The only module that imports ``sqlite3``; its errors become ``StoreError`` here. Each thread
keeps its own connection and reuses it for every transaction it runs, so no two threads share
one; ``close()`` closes them all. A connection per transaction cost more than the writes it
served once events and webhook deliveries were written on every call: the connect, the pragma,
the schema read and, as the last connection closed, a WAL checkpoint, each time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.store.database import DbApiTransaction, Dialect, Transaction
from bridge.store.errors import StoreError

__all__ = ["BUSY_TIMEOUT", "FILE_MODE", "SqliteDatabase"]

#: Seconds a transaction waits for another process's write lock: a starting bridge may be
#: migrating, which takes milliseconds; a wait this long means something is stuck.
BUSY_TIMEOUT = 10.0
#: The file holds upstream secrets (headers, env): the operator's account alone may read it.
FILE_MODE = 0o600


class SqliteDatabase:
    """A ``Database`` in one SQLite file."""

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=FILE_MODE)
            os.chmod(path, FILE_MODE)  # an older or hand-made file is tightened too
        except OSError as exc:
            raise StoreError(f"cannot create the database {path}: {exc.strerror}") from exc
        # Write-ahead logging, kept in the file: readers never wait for the writer, and a commit
        # is one append to the log. With synchronous=NORMAL (set per connection) a commit is not
        # flushed to the disk at once: a committed write survives the process being killed, and
        # only the last commits can be lost if the machine itself loses power.
        self._use_wal()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def _use_wal(self) -> None:
        """Put the file in WAL mode (once; it stays so). Several processes or threads opening a
        new file at once contend for the exclusive lock this takes, and SQLite may answer
        "locked" at once instead of waiting, so it is tried again until the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                with contextlib.closing(sqlite3.connect(self._path, timeout=self._busy_timeout)) as connection:
                    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
                    if mode != "wal":
                        connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(f"{self._path}: {exc}") from exc
                time.sleep(0.01)
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: {exc}") from exc

    @property
    def dialect(self) -> Dialect:
        return "sqlite"

    @property
    def location(self) -> str:
        return str(self._path)

    @contextmanager
    def transaction(self, *, lock: int | None = None) -> Iterator[Transaction]:
        # Every transaction begins IMMEDIATE, taking the file's one write lock at once: that is
        # the advisory lock's job done for any key, and a transaction that reads and then writes
        # never fails on upgrading its lock while another process holds it.
        del lock
        if self._closed:
            raise RuntimeError(f"the database {self._path} is closed")
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield DbApiTransaction(connection.cursor(), sqlite3.paramstyle)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back(connection)
            raise self._translated(exc) from exc
        except BaseException:
            self._roll_back(connection)
            raise

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first transaction."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        try:
            # Used by this thread only; closed by ``close()``, which may run on another.
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        with self._lock:
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    def close(self) -> None:
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _translated(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{self._path}: {exc}")

    @staticmethod
    def _roll_back(connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the error that got us here is the one to report
                connection.execute("ROLLBACK")
