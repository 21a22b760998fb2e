"""The seam between record stores and a database engine: transactions of portable SQL.

Stores and migrations write SQL once, with ``?`` placeholders and only what SQLite and
PostgreSQL both accept; an engine's ``Database`` runs it in transactions, translating the
placeholders for its driver here, in ``to_paramstyle``, and nowhere else. SQLite
(``bridge.store.sqlite``) and PostgreSQL (``bridge.store.postgres``, psycopg) implement it; a
``Database`` names its ``dialect`` for the few places that must differ (a migration step's
engine variants, ``bridge.store.migrations``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bridge.store.errors import StoreError

__all__ = [
    "Cursor",
    "Database",
    "DbApiTransaction",
    "Dialect",
    "Row",
    "Transaction",
    "Value",
    "as_number",
    "as_optional_text",
    "as_text",
    "timestamp",
    "to_paramstyle",
]

#: What a column holds, as a DB-API driver hands it over and takes it.
Value = str | int | float | None
Row = tuple[Value, ...]
#: The SQL dialect an engine speaks.
Dialect = Literal["sqlite", "postgresql"]

_FORMAT_STYLES = ("format", "pyformat")


class Transaction(Protocol):
    """Statements that commit together, or not at all: portable SQL with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        """Run one query; all its rows."""
        ...


class Database(Protocol):
    """Where records are kept; it hands out transactions."""

    @property
    def location(self) -> str:
        """Where the database is, for messages (a file path; never a password)."""
        ...

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect the engine speaks."""
        ...

    def transaction(self, *, lock: int | None = None) -> AbstractContextManager[Transaction]:
        """A transaction, committed when the block ends and rolled back if it raises.

        With ``lock``, the transaction first takes that advisory lock and holds it to its end, so
        every caller naming the same key runs alone, across processes: migrations use this.
        PostgreSQL takes ``pg_advisory_xact_lock(lock)``; an engine with one writer at a time
        (SQLite) may take its write lock instead, which serialises the callers the same way.
        """
        ...

    def close(self) -> None:
        """Release what the database holds; it takes no transactions after this."""
        ...


class Cursor(Protocol):
    """The part of a DB-API 2.0 cursor a transaction uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Value], /) -> object: ...

    def fetchall(self) -> list[Any]: ...


class DbApiTransaction:
    """A ``Transaction`` over a DB-API cursor whose driver expects ``paramstyle`` placeholders."""

    def __init__(self, cursor: Cursor, paramstyle: str) -> None:
        self._cursor = cursor
        self._paramstyle = paramstyle

    def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        self._cursor.execute(to_paramstyle(sql, self._paramstyle), params)
        return self._cursor.rowcount

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        self._cursor.execute(to_paramstyle(sql, self._paramstyle), params)
        return [tuple(row) for row in self._cursor.fetchall()]


def to_paramstyle(sql: str, paramstyle: str) -> str:
    """``sql``, written with ``?`` placeholders, for a driver of that DB-API ``paramstyle``.

    A ``?`` inside a quoted literal or identifier is text, not a placeholder. For the ``%s``
    styles every ``%`` is doubled, quoted or not, since such drivers read all of them.
    Translations are remembered: the store's statements are a few hundred constants, run on
    every call, and translating one cost more than a PostgreSQL driver spends running it.
    """
    if paramstyle == "qmark":
        return sql
    return _translated(sql, paramstyle)


@functools.lru_cache(maxsize=1024)
def _translated(sql: str, paramstyle: str) -> str:
    if paramstyle not in (*_FORMAT_STYLES, "numeric"):
        raise RuntimeError(f"no placeholder translation for DB-API paramstyle {paramstyle!r}")
    formatted = paramstyle in _FORMAT_STYLES
    out: list[str] = []
    quote: str | None = None
    count = 0
    for char in sql:
        if formatted and char == "%":
            out.append("%%")
        elif quote is not None:
            out.append(char)
            if char == quote:  # a doubled quote closes and reopens: still inside, as it should be
                quote = None
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            count += 1
            out.append("%s" if formatted else f":{count}")
        else:
            out.append(char)
    return "".join(out)


def timestamp() -> str:
    """Now, as stored: ISO 8601 in UTC, text that sorts and compares alike on every engine."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def as_text(value: Value, column: str) -> str:
    if not isinstance(value, str):
        raise StoreError(f"column {column} holds {type(value).__name__}, not text")
    return value


def as_optional_text(value: Value, column: str) -> str | None:
    return None if value is None else as_text(value, column)


def as_number(value: Value, column: str) -> float:
    if not isinstance(value, int | float):
        raise StoreError(f"column {column} holds {type(value).__name__}, not a number")
    return float(value)
