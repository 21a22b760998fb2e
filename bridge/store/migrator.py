"""Brings a database to the newest schema at start, safely when several processes start at once.

Each pending migration runs in a transaction of its own that holds the schema lock, re-reads
``schema_migrations`` first and records itself there before committing. So a process that waited
for the lock finds the work done and does nothing; a migration that fails leaves the database as
it was before that migration; a restart resumes where the last one stopped. A database that
holds versions this bridge does not know was migrated by a newer bridge and is not touched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bridge.store.database import Database, Row, Transaction, timestamp
from bridge.store.errors import SchemaTooNew, StoreError
from bridge.store.migrations import MIGRATIONS, Migration, PerEngine

__all__ = ["SCHEMA_LOCK", "migrate"]

log = logging.getLogger(__name__)

#: The advisory lock key migrations hold: a constant of the bridge's own ("mcpbridg" in ASCII),
#: so no other application sharing a PostgreSQL database takes it by chance.
SCHEMA_LOCK = 0x6D63_7062_7269_6467

_CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
_APPLIED = "SELECT version FROM schema_migrations"
_RECORD = "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"


def migrate(database: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every pending migration, oldest first; the versions this call applied (often none)."""
    _check_sequence(migrations)
    applied: list[int] = []
    while True:
        with database.transaction(lock=SCHEMA_LOCK) as tx:
            tx.execute(_CREATE_LEDGER)
            done = _versions(tx.query(_APPLIED), database)
            _refuse_unknown(done, migrations, database)
            pending = next((m for m in migrations if m.version not in done), None)
            if pending is None:
                return applied
            _apply(pending, tx, database)
        applied.append(pending.version)
        log.info("%s: applied schema migration %d (%s)", database.location, pending.version, pending.description)


def _apply(migration: Migration, tx: Transaction, database: Database) -> None:
    try:
        for step in migration.steps:
            if isinstance(step, str):
                tx.execute(step)
            elif isinstance(step, PerEngine):
                if (sql := step.sql(database.dialect)) is not None:
                    tx.execute(sql)
            else:
                step(tx)
    except StoreError as exc:
        raise StoreError(f"{database.location}: migration {migration.version} failed and was undone: {exc}") from exc
    tx.execute(_RECORD, (migration.version, migration.description, timestamp()))


def _versions(rows: list[Row], database: Database) -> set[int]:
    versions = {row[0] for row in rows}
    numbers = {v for v in versions if isinstance(v, int)}
    if len(numbers) != len(versions):
        raise StoreError(f"{database.location}: schema_migrations holds a version that is not a number")
    return numbers


def _refuse_unknown(done: set[int], migrations: Sequence[Migration], database: Database) -> None:
    unknown = sorted(done - {m.version for m in migrations})
    if unknown:
        raise SchemaTooNew(
            f"{database.location} has schema version {unknown[-1]}, newer than this bridge knows "
            f"(up to {migrations[-1].version}): it was written by a newer mcp-bridge; "
            "upgrade, or give this one another database"
        )


def _check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration versions must run 1, 2, 3, … without gaps; they are {versions}")
