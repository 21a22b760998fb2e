"""Where servers registered over REST are kept: SQLite by default, memory for tests.

The store holds whole server configurations, secrets included (it is the operator's own file,
created readable by its owner only); nothing read from it is ever logged or answered.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from bridge.config import ServerConfig

__all__ = ["MemoryStore", "RegistryStore", "SqliteStore"]


def _to_json(config: ServerConfig) -> str:
    data = asdict(config)
    data["args"] = list(config.args)
    data["env"] = dict(config.env)
    data["headers"] = dict(config.headers)
    return json.dumps(data, sort_keys=True)


def _from_json(text: str) -> ServerConfig:
    data: dict[str, Any] = json.loads(text)
    data["args"] = tuple(data.get("args") or ())
    if isinstance(data.get("cpus"), list):  # "auto" stays as it is
        data["cpus"] = tuple(data["cpus"])
    return ServerConfig(**data)


class RegistryStore(Protocol):
    def load(self) -> list[ServerConfig]: ...
    def save(self, config: ServerConfig) -> None: ...
    def delete(self, name: str) -> None: ...


class MemoryStore:
    """Registrations for the life of the process only."""

    def __init__(self) -> None:
        self._items: dict[str, ServerConfig] = {}

    def load(self) -> list[ServerConfig]:
        return list(self._items.values())

    def save(self, config: ServerConfig) -> None:
        self._items[config.name] = config

    def delete(self, name: str) -> None:
        self._items.pop(name, None)


class SqliteStore:
    """Registrations in one SQLite file; they survive restarts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        os.chmod(path, 0o600)
        self._path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS servers (name TEXT PRIMARY KEY, config TEXT NOT NULL)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation, committed and closed (the bridge writes rarely)."""
        db = sqlite3.connect(self._path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def load(self) -> list[ServerConfig]:
        with self._lock, self._connect() as db:
            rows = db.execute("SELECT config FROM servers ORDER BY name").fetchall()
        return [_from_json(row[0]) for row in rows]

    def save(self, config: ServerConfig) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO servers (name, config) VALUES (?, ?)", (config.name, _to_json(config)))

    def delete(self, name: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM servers WHERE name = ?", (name,))
