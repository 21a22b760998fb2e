"""Named API keys: the ``api_keys`` table, and the change counter other processes watch.

A key is kept as the SHA-256 of the whole key, never as itself: a copy of the database lets
nobody call the bridge. Every change that matters to authentication (a key made, revoked or
rotated) bumps ``api_key_changes.version`` in the same transaction, so a running bridge learns
of a change the CLI made by reading one row. When a key was last used is written apart, through
the ``StoreWriter`` (``touch``), and bumps nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bridge.store.database import Database, Row, Transaction, Value, as_optional_text, as_text, timestamp
from bridge.store.errors import StoreError

__all__ = ["KeyRecord", "KeyStore"]

_LOAD = (
    "SELECT id, name, secret_hash, scopes, servers, tools, expires_at, revoked_at, created_at, rotated_at, last_used_at"
    " FROM api_keys ORDER BY created_at, id"
)
_GET = (
    "SELECT id, name, secret_hash, scopes, servers, tools, expires_at, revoked_at, created_at, rotated_at, last_used_at"
    " FROM api_keys WHERE id = ?"
)
_INSERT = (
    "INSERT INTO api_keys (id, name, secret_hash, scopes, servers, tools, expires_at, revoked_at, created_at,"
    " rotated_at, last_used_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_REVOKE = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
_ROTATE = "UPDATE api_keys SET secret_hash = ?, rotated_at = ? WHERE id = ? AND revoked_at IS NULL"
_TOUCH = "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
_BUMP = "UPDATE api_key_changes SET version = version + 1 WHERE id = 1"
_VERSION = "SELECT version FROM api_key_changes WHERE id = 1"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as kept: its hash, never the key."""

    id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    #: Server names; None for every server.
    servers: tuple[str, ...] | None
    #: ``server.tool`` or ``server.*`` entries; None for every tool.
    tools: tuple[str, ...] | None
    expires_at: str | None
    revoked_at: str | None
    created_at: str
    rotated_at: str | None = None
    last_used_at: str | None = None


class KeyStore:
    """The ``api_keys`` table (schema version 5 and later)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def every(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        with self._database.transaction() as tx:
            return [_record(row) for row in tx.query(_LOAD)]

    def key(self, key_id: str) -> KeyRecord | None:
        with self._database.transaction() as tx:
            rows = tx.query(_GET, (key_id,))
        return _record(rows[0]) if rows else None

    def version(self) -> int:
        """The change counter: it differs whenever a key was made, revoked or rotated since."""
        with self._database.transaction() as tx:
            rows = tx.query(_VERSION)
        value = rows[0][0] if rows else None
        if not isinstance(value, int):
            raise StoreError("table api_key_changes lost its counter row")
        return value

    def insert(self, record: KeyRecord) -> None:
        with self._database.transaction() as tx:
            tx.execute(_INSERT, _columns(record))
            tx.execute(_BUMP)

    def revoke(self, key_id: str) -> bool:
        """Revoke a valid key; False if there is none of that id or it was revoked already."""
        with self._database.transaction() as tx:
            changed = tx.execute(_REVOKE, (timestamp(), key_id)) > 0
            if changed:
                tx.execute(_BUMP)
        return changed

    def rotate(self, key_id: str, secret_hash: str) -> bool:
        """Give a valid key a new hash (the old key stops working); False if there is no such valid key."""
        with self._database.transaction() as tx:
            changed = tx.execute(_ROTATE, (secret_hash, timestamp(), key_id)) > 0
            if changed:
                tx.execute(_BUMP)
        return changed

    @staticmethod
    def touch(tx: Transaction, key_id: str, at: str) -> None:
        """Record a use of the key, in the ``StoreWriter``'s transaction."""
        tx.execute(_TOUCH, (at, key_id))


def _columns(record: KeyRecord) -> tuple[Value, ...]:
    return (
        record.id,
        record.name,
        record.secret_hash,
        json.dumps(list(record.scopes)),
        None if record.servers is None else json.dumps(list(record.servers)),
        None if record.tools is None else json.dumps(list(record.tools)),
        record.expires_at,
        record.revoked_at,
        record.created_at,
        record.rotated_at,
        record.last_used_at,
    )


def _names(value: Value, column: str) -> tuple[str, ...]:
    try:
        decoded = json.loads(as_text(value, f"api_keys.{column}"))
    except ValueError as exc:
        raise StoreError(f"column api_keys.{column} holds text that is not JSON") from exc
    if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
        raise StoreError(f"column api_keys.{column} holds JSON that is not a list of names")
    return tuple(decoded)


def _record(row: Row) -> KeyRecord:
    key_id, name, secret_hash, scopes, servers, tools, expires_at, revoked_at, created_at, rotated_at, used = row
    return KeyRecord(
        id=as_text(key_id, "api_keys.id"),
        name=as_text(name, "api_keys.name"),
        secret_hash=as_text(secret_hash, "api_keys.secret_hash"),
        scopes=_names(scopes, "scopes"),
        servers=None if servers is None else _names(servers, "servers"),
        tools=None if tools is None else _names(tools, "tools"),
        expires_at=as_optional_text(expires_at, "api_keys.expires_at"),
        revoked_at=as_optional_text(revoked_at, "api_keys.revoked_at"),
        created_at=as_text(created_at, "api_keys.created_at"),
        rotated_at=as_optional_text(rotated_at, "api_keys.rotated_at"),
        last_used_at=as_optional_text(used, "api_keys.last_used_at"),
    )
