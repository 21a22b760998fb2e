"""Migrations at start: a new file, a file from before migrations, restarts, racing starters, newer files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.store import MIGRATIONS, Migration, PerEngine, SchemaTooNew, Store, StoreError, migrate, open_database
from tests.store.legacy import (
    AUTO,
    AUTO_BLOB,
    FILES,
    FILES_BLOB,
    LEGACY_SSE,
    LEGACY_SSE_BLOB,
    REMOTE,
    REMOTE_BLOB,
    old_row,
    query,
    write_old_registry,
)

ROOT = Path(__file__).resolve().parents[2]
#: Upper bound for a child process to start and migrate; it takes well under a second.
WAIT = 30.0
LEDGER = [(m.version, m.description) for m in MIGRATIONS]
NEWEST = MIGRATIONS[-1].version
ALL_VERSIONS = [m.version for m in MIGRATIONS]
#: Bridges started at once in the race tests: enough that they contend for the lock on every run.
STARTERS = 4


def _ledger(path: Path) -> list[tuple[object, ...]]:
    return query(path, "SELECT version, description FROM schema_migrations ORDER BY version")


#: Every table of the newest schema.
ALL_TABLES = {
    "registrations",
    "events",
    "webhook_subscriptions",
    "webhook_deliveries",
    "webhook_attempts",
    "api_keys",
    "calls",
    "api_key_changes",
    "idempotency_keys",
    "store_changes",
    "ended_sessions",
    "schema_migrations",
}


def _tables(path: Path) -> set[object]:
    return {name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_file_is_migrated_to_the_newest_schema(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    with Store.open(path) as store:
        assert store.registrations.load() == []
    assert _ledger(path) == LEDGER
    assert _tables(path) == ALL_TABLES
    for (applied_at,) in query(path, "SELECT applied_at FROM schema_migrations"):
        assert datetime.fromisoformat(str(applied_at)).tzinfo == UTC


def test_a_file_from_before_migrations_keeps_every_registration_field_for_field(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    write_old_registry(path, [old_row(blob) for blob in (FILES_BLOB, REMOTE_BLOB, AUTO_BLOB, LEGACY_SSE_BLOB)])
    with Store.open(path) as store:
        assert store.registrations.load() == [AUTO, FILES, LEGACY_SSE, REMOTE]
    assert _ledger(path) == LEDGER
    assert _tables(path) == ALL_TABLES  # the blob table is gone


def test_migrating_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    write_old_registry(path, [old_row(FILES_BLOB)])
    database = open_database(path)
    assert migrate(database) == ALL_VERSIONS
    ledger = query(path, "SELECT * FROM schema_migrations ORDER BY version")
    rows = query(path, "SELECT * FROM registrations")
    assert migrate(database) == []
    assert migrate(open_database(path)) == []  # a restart
    assert query(path, "SELECT * FROM schema_migrations ORDER BY version") == ledger
    assert query(path, "SELECT * FROM registrations") == rows


def test_threads_opening_a_new_file_at_once_all_succeed_and_each_migration_runs_once(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    together = threading.Barrier(STARTERS)

    def start() -> list[int]:
        database = open_database(path)
        together.wait(WAIT)
        return migrate(database)

    with ThreadPoolExecutor(STARTERS) as pool:
        futures = [pool.submit(start) for _ in range(STARTERS)]
        applied = [version for future in futures for version in future.result(WAIT)]
    assert sorted(applied) == ALL_VERSIONS
    assert _ledger(path) == LEDGER


_STARTER = """
import json, sys
from bridge.store import migrate, open_database
database = open_database(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(migrate(database)), flush=True)
"""


def test_processes_starting_on_a_file_from_before_migrations_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    write_old_registry(path, [old_row(FILES_BLOB), old_row(REMOTE_BLOB)])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(STARTERS)
    ]
    for starter in starters:  # all have opened the file; none has migrated
        assert starter.stdout is not None
        assert starter.stdout.readline() == "ready\n"
    for starter in starters:  # then all are let go before any is waited for
        assert starter.stdin is not None
        starter.stdin.write("go\n")
        starter.stdin.flush()
    outputs = [starter.communicate(timeout=WAIT)[0] for starter in starters]
    assert [starter.returncode for starter in starters] == [0] * STARTERS
    applied = [version for output in outputs for version in json.loads(output)]
    assert sorted(applied) == ALL_VERSIONS
    assert _ledger(path) == LEDGER
    with Store.open(path) as store:
        assert store.registrations.load() == [FILES, REMOTE]


def test_a_database_from_a_newer_bridge_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    Store.open(path).close()
    future = NEWEST + 1
    with open_database(path).transaction() as tx:
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (future, "from a newer bridge", "2030-01-01T00:00:00.000+00:00"),
        )
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew) as refused:
        Store.open(path)
    assert str(refused.value) == (
        f"{path} has schema version {future}, newer than this bridge knows (up to {NEWEST}): "
        "it was written by a newer mcp-bridge; upgrade, or give this one another database"
    )
    assert path.read_bytes() == before


def test_an_unreadable_old_registration_stops_the_start_and_its_migration_is_undone(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    rows = [
        old_row(FILES_BLOB),
        ("broken", '{"transport": "stdio", "env": {"KEY": "broken-secret"'),
        old_row(AUTO_BLOB),
    ]
    write_old_registry(path, rows)
    with pytest.raises(StoreError) as failed:
        Store.open(path)
    assert str(failed.value) == (
        f"{path}: migration 2 failed and was undone: "
        "the kept server 'broken' is not a server configuration this bridge wrote"
    )
    assert _ledger(path) == LEDGER[:1]
    assert _tables(path) == {"servers", "schema_migrations"}
    assert query(path, "SELECT name, config FROM servers ORDER BY name") == sorted(rows)


def test_migrations_out_of_sequence_are_a_programming_error(tmp_path: Path) -> None:
    skipping = [Migration(1, "one", ()), Migration(3, "three", ())]
    with pytest.raises(RuntimeError, match=r"without gaps; they are \[1, 3\]"):
        migrate(open_database(tmp_path / "registry.db"), skipping)


def test_a_per_engine_step_runs_its_own_engines_sql_and_none_means_nothing(store_target: str) -> None:
    mark = "INSERT INTO notes (engine) VALUES ('{}')"
    migrations = [
        Migration(
            1,
            "notes",
            (
                "CREATE TABLE notes (engine TEXT NOT NULL)",
                PerEngine(sqlite=mark.format("sqlite"), postgresql=mark.format("postgresql")),
                PerEngine(sqlite=None, postgresql=mark.format("postgresql only")),
            ),
        )
    ]
    database = open_database(store_target)
    try:
        assert migrate(database, migrations) == [1]
        with database.transaction() as tx:
            kept = tx.query("SELECT engine FROM notes ORDER BY engine")
    finally:
        database.close()
    expected = {"sqlite": [("sqlite",)], "postgresql": [("postgresql",), ("postgresql only",)]}
    assert kept == expected[database.dialect]
