"""The SQLite engine: its file, its transactions, and its errors translated at the boundary."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bridge.store import SqliteDatabase, Store, StoreError
from tests.store.legacy import query


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_in_new_folders_is_made_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "mcp-bridge" / "registry.db"
    old_umask = os.umask(0o000)  # even when the process would let everyone read what it makes
    try:
        Store.open(path).close()
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600


def test_an_existing_file_anyone_could_read_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Store.open(path).close()
    assert _mode(path) == 0o600


def _notes(path: Path) -> SqliteDatabase:
    database = SqliteDatabase(path)
    with database.transaction() as tx:
        tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    return database


def _write(database: SqliteDatabase, *rows: tuple[int, str | None], then: Exception | None = None) -> None:
    with database.transaction() as tx:
        for row in rows:
            assert tx.execute("INSERT INTO notes (id, body) VALUES (?, ?)", row) == 1
        if then is not None:
            raise then


def test_a_transaction_commits_when_its_block_ends(tmp_path: Path) -> None:
    database = _notes(tmp_path / "t.db")
    _write(database, (1, "kept"), (2, None))
    with database.transaction() as tx:
        assert tx.query("SELECT id, body FROM notes ORDER BY id") == [(1, "kept"), (2, None)]


def test_a_transaction_whose_block_raises_is_rolled_back(tmp_path: Path) -> None:
    database = _notes(tmp_path / "t.db")
    with pytest.raises(LookupError):
        _write(database, (1, "undone"), then=LookupError())
    assert query(tmp_path / "t.db", "SELECT * FROM notes") == []


def test_a_sqlite_error_becomes_a_store_error_naming_the_file_and_undoes_the_transaction(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    database = _notes(path)
    with pytest.raises(StoreError) as failed:
        _write(database, (1, "undone"), (1, "same key"))
    assert str(failed.value) == f"{path}: UNIQUE constraint failed: notes.id"
    assert query(path, "SELECT * FROM notes") == []


def test_a_file_that_is_no_database_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.write_text("servers:\n  - files\n", encoding="utf-8")
    with pytest.raises(StoreError) as refused:
        Store.open(path)
    assert str(refused.value) == f"{path}: file is not a database"


def test_a_file_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(StoreError) as refused:
        SqliteDatabase(blocker / "registry.db")
    assert str(refused.value) == f"cannot create the database {blocker / 'registry.db'}: File exists"


def test_a_closed_database_takes_no_transactions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "registry.db")
    store.close()
    with pytest.raises(RuntimeError, match="is closed"):
        store.registrations.load()
