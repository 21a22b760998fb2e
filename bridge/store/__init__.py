"""What the bridge keeps across restarts, one store per kind of record, over one database.

``Store.open(path_or_url)`` opens the database, applies pending migrations and hands out the
stores; ``Store.memory()`` keeps everything in memory, for tests. Stores and migrations speak
portable SQL through the ``Database`` seam; SQLite is the default engine, PostgreSQL the one
several bridges share.

Modules, one job each:

- ``database``: the ``Database``/``Transaction`` protocols and placeholder translation
- ``sqlite``: the SQLite engine, the one module that imports ``sqlite3``
- ``postgres``: the PostgreSQL engine, the one module that imports ``psycopg`` (imported only
  when a ``postgresql://`` URL is opened)
- ``migrations``: the schema, version by version; ``migrator``: applies pending ones at start
- ``registrations``: servers registered over REST
- ``events``: the event log; ``webhooks``: webhook subscriptions, the outbox and delivery log
- ``keys``: named API keys (hashes, scopes, allowlists, expiry) and their change counter
- ``idempotency``: the first answer given for each caller's Idempotency-Key, until it expires
- ``sessions``: handshake-era MCP sessions their clients ended, so no instance serves them again
- ``writer``: the one writer thread for frequent small writes (group commit)
- ``changes``: change counters, and the watcher that reloads what another instance changed
- ``store``: opens a database by path or URL and hands out the per-kind stores
- ``errors``: ``StoreError`` and its subclasses
"""

from bridge.store.changes import ChangeWatcher
from bridge.store.database import Database, Transaction, to_paramstyle
from bridge.store.errors import SchemaTooNew, StoreError, UnsupportedDatabase
from bridge.store.idempotency import IdempotencyStore, KeptAnswer
from bridge.store.keys import KeyRecord, KeyStore
from bridge.store.migrations import MIGRATIONS, Migration, PerEngine
from bridge.store.migrator import migrate
from bridge.store.registrations import MemoryRegistrationStore, RegistrationStore, SqlRegistrationStore
from bridge.store.sqlite import SqliteDatabase
from bridge.store.store import Store, open_database

__all__ = [
    "MIGRATIONS",
    "ChangeWatcher",
    "Database",
    "IdempotencyStore",
    "KeptAnswer",
    "KeyRecord",
    "KeyStore",
    "MemoryRegistrationStore",
    "Migration",
    "PerEngine",
    "RegistrationStore",
    "SchemaTooNew",
    "SqlRegistrationStore",
    "SqliteDatabase",
    "Store",
    "StoreError",
    "Transaction",
    "UnsupportedDatabase",
    "migrate",
    "open_database",
    "to_paramstyle",
]
