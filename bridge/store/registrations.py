"""Servers registered over REST: the ``RegistrationStore`` protocol, in SQL and in memory.

A registration is a whole ``ServerConfig``, secrets included (headers, env, an OAuth client
secret): the database is the operator's own, and nothing read from it is logged or answered.
Each field has a column; sequences and mappings are JSON text, so the table reads the same on
every engine. ``credentials`` holds what a server has beyond headers (schema version 6). Every
save and delete bumps the ``registrations`` change counter, so other instances follow it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from bridge.config import ClientCredentials, Cpus, ServerConfig, Transport
from bridge.store.changes import bump
from bridge.store.database import Database, Row, Value, as_number, as_optional_text, as_text, timestamp
from bridge.store.errors import StoreError

__all__ = ["MemoryRegistrationStore", "RegistrationStore", "SqlRegistrationStore"]

_TRANSPORTS: Mapping[str, Transport] = {"stdio": "stdio", "streamable-http": "streamable-http", "sse": "sse"}
_LOAD = (
    "SELECT name, transport, url, command, args, env, headers, cwd, cpus, call_timeout, protocol, credentials"
    " FROM registrations ORDER BY name"
)
_SAVE = (
    "INSERT INTO registrations (name, transport, url, command, args, env, headers, cwd, cpus, call_timeout,"
    " protocol, credentials, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET transport = excluded.transport, url = excluded.url,"
    " command = excluded.command, args = excluded.args, env = excluded.env, headers = excluded.headers,"
    " cwd = excluded.cwd, cpus = excluded.cpus, call_timeout = excluded.call_timeout,"
    " protocol = excluded.protocol, credentials = excluded.credentials,"
    " updated_at = excluded.updated_at"  # created_at stays the first save's
)
_DELETE = "DELETE FROM registrations WHERE name = ?"


class RegistrationStore(Protocol):
    """Where registered servers are kept between restarts."""

    def load(self) -> list[ServerConfig]:
        """Every registration, by name."""
        ...

    def save(self, config: ServerConfig) -> None:
        """Keep ``config``, replacing a registration of the same name."""
        ...

    def delete(self, name: str) -> None:
        """Forget the registration of that name, if there is one."""
        ...


class SqlRegistrationStore:
    """Registrations in a database's ``registrations`` table (schema version 2 and later)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def load(self) -> list[ServerConfig]:
        with self._database.transaction() as tx:
            rows = tx.query(_LOAD)
        try:
            return [_config(row) for row in rows]
        except StoreError as exc:
            raise StoreError(f"{self._database.location}: {exc}") from exc

    def save(self, config: ServerConfig) -> None:
        now = timestamp()
        with self._database.transaction() as tx:
            tx.execute(_SAVE, (*_columns(config), now, now))
            bump(tx, "registrations")

    def delete(self, name: str) -> None:
        with self._database.transaction() as tx:
            if tx.execute(_DELETE, (name,)):
                bump(tx, "registrations")


class MemoryRegistrationStore:
    """Registrations for the life of the process only: for tests, and a bridge with no database."""

    def __init__(self) -> None:
        self._items: dict[str, ServerConfig] = {}
        self._lock = threading.Lock()

    def load(self) -> list[ServerConfig]:
        with self._lock:
            return [self._items[name] for name in sorted(self._items)]

    def save(self, config: ServerConfig) -> None:
        with self._lock:
            self._items[config.name] = config

    def delete(self, name: str) -> None:
        with self._lock:
            self._items.pop(name, None)


def _columns(config: ServerConfig) -> tuple[Value, ...]:
    return (
        config.name,
        config.transport,
        config.url,
        config.command,
        json.dumps(list(config.args)),
        json.dumps(dict(config.env), sort_keys=True),
        json.dumps(dict(config.headers), sort_keys=True),
        config.cwd,
        None if config.cpus is None else json.dumps(config.cpus if config.cpus == "auto" else list(config.cpus)),
        config.call_timeout,
        config.protocol,
        _credentials_column(config),
    )


def _credentials_column(config: ServerConfig) -> str | None:
    """What a registration has beyond headers, as JSON; None when nothing (so older rows read the same)."""
    kept: dict[str, Any] = {}
    if config.oauth is not None:
        grant = config.oauth
        kept["oauth"] = {
            "tokenUrl": grant.token_url,
            "clientId": grant.client_id,
            "clientSecret": grant.client_secret,
            "scope": grant.scope,
            "audience": grant.audience,
            "resource": grant.resource,
            "clientAuth": grant.client_auth,
        }
    if config.subject_header is not None:
        kept["subjectHeader"] = config.subject_header
    return json.dumps(kept, sort_keys=True) if kept else None


def _config(row: Row) -> ServerConfig:
    name, transport, url, command, args, env, headers, cwd, cpus, call_timeout, protocol, credentials = row
    kind = as_text(transport, "registrations.transport")
    if kind not in _TRANSPORTS:
        raise StoreError(f"registration {name!r} has an unknown transport {kind!r}")
    return ServerConfig(
        name=as_text(name, "registrations.name"),
        transport=_TRANSPORTS[kind],
        url=as_optional_text(url, "registrations.url"),
        command=as_optional_text(command, "registrations.command"),
        args=tuple(_json(args, list, "args")),
        env=_json(env, dict, "env"),
        headers=_json(headers, dict, "headers"),
        cwd=as_optional_text(cwd, "registrations.cwd"),
        cpus=_cpus(cpus),
        call_timeout=None if call_timeout is None else as_number(call_timeout, "registrations.call_timeout"),
        protocol=as_text(protocol, "registrations.protocol"),
        **_credentials(credentials),
    )


def _credentials(value: Value) -> dict[str, Any]:
    """The ``ServerConfig`` fields the credentials column holds (none for NULL)."""
    if value is None:
        return {}
    kept = _json(value, dict, "credentials")
    fields: dict[str, Any] = {}
    try:
        if (grant := kept.get("oauth")) is not None:
            fields["oauth"] = ClientCredentials(
                token_url=str(grant["tokenUrl"]),
                client_id=str(grant["clientId"]),
                client_secret=str(grant["clientSecret"]),
                scope=grant.get("scope"),
                audience=grant.get("audience"),
                resource=grant.get("resource"),
                client_auth="post" if grant.get("clientAuth") == "post" else "basic",
            )
    except (KeyError, TypeError, AttributeError) as exc:  # the message never quotes the (secret) content
        raise StoreError("column registrations.credentials holds an OAuth grant this bridge did not write") from exc
    if (header := kept.get("subjectHeader")) is not None:
        fields["subject_header"] = str(header)
    return fields


def _decoded(value: Value, column: str) -> Any:
    try:
        return json.loads(as_text(value, f"registrations.{column}"))
    except ValueError as exc:  # the problem never quotes the value: it may be a secret
        raise StoreError(f"column registrations.{column} holds text that is not JSON") from exc


def _json(value: Value, kind: type[Any], column: str) -> Any:
    decoded = _decoded(value, column)
    if not isinstance(decoded, kind):
        raise StoreError(f"column registrations.{column} holds JSON that is not a {kind.__name__}")
    return decoded


def _cpus(value: Value) -> Cpus | None:
    if value is None:
        return None
    decoded = _decoded(value, "cpus")
    if decoded == "auto":
        return "auto"
    if isinstance(decoded, list) and all(isinstance(cpu, int) for cpu in decoded):
        return tuple(decoded)
    raise StoreError('column registrations.cpus holds neither CPU numbers nor "auto"')
