"""The PostgreSQL engine against a real server: URLs, errors, the advisory lock, racing migrators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bridge.store import MIGRATIONS, SchemaTooNew, Store, StoreError, open_database
from bridge.store.migrator import SCHEMA_LOCK
from bridge.store.postgres import PostgresDatabase
from tests.harness.postgres import PostgresCluster
from tests.store.legacy import FILES, REMOTE

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
LEDGER = [(m.version, m.description) for m in MIGRATIONS]
STARTERS = 4


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        return list(connection.execute(sql).fetchall())


def _insert(database: PostgresDatabase, *rows: tuple[int | str, str], then: Exception | None = None) -> None:
    with database.transaction() as tx:
        for row in rows:
            assert tx.execute("INSERT INTO notes (id, body) VALUES (?, ?)", row) == 1
        if then is not None:
            raise then


def _borrow(database: PostgresDatabase) -> None:
    with database.transaction():
        pass


@pytest.fixture
def database(postgres_url: str) -> Iterator[PostgresDatabase]:
    opened = PostgresDatabase(postgres_url)
    yield opened
    opened.close()


def test_the_location_names_user_host_port_and_database_but_never_the_password(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    shown = f"postgresql://bridge@127.0.0.1:{postgres_cluster.port}/{postgres_url.rsplit('/', 1)[1]}"
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)):
        database = open_database(url)
        try:
            assert database.location == shown
            assert postgres_cluster.password not in database.location
        finally:
            database.close()
    with_query = postgres_url.replace("bridge:" + postgres_cluster.password + "@", "") + (
        f"?user=bridge&password={postgres_cluster.password}&host=127.0.0.1&port={postgres_cluster.port}"
    )
    database = open_database(with_query)  # libpq's other place for a password: the query
    try:
        assert postgres_cluster.password not in database.location
    finally:
        database.close()


def test_a_wrong_password_is_a_store_error_that_does_not_repeat_it(postgres_cluster: PostgresCluster) -> None:
    wrong = "not-the-pg-password-42"
    with pytest.raises(StoreError) as refused:
        Store.open(f"postgresql://bridge:{wrong}@127.0.0.1:{postgres_cluster.port}/postgres")
    message = str(refused.value)
    assert message.startswith(f"postgresql://bridge@127.0.0.1:{postgres_cluster.port}/postgres: ")
    assert 'password authentication failed for user "bridge"' in message
    assert wrong not in message
    assert "\n" not in message


def test_a_server_that_is_not_there_is_a_store_error_in_one_line(postgres_cluster: PostgresCluster) -> None:
    from harness import free_port

    port = free_port()
    with pytest.raises(StoreError) as refused:
        PostgresDatabase(f"postgresql://bridge:{postgres_cluster.password}@127.0.0.1:{port}/postgres")
    assert str(refused.value).startswith(f"postgresql://bridge@127.0.0.1:{port}/postgres: ")
    assert "refused" in str(refused.value).lower()
    assert "\n" not in str(refused.value)


def test_a_failed_statement_is_a_store_error_without_the_row_and_undoes_the_transaction(
    database: PostgresDatabase,
) -> None:
    with database.transaction() as tx:
        tx.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)")
    with pytest.raises(StoreError) as failed:
        _insert(database, ("kept-secret-id", "a"), ("kept-secret-id", "b"))
    assert str(failed.value) == f'{database.location}: duplicate key value violates unique constraint "notes_pkey"'
    with database.transaction() as tx:
        assert tx.query("SELECT id FROM notes") == []


def test_a_transaction_whose_block_raises_is_rolled_back_and_its_connection_serves_again(
    database: PostgresDatabase,
) -> None:
    with database.transaction() as tx:
        tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(LookupError):
        _insert(database, (1, "undone"), then=LookupError())
    with database.transaction() as tx:
        assert tx.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "50% kept")) == 1
        assert tx.query("SELECT id, body FROM notes WHERE body LIKE '50%'") == [(2, "50% kept")]


def test_transactions_naming_one_lock_run_one_at_a_time_and_other_locks_do_not_wait(
    database: PostgresDatabase,
) -> None:
    held = threading.Event()
    release = threading.Event()
    spans: dict[str, tuple[float, float]] = {}

    def holder() -> None:
        with database.transaction(lock=SCHEMA_LOCK):
            start = time.monotonic()
            held.set()
            release.wait(WAIT)
            spans["holder"] = (start, time.monotonic())

    def waiter(name: str, key: int) -> None:
        with database.transaction(lock=key):
            spans[name] = (time.monotonic(), time.monotonic())

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(WAIT)
    other = threading.Thread(target=waiter, args=("other key", SCHEMA_LOCK + 1))
    same = threading.Thread(target=waiter, args=("same key", SCHEMA_LOCK))
    other.start()
    same.start()
    other.join(WAIT)
    assert "other key" in spans  # the other key went through at once
    assert "same key" not in spans
    time.sleep(0.3)
    assert "same key" not in spans  # still waiting
    release.set()
    first.join(WAIT)
    same.join(WAIT)
    assert spans["same key"][0] >= spans["holder"][1]


def test_a_new_database_is_migrated_and_keeps_records_across_reopening(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.registrations.save(FILES)
        store.registrations.save(REMOTE)
    with Store.open(postgres_url) as again:
        assert again.registrations.load() == [FILES, REMOTE]
    assert _rows(postgres_url, "SELECT version, description FROM schema_migrations ORDER BY version") == LEDGER


def test_the_schema_declares_only_portable_column_types(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    types = _rows(
        postgres_url, "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'public'"
    )
    assert {t for (t,) in types} <= {"text", "integer", "bigint", "double precision", "boolean"}


def test_text_that_is_sorted_or_compared_is_in_byte_order_whatever_the_database_collation(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    (default,) = _rows(
        postgres_url, "SELECT datlocprovider, daticulocale FROM pg_database WHERE datname = current_database()"
    )
    assert default == ("i", "en-US")  # the fixture's databases sort by a language's rules
    columns = _rows(
        postgres_url,
        "SELECT table_name || '.' || column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND collation_name = 'C' ORDER BY 1",
    )
    assert [c for (c,) in columns] == [
        "api_keys.created_at",
        "api_keys.id",
        "calls.expires_at",
        "calls.id",
        "ended_sessions.digest",
        "events.at",
        "events.id",
        "registrations.name",
        "store_changes.topic",
        "webhook_deliveries.event_time",
        "webhook_deliveries.id",
        "webhook_subscriptions.created_at",
        "webhook_subscriptions.id",
    ]


_STARTER = """
import json, sys
from bridge.store import migrate, open_database
database = open_database(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(migrate(database)), flush=True)
database.close()
"""


def test_processes_starting_on_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, postgres_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(STARTERS)
    ]
    for starter in starters:  # all are connected; none has migrated
        assert starter.stdout is not None
        assert starter.stdout.readline() == "ready\n"
    for starter in starters:  # then all are let go before any is waited for
        assert starter.stdin is not None
        starter.stdin.write("go\n")
        starter.stdin.flush()
    outputs = [starter.communicate(timeout=WAIT)[0] for starter in starters]
    assert [starter.returncode for starter in starters] == [0] * STARTERS
    applied = [version for output in outputs for version in json.loads(output)]
    assert sorted(applied) == [m.version for m in MIGRATIONS]
    assert _rows(postgres_url, "SELECT version, description FROM schema_migrations ORDER BY version") == LEDGER


def test_a_migration_that_fails_is_undone_schema_and_all(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # as migration 1 left a database
        connection.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        connection.execute(
            "INSERT INTO schema_migrations VALUES (1, %s, '2026-01-01T00:00:00.000+00:00')", (LEDGER[0][1],)
        )
        connection.execute("CREATE TABLE servers (name TEXT PRIMARY KEY, config TEXT NOT NULL)")
        connection.execute('INSERT INTO servers VALUES (\'broken\', \'{"transport": "stdio", "env": {\')')
    with pytest.raises(StoreError) as failed:
        Store.open(postgres_url)
    assert str(failed.value).endswith(
        "migration 2 failed and was undone: the kept server 'broken' is not a server configuration this bridge wrote"
    )
    tables = _rows(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables == [("schema_migrations",), ("servers",)]  # CREATE TABLE registrations was undone too


def test_a_database_from_a_newer_bridge_is_refused(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (%s, 'newer', 'x')", (MIGRATIONS[-1].version + 1,))
    with pytest.raises(SchemaTooNew):
        Store.open(postgres_url)


def test_a_dedicated_connection_is_outside_the_pool_and_hears_notifications(database: PostgresDatabase) -> None:
    with database.dedicated() as listener:
        listener.execute("LISTEN bridge_test")
        with database.transaction() as tx:
            tx.query("SELECT pg_notify(?, ?)", ("bridge_test", "hello"))
        heard = next(listener.notifies(timeout=WAIT, stop_after=1))
    assert (heard.channel, heard.payload) == ("bridge_test", "hello")


def test_a_closed_database_takes_no_transactions(database: PostgresDatabase) -> None:
    database.close()
    with pytest.raises(RuntimeError, match="is closed"), database.transaction():
        pass


def test_a_transaction_that_finds_no_free_connection_in_time_is_a_store_error(postgres_url: str) -> None:
    database = PostgresDatabase(postgres_url, pool_size=1, connect_timeout=1)
    try:
        with database.transaction(), pytest.raises(StoreError) as waited:  # the pool's one connection is held
            _borrow(database)
        assert str(waited.value) == f"{database.location}: no free connection within 1 s"
        with database.transaction() as tx:  # and it serves again once given back
            assert tx.query("SELECT 1") == [(1,)]
    finally:
        database.close()


def test_the_pool_holds_as_many_connections_as_asked_and_no_more(postgres_url: str) -> None:
    database = open_database(postgres_url, pool=3)  # what ``--store-pool 3`` opens
    busiest = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal busiest
        with psycopg.connect(postgres_url, autocommit=True) as watcher:
            while not stop.is_set():
                (row,) = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                ).fetchall()
                busiest = max(busiest, int(row[0]))
                time.sleep(0.01)

    def sleep() -> None:
        with database.transaction() as tx:
            tx.query("SELECT pg_sleep(0.4)")

    watching = threading.Thread(target=count)
    watching.start()
    try:
        sleepers = [threading.Thread(target=sleep) for _ in range(7)]
        for sleeper in sleepers:
            sleeper.start()
        for sleeper in sleepers:
            sleeper.join(WAIT)
    finally:
        stop.set()
        watching.join(WAIT)
        database.close()
    assert busiest == 3  # seven transactions at once, three at a time


def test_a_statement_waiting_on_a_lock_held_elsewhere_fails_after_the_lock_timeout(postgres_url: str) -> None:
    database = PostgresDatabase(postgres_url, lock_timeout=0.5)
    try:
        with database.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS held (id INTEGER PRIMARY KEY)")
        with psycopg.connect(postgres_url) as holder:  # a session frozen in its transaction, the lock held
            holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
            began = time.monotonic()
            with pytest.raises(StoreError) as waited, database.transaction() as tx:
                tx.query("SELECT id FROM held")
            took = time.monotonic() - began
            holder.rollback()
        assert "lock timeout" in str(waited.value)
        assert 0.4 < took < WAIT
        with database.transaction() as tx:  # the lock gone, the same read answers
            assert tx.query("SELECT id FROM held") == []
        with database.transaction(lock=SCHEMA_LOCK) as tx:  # the schema's lock is not bounded by it
            assert tx.query("SHOW lock_timeout") == [("0",)]
        with database.transaction() as tx:
            assert tx.query("SHOW lock_timeout") == [("500ms",)]
    finally:
        database.close()
