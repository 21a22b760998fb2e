"""Opens the bridge's database, migrated, and hands out one store per kind of record over it.

This is the only module that knows every kind; a new kind (API keys, webhook subscriptions, …)
adds its protocol and implementations in a module of its own, its migrations to
``bridge.store.migrations``, and one attribute here, built in ``from_database`` and ``memory``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from bridge.config import DEFAULT_STORE_POOL
from bridge.store.calls import CallStore
from bridge.store.database import Database
from bridge.store.errors import UnsupportedDatabase
from bridge.store.events import EventLogStore
from bridge.store.idempotency import IdempotencyStore
from bridge.store.keys import KeyStore
from bridge.store.migrator import migrate
from bridge.store.registrations import MemoryRegistrationStore, RegistrationStore, SqlRegistrationStore
from bridge.store.sessions import EndedSessionStore
from bridge.store.sqlite import SqliteDatabase
from bridge.store.webhooks import WebhookStore
from bridge.store.writer import StoreWriter

__all__ = ["Store", "open_database"]

_WHAT_WORKS = "give a SQLite file path, a sqlite:/// URL or a postgresql:// URL"


class Store:
    """The kept records, one store per kind; ``close()`` (or ``with``) releases the database.

    ``writer`` is the process's one writer thread for frequent small writes (events, webhook
    deliveries), started when first asked for.
    """

    def __init__(self, *, registrations: RegistrationStore, database: Database, cleanup: Path | None = None) -> None:
        self.registrations = registrations
        self.database = database
        self.events = EventLogStore(database)
        self.webhooks = WebhookStore(database)
        self.keys = KeyStore(database)
        self.calls = CallStore(database)
        self.idempotency = IdempotencyStore(database)
        self.sessions = EndedSessionStore(database)
        self._cleanup = cleanup
        self._writer: StoreWriter | None = None
        self._lock = threading.Lock()

    @property
    def writer(self) -> StoreWriter:
        with self._lock:
            if self._writer is None:
                self._writer = StoreWriter(self.database)
            return self._writer

    @classmethod
    def open(cls, target: str | os.PathLike[str], *, pool: int = DEFAULT_STORE_POOL) -> Store:
        """The database at ``target`` (see ``open_database``), migrated to the newest schema."""
        return cls.from_database(open_database(target, pool=pool))

    @classmethod
    def from_database(cls, database: Database) -> Store:
        """Stores over ``database``, after migrating it; it is closed again if that fails."""
        try:
            migrate(database)
        except BaseException:
            database.close()
            raise
        return cls(registrations=SqlRegistrationStore(database), database=database)

    @classmethod
    def memory(cls) -> Store:
        """Stores that keep records for the life of the store only: registrations in memory, the
        rest in a private database file removed by ``close()``."""
        folder = Path(tempfile.mkdtemp(prefix="mcp-bridge-store-"))
        database = SqliteDatabase(folder / "store.db")
        migrate(database)
        return cls(registrations=MemoryRegistrationStore(), database=database, cleanup=folder)

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self.database.close()
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def open_database(target: str | os.PathLike[str], *, pool: int = DEFAULT_STORE_POOL) -> Database:
    """The database a path or URL names, not yet migrated.

    A bare path, or ``sqlite:///relative/file.db`` / ``sqlite:////absolute/file.db`` (the
    SQLAlchemy spelling), is a SQLite file, created if missing. ``postgresql://`` (also
    ``postgres://`` and SQLAlchemy's ``postgresql+psycopg://``) is a PostgreSQL database, which
    must exist. Any other URL is refused, naming only its scheme: the rest may carry a password.
    """
    text = os.fspath(target)
    scheme, separator, rest = text.partition("://")
    if not separator:
        return SqliteDatabase(Path(text))
    engine = scheme.split("+", 1)[0].lower()
    if engine == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise UnsupportedDatabase(f"a sqlite URL names a file and no host: {_WHAT_WORKS}")
        return SqliteDatabase(Path(rest[1:]))
    if engine in ("postgresql", "postgres"):
        # Imported here: psycopg and its pool take more to import (0.1–0.6 s) than a SQLite
        # bridge, or a ``keys`` command, takes to start.
        from bridge.store.postgres import PostgresDatabase

        return PostgresDatabase(f"{engine}://{rest}", pool_size=pool)
    raise UnsupportedDatabase(f"{scheme}:// databases are not supported; {_WHAT_WORKS}")
