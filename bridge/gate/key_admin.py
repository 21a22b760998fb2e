"""Managing named API keys: create, list, look at, revoke and rotate; the admin API and the CLI both use it.

Plain synchronous code over ``KeyStore``. A key is shown once, in the answer that made it
(create, rotate), and never again: every other answer and every log line names a key by its
id. The body of a create is checked here, whoever sends it (the REST edge has checked its
shape against the spec already; the CLI has not), and problems point into it: an unknown scope,
an allowlist entry that names no server or tool, an expiry that has passed.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bridge.errors import FieldError, NotFound, RequestInvalid, Unprocessable
from bridge.gate.stored_keys import KEY_PREFIX, key_hash, new_key
from bridge.model import SCOPES, USE
from bridge.store.database import timestamp
from bridge.store.keys import KeyRecord, KeyStore

__all__ = ["ApiKeys", "describe", "parse_expiry"]

log = logging.getLogger(__name__)

#: A server allowlist entry: a server name, as ``bridge.config`` allows them.
SERVER_ENTRY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: A tool allowlist entry: ``server.tool`` or ``server.*``.
TOOL_ENTRY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.(\*|[^*\s]+)$")
#: Names are labels for people; this keeps listings readable.
NAME_CHARS = 100


def parse_expiry(text: str) -> datetime:
    """An RFC 3339 time (``2027-01-31T00:00:00Z``); one without a zone is read as UTC."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class ApiKeys:
    """The keys kept in ``store``; ``changed`` hears of each change (the credential source reloads)."""

    def __init__(self, store: KeyStore, changed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._changed = changed

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new key from a create body; the answer holds the key, this once."""
        name, scopes, servers, tools, expires = _checked(body)
        key_id = secrets.token_hex(6)
        key = new_key(key_id)
        record = KeyRecord(
            id=key_id,
            name=name,
            secret_hash=key_hash(key),
            scopes=scopes,
            servers=servers,
            tools=tools,
            expires_at=expires,
            revoked_at=None,
            created_at=timestamp(),
        )
        self._store.insert(record)
        log.info("API key %s (%s) created", key_id, name)
        self._tell()
        return {**describe(record), "key": key}

    def list(self) -> list[dict[str, Any]]:
        return [describe(record) for record in self._store.every()]

    def get(self, key_id: str) -> dict[str, Any]:
        return describe(self._record(key_id))

    def revoke(self, key_id: str) -> dict[str, Any]:
        """Revoke a key for good; revoking a revoked key changes nothing."""
        if self._store.revoke(key_id):
            log.info("API key %s revoked", key_id)
            self._tell()
        return describe(self._record(key_id))

    def rotate(self, key_id: str) -> dict[str, Any]:
        """A new key for the same record (id, scopes, allowlists), shown this once; the old key stops working."""
        record = self._record(key_id)
        if record.revoked_at is not None:
            raise Unprocessable(f"API key {key_id!r} is revoked; create a new one")
        key = new_key(key_id)
        if not self._store.rotate(key_id, key_hash(key)):
            raise Unprocessable(f"API key {key_id!r} is revoked; create a new one")
        log.info("API key %s rotated", key_id)
        self._tell()
        return {**describe(self._record(key_id)), "key": key}

    def _record(self, key_id: str) -> KeyRecord:
        record = self._store.key(key_id)
        if record is None:
            raise NotFound(f"no API key with id {key_id!r}")
        return record

    def _tell(self) -> None:
        if self._changed is not None:
            self._changed()


def describe(record: KeyRecord) -> dict[str, Any]:
    """A key as answered: everything but its hash."""
    return {
        "id": record.id,
        "name": record.name,
        "prefix": f"{KEY_PREFIX}{record.id}_",
        "scopes": list(record.scopes),
        "servers": None if record.servers is None else list(record.servers),
        "tools": None if record.tools is None else list(record.tools),
        "expiresAt": record.expires_at,
        "revoked": record.revoked_at is not None,
        "revokedAt": record.revoked_at,
        "createdAt": record.created_at,
        "rotatedAt": record.rotated_at,
        "lastUsedAt": record.last_used_at,
    }


def _checked(
    body: Mapping[str, Any],
) -> tuple[str, tuple[str, ...], tuple[str, ...] | None, tuple[str, ...] | None, str | None]:
    """A create body's name, scopes, allowlists and expiry, or 400 pointing at each problem."""
    problems: list[FieldError] = []
    raw_name = body.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    if not name or len(name) > NAME_CHARS:
        problems.append(FieldError("/body/name", f"give the key a name of 1 to {NAME_CHARS} characters"))
    raw_scopes = body.get("scopes", [USE])
    scopes = _entries(raw_scopes, "scopes", lambda s: s in SCOPES, problems) or ()
    if raw_scopes is None or raw_scopes == []:
        problems.append(FieldError("/body/scopes", f"give at least one of {', '.join(SCOPES)}"))
    servers = _entries(body.get("servers"), "servers", SERVER_ENTRY.match, problems)
    tools = _entries(body.get("tools"), "tools", TOOL_ENTRY.match, problems)
    expires = _expiry(body.get("expiresAt"), problems)
    if problems:
        raise RequestInvalid("the key cannot be made: " + "; ".join(p.message for p in problems), problems)
    return name, scopes, servers, tools, expires


_WHAT = {
    "scopes": f"not a scope (the scopes are {', '.join(SCOPES)})",
    "servers": "not a server name (lowercase letters, digits and '-')",
    "tools": "not 'server.tool' or 'server.*'",
}


def _entries(
    raw: Any, field: str, valid: Callable[[str], object], problems: list[FieldError]
) -> tuple[str, ...] | None:
    """A list of names, each checked (None stays None: no allowlist); problems point at each bad one."""
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        problems.append(FieldError(f"/body/{field}", "give a list of strings"))
        return ()
    for index, entry in enumerate(raw):
        if not isinstance(entry, str) or not valid(entry):
            problems.append(FieldError(f"/body/{field}/{index}", f"{entry!r} is {_WHAT[field]}"))
    return tuple(dict.fromkeys(e for e in raw if isinstance(e, str)))


def _expiry(raw: Any, problems: list[FieldError]) -> str | None:
    if raw is None:
        return None
    try:
        when = parse_expiry(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None:
        problems.append(FieldError("/body/expiresAt", "give an RFC 3339 time, such as 2027-01-31T00:00:00Z"))
        return None
    if when <= datetime.now(UTC):
        problems.append(FieldError("/body/expiresAt", "this time has passed; give one in the future"))
        return None
    return when.astimezone(UTC).isoformat(timespec="milliseconds")
