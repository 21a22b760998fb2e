"""The store's tests run on each engine: ``store_target`` is a SQLite file or a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.store import Store
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


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """A store migrated to the newest schema, on each engine; closed after the test."""
    with Store.open(store_target) as opened:
        yield opened


class Clock:
    """A clock the test moves by hand (``now``), for what keeps time."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now
