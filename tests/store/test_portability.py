"""The store's SQL is what PostgreSQL accepts too: no SQLite-only construct anywhere it is written or run.

Three nets: every SQL literal in the store's modules (the SQLite engine's own excepted), every
statement actually run while migrating an old file and keeping registrations (which catches SQL
that Python steps build), and the column types of the schema that results.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from bridge.store import MIGRATIONS, Database, Store, Transaction, open_database
from bridge.store.database import Dialect, Row, Value
from tests.store.legacy import AUTO_BLOB, FILES, FILES_BLOB, LEGACY_SSE_BLOB, old_row, query, write_old_registry

STORE = Path(__file__).resolve().parents[2] / "bridge" / "store"
#: The modules that may speak their engine's dialect (BEGIN IMMEDIATE, pg_advisory_xact_lock with
#: psycopg's placeholder): they are the engines.
ENGINE_MODULES = {"sqlite.py", "postgres.py"}
SQLITE_ONLY = {
    "INSERT OR … (use INSERT … ON CONFLICT)": r"\bINSERT\s+OR\s+\w+",
    "REPLACE INTO (use INSERT … ON CONFLICT)": r"\bREPLACE\s+INTO\b",
    "AUTOINCREMENT (use an explicit key or GENERATED … AS IDENTITY)": r"\bAUTOINCREMENT\b",
    "PRAGMA": r"\bPRAGMA\b",
    "rowid": r"\b_?(rowid|oid)_?\b",
    "BEGIN IMMEDIATE/EXCLUSIVE/DEFERRED": r"\bBEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\b",
    "SQLite date functions (pass times as parameters)": r"\b(date|time|datetime|julianday|unixepoch|strftime)\s*\(",
    "SQLite-only functions": (
        r"\b(ifnull|iif|instr|printf|group_concat|glob|likely|unlikely|likelihood|changes|total_changes"
        r"|last_insert_rowid|randomblob|zeroblob|typeof|quote|sqlite_\w+|json\w*)\s*\("
    ),
    "GLOB": r"\bGLOB\b",
    "== (PostgreSQL has only =)": r"==",
    "double quotes (SQLite may read a misspelt name as text)": r'"',
    "backquoted names": r"`",
    "COLLATE NOCASE": r"\bNOCASE\b",
    "INDEXED BY": r"\bINDEXED\s+BY\b",
    "ATTACH, DETACH, VACUUM": r"\b(ATTACH|DETACH|VACUUM)\b",
    "placeholders other than ?": r":\w|\$\d|%s|%\(|@\w",
}
PORTABLE_TYPES = {"TEXT", "INTEGER", "BIGINT", "REAL", "DOUBLE PRECISION", "BOOLEAN"}
_SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH)\b")


def sqlite_only(sql: str) -> list[str]:
    """The SQLite-only constructs ``sql`` uses, by name."""
    return [name for name, pattern in SQLITE_ONLY.items() if re.search(pattern, sql, re.IGNORECASE)]


def _sql_literals() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for module in sorted(STORE.glob("*.py")):
        if module.name in ENGINE_MODULES:
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL_START.match(node.value):
                found.setdefault(module.name, []).append(node.value)
    return found


class _RecordingTransaction:
    def __init__(self, inner: Transaction, record: list[str]) -> None:
        self._inner = inner
        self._record = record

    def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        self._record.append(sql)
        return self._inner.execute(sql, params)

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        self._record.append(sql)
        return self._inner.query(sql, params)


class _RecordingDatabase:
    """A ``Database`` that notes every statement it is given, then runs it in the real one."""

    def __init__(self, inner: Database) -> None:
        self._inner = inner
        self.statements: list[str] = []

    @property
    def location(self) -> str:
        return self._inner.location

    @property
    def dialect(self) -> Dialect:
        return self._inner.dialect

    @contextmanager
    def transaction(self, *, lock: int | None = None) -> Iterator[Transaction]:
        with self._inner.transaction(lock=lock) as tx:
            yield _RecordingTransaction(tx, self.statements)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize(
    "offender",
    [
        "INSERT OR REPLACE INTO servers (name, config) VALUES (?, ?)",  # what the old store ran
        "CREATE TABLE calls (id INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT)",
        "SELECT name FROM registrations WHERE updated_at > datetime('now', '-1 day')",
        'SELECT name FROM registrations WHERE transport == "sse"',
        "DELETE FROM registrations WHERE rowid = ?",
        "UPDATE registrations SET cwd = :cwd WHERE name = :name",
    ],
)
def test_the_guard_flags_sqlite_only_sql(offender: str) -> None:
    assert sqlite_only(offender) != []


def test_every_migration_statement_is_portable() -> None:
    statements = [sql for migration in MIGRATIONS for sql in migration.statements()]
    assert {sql: sqlite_only(sql) for sql in statements} == {sql: [] for sql in statements}


def test_every_sql_literal_in_the_store_modules_is_portable() -> None:
    literals = _sql_literals()
    assert {"migrations.py", "migrator.py", "registrations.py"} <= set(literals)
    assert any("ON CONFLICT (name) DO UPDATE" in sql for sql in literals["registrations.py"])
    flagged = {sql: sqlite_only(sql) for sqls in literals.values() for sql in sqls if sqlite_only(sql)}
    assert flagged == {}


def test_every_statement_run_while_migrating_and_keeping_registrations_is_portable(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    write_old_registry(path, [old_row(blob) for blob in (FILES_BLOB, AUTO_BLOB, LEGACY_SSE_BLOB)])
    database = _RecordingDatabase(open_database(path))
    with Store.from_database(database) as store:
        store.registrations.save(FILES)
        store.registrations.delete("auto")
        store.registrations.load()
    assert any(sql.startswith("INSERT INTO registrations") for sql in database.statements)  # the Python step's
    assert {sql: sqlite_only(sql) for sql in database.statements} == {sql: [] for sql in database.statements}


def test_the_schema_declares_only_portable_column_types(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    Store.open(path).close()
    tables = [name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    declared = {str(row[2]) for table in tables for row in query(path, f"PRAGMA table_info({table})")}
    assert declared <= PORTABLE_TYPES
