"""Placeholders: written once as ``?``, translated for each DB-API paramstyle in one place."""

from __future__ import annotations

import pytest

from bridge.store import to_paramstyle

SQL = "SELECT name FROM t WHERE a = ? AND b LIKE '50% of ?' AND c = ?"


@pytest.mark.parametrize(
    ("paramstyle", "expected"),
    [
        ("qmark", SQL),  # sqlite3
        ("format", "SELECT name FROM t WHERE a = %s AND b LIKE '50%% of ?' AND c = %s"),
        ("pyformat", "SELECT name FROM t WHERE a = %s AND b LIKE '50%% of ?' AND c = %s"),  # psycopg
        ("numeric", "SELECT name FROM t WHERE a = :1 AND b LIKE '50% of ?' AND c = :2"),
    ],
)
def test_placeholders_outside_quotes_become_the_drivers_own(paramstyle: str, expected: str) -> None:
    assert to_paramstyle(SQL, paramstyle) == expected


def test_a_doubled_quote_inside_a_literal_keeps_the_literal_open() -> None:
    sql = "SELECT 'it''s ?' FROM t WHERE \"odd?name\" = ?"
    assert to_paramstyle(sql, "format") == "SELECT 'it''s ?' FROM t WHERE \"odd?name\" = %s"


def test_a_paramstyle_without_a_translation_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="no placeholder translation for DB-API paramstyle 'named'"):
        to_paramstyle(SQL, "named")
