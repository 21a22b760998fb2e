"""Named API keys kept in the store: a credential source, held in memory and kept current.

A key reads ``mcpb_<id>_<secret>``: the prefix tells this source its own keys without a lookup,
the id finds the kept record, and the SHA-256 of the whole key is compared with the kept hash in
constant time. A valid key stands for ``key:<id>`` with the record's scopes and allowlists; a
revoked or expired one is refused (401), and says so only to whoever holds the key itself.

Every key is held in memory: a request never reads the database. The store's change watcher
(``bridge.store.changes``) calls ``refresh`` when the keys' change counter moved, so a key made,
revoked or rotated by another process (another instance, ``mcp-bridge keys …``) takes effect
within a second; changes made through this process's admin API take effect at once (``reload``). When a key
was last used is written through the store's writer thread, at most once a minute per key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bridge.errors import Unauthorized
from bridge.model import ADMIN, Principal
from bridge.store.database import timestamp
from bridge.store.keys import KeyRecord, KeyStore
from bridge.store.writer import StoreWriter

__all__ = ["KEY_PREFIX", "TOUCH_INTERVAL", "StoredKeys", "key_hash", "new_key"]


#: What every stored key begins with, so it is told apart from other credentials at a glance.
KEY_PREFIX = "mcpb_"
#: A key's last use is written at most this often (seconds): a write per request would cost more
#: than the request, and a minute is as precise as "last used" needs to be.
TOUCH_INTERVAL = 60.0
#: 32 random bytes: guessing a key is out of reach, so one SHA-256 (no slow hash) keeps it safe.
SECRET_BYTES = 32


def new_key(key_id: str) -> str:
    """A fresh key for the record ``key_id``; shown once and never kept."""
    return f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def key_hash(key: str) -> str:
    """What is kept of a key: the hex SHA-256 of all of it."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Key:
    """A kept key as a request checks it: its digest, its principal, and whether it still holds."""

    digest: bytes
    principal: Principal
    revoked: bool
    #: Seconds since the epoch; None: never.
    expires: float | None

    @classmethod
    def from_record(cls, record: KeyRecord) -> _Key:
        servers: frozenset[str] | None = None if record.servers is None else frozenset(record.servers)
        if record.tools is not None:
            # A key limited to some tools uses only their servers (their resources and prompts too).
            named = frozenset(entry.partition(".")[0] for entry in record.tools)
            servers = named if servers is None else servers & named
        principal = Principal.restricted("key:" + record.id, record.scopes, servers, record.tools)
        expires = None if record.expires_at is None else datetime.fromisoformat(record.expires_at).timestamp()
        return cls(bytes.fromhex(record.secret_hash), principal, record.revoked_at is not None, expires)


class StoredKeys:
    """The store's keys as a credential source (``bridge.gate.credentials``); see the module's notes."""

    def __init__(self, store: KeyStore, writer: StoreWriter | None = None) -> None:
        self._store = store
        self._writer = writer
        self._keys: Mapping[str, _Key] = {}
        self._version: int | None = None
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        self.enabled = False
        self.may_admin = False
        self.reload()

    def principal_for(self, credential: str) -> Principal | None:
        if not credential.startswith(KEY_PREFIX):
            return None
        key_id = credential[len(KEY_PREFIX) :].partition("_")[0]
        key = self._keys.get(key_id)
        if key is None:
            return None
        if not hmac.compare_digest(hashlib.sha256(credential.encode()).digest(), key.digest):
            raise Unauthorized("the API key is not valid")
        if key.revoked:
            raise Unauthorized("the API key has been revoked")
        if key.expires is not None and time.time() >= key.expires:
            raise Unauthorized("the API key has expired")
        self._touch(key_id)
        return key.principal

    def _touch(self, key_id: str) -> None:
        if self._writer is None:
            return
        now = time.monotonic()
        if now - self._touched.get(key_id, -TOUCH_INTERVAL) < TOUCH_INTERVAL:
            return
        self._touched[key_id] = now
        at = timestamp()
        self._writer.submit(lambda tx: KeyStore.touch(tx, key_id, at))

    # -- keeping current -------------------------------------------------------------------------

    def reload(self) -> None:
        """Load every key again (this process changed one, or the change counter moved)."""
        with self._lock:
            version = self._store.version()  # read first: a change made meanwhile is seen next time
            keys = {record.id: _Key.from_record(record) for record in self._store.every()}
            self._keys = keys
            self._version = version
            valid = [k for k in keys.values() if not k.revoked]
            self.enabled = bool(valid)
            self.may_admin = any(ADMIN in k.principal.scopes for k in valid)

    def refresh(self) -> bool:
        """Reload if another process changed the keys since; whether it did."""
        if self._store.version() == self._version:
            return False
        self.reload()
        return True
