"""The store's tests run on each engine: ``store_target`` is a SQLite file or a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.postgres import postgres_cluster, postgres_url  # noqa: F401  (fixtures)

ENGINES = ("sqlite", "postgresql")


def target(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file, or a new database in the session's cluster."""
    if engine == "sqlite":
        return str(tmp_path / "store.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=ENGINES)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store is, on each engine."""
    return target(request.param, request, tmp_path)
