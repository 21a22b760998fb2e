"""Registry files as the bridge wrote them before the store had migrations.

``bridge/gateway/store.py`` kept one row per server in ``servers (name, config)``, the config a
JSON object of every ``ServerConfig`` field (``dataclasses.asdict``, tuples as lists, keys sorted).
Releases before CPU pinning wrote the same object without ``cpus``. The blobs are spelt out
here, not built from today's ``ServerConfig``, so they stay what was written then.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from bridge.config import ServerConfig

#: Exactly the old store's statement, so the file is the one it made.
OLD_TABLE = "CREATE TABLE IF NOT EXISTS servers (name TEXT PRIMARY KEY, config TEXT NOT NULL)"

FILES_BLOB: dict[str, Any] = {
    "name": "files",
    "transport": "stdio",
    "command": "npx",
    "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"],
    "env": {"API_KEY": "env-secret", "LANG": "C.UTF-8"},
    "cwd": "/srv",
    "url": None,
    "headers": {},
    "protocol": "auto",
    "call_timeout": 60.0,
    "cpus": [0, 1],
}
FILES = ServerConfig(
    name="files",
    transport="stdio",
    command="npx",
    args=("-y", "@modelcontextprotocol/server-filesystem", "/srv/data"),
    env={"API_KEY": "env-secret", "LANG": "C.UTF-8"},
    cwd="/srv",
    call_timeout=60.0,  # written out whole before the bridge left the default to --timeout
    cpus=(0, 1),
)
REMOTE_BLOB: dict[str, Any] = {
    "name": "remote",
    "transport": "streamable-http",
    "command": None,
    "args": [],
    "env": {},
    "cwd": None,
    "url": "https://mcp.example.test/mcp",
    "headers": {"Authorization": "Bearer header-secret", "X-Tenant": "t1"},
    "protocol": "2025-06-18",
    "call_timeout": 12.5,
    "cpus": None,
}
REMOTE = ServerConfig(
    name="remote",
    transport="streamable-http",
    url="https://mcp.example.test/mcp",
    headers={"Authorization": "Bearer header-secret", "X-Tenant": "t1"},
    protocol="2025-06-18",
    call_timeout=12.5,
)
AUTO_BLOB: dict[str, Any] = FILES_BLOB | {"name": "auto", "args": [], "env": {}, "cwd": None, "cpus": "auto"}
AUTO = ServerConfig(name="auto", transport="stdio", command="npx", call_timeout=60.0, cpus="auto")
#: Written before CPU pinning: the object has no "cpus" member at all.
LEGACY_SSE_BLOB: dict[str, Any] = {
    "name": "legacy-sse",
    "transport": "sse",
    "command": None,
    "args": [],
    "env": {},
    "cwd": None,
    "url": "http://127.0.0.1:9/sse",
    "headers": {"Authorization": "Bearer sse-secret"},
    "protocol": "legacy",
    "call_timeout": 30.0,
}
LEGACY_SSE = ServerConfig(
    name="legacy-sse",
    transport="sse",
    url="http://127.0.0.1:9/sse",
    headers={"Authorization": "Bearer sse-secret"},
    protocol="legacy",
    call_timeout=30.0,
)
SECRETS = ("env-secret", "header-secret", "sse-secret")


def write_old_registry(path: Path, rows: list[tuple[str, str]]) -> None:
    """A file as the old store left it: its one table, holding ``(name, config)`` rows."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(OLD_TABLE)
        db.executemany("INSERT INTO servers (name, config) VALUES (?, ?)", rows)


def old_row(blob: dict[str, Any]) -> tuple[str, str]:
    return blob["name"], json.dumps(blob, sort_keys=True)


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows read straight from the file, past the store."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()
