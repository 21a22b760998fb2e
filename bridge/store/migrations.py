"""The schema, version by version: an ordered list of migrations, each applied once.

Append only. A migration that has shipped is never edited, for databases out there already hold
it; so its steps write the encoding of their day themselves rather than through today's store
code. A step is portable SQL, or a Python function handed the transaction for what portable SQL
cannot do (such as reading the JSON a row holds). ``bridge.store.migrator`` applies them.

Where the engines must differ, a step is ``PerEngine``: the SQL each dialect runs, or None for
nothing there. Only such steps may be added to a shipped migration, and only for an engine no
database of which has run it: PostgreSQL databases began with migrations 1 to 8 as they are here,
so those carry PostgreSQL-only steps (SQLite files that ran them are untouched, and new ones run
the same as before). The ones there: text that is sorted or compared (names, ids, RFC 3339 times)
is declared ``COLLATE "C"`` on PostgreSQL, byte order, as SQLite's ``BINARY`` compares. A database
made with a language's collation (en_US, ICU) would otherwise sort ``Zz`` after ``aa`` and
compare times by a language's rules; byte order is also the cheap one for the indexes.
A new migration's text column that is sorted or compared gets such a step too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.store.database import Dialect, Transaction, Value, timestamp
from bridge.store.errors import StoreError

__all__ = ["MIGRATIONS", "Migration", "PerEngine", "Step"]


@dataclass(frozen=True, slots=True)
class PerEngine:
    """A step that differs by engine: the SQL each dialect runs; None runs nothing there."""

    sqlite: str | None
    postgresql: str | None

    def sql(self, dialect: Dialect) -> str | None:
        return self.sqlite if dialect == "sqlite" else self.postgresql


Step = str | PerEngine | Callable[[Transaction], None]


def _byte_order(table: str, *columns: str) -> PerEngine:
    """PostgreSQL only: ``columns`` of ``table`` compare and sort as bytes (``COLLATE "C"``)."""
    changes = ", ".join(f'ALTER COLUMN {column} TYPE TEXT COLLATE "C"' for column in columns)
    return PerEngine(sqlite=None, postgresql=f"ALTER TABLE {table} {changes}")


@dataclass(frozen=True, slots=True)
class Migration:
    """One version of the schema: steps run in order, then recorded in ``schema_migrations``."""

    version: int
    description: str
    steps: tuple[Step, ...]

    def statements(self) -> list[str]:
        """The portable SQL among the steps (the Python ones run SQL of their own; ``PerEngine``
        ones are each engine's own)."""
        return [step for step in self.steps if isinstance(step, str)]


# -- 2: servers move from one JSON blob per row into columns -----------------------------------

_INSERT_REGISTRATION_V2 = (
    "INSERT INTO registrations (name, transport, url, command, args, env, headers, cwd, cpus,"
    " call_timeout, protocol, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: What a blob without the field meant when it was written (``ServerConfig``'s defaults then).
_V1_DEFAULT_CALL_TIMEOUT = 60.0
_V1_DEFAULT_PROTOCOL = "auto"


def _v2_row(name: Any, blob: Any, now: str) -> tuple[Value, ...]:
    """A ``servers`` row as a ``registrations`` row; cpus came later, so an older blob lacks it."""
    try:
        data = json.loads(blob)
        if not isinstance(data, dict) or not isinstance(data.get("transport"), str):
            raise TypeError("not a server configuration")
        cpus = data.get("cpus")
        return (
            name,
            data["transport"],
            data.get("url"),
            data.get("command"),
            json.dumps(list(data.get("args") or ())),
            json.dumps(dict(data.get("env") or {}), sort_keys=True),
            json.dumps(dict(data.get("headers") or {}), sort_keys=True),
            data.get("cwd"),
            None if cpus is None else json.dumps(cpus),
            float(data.get("call_timeout", _V1_DEFAULT_CALL_TIMEOUT)),
            data.get("protocol", _V1_DEFAULT_PROTOCOL),
            now,  # when it was first kept went unrecorded; the move is the oldest date there is
            now,
        )
    except (TypeError, ValueError) as exc:  # the message names the row, never its (secret) content
        raise StoreError(f"the kept server {name!r} is not a server configuration this bridge wrote") from exc


def _copy_server_blobs(tx: Transaction) -> None:
    now = timestamp()
    for name, blob in tx.query("SELECT name, config FROM servers ORDER BY name"):
        tx.execute(_INSERT_REGISTRATION_V2, _v2_row(name, blob, now))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "servers: one JSON configuration each, as kept before migrations (adopts such a file)",
        ("CREATE TABLE IF NOT EXISTS servers (name TEXT PRIMARY KEY, config TEXT NOT NULL)",),
    ),
    Migration(
        2,
        "registrations: each server's configuration in columns",
        (
            "CREATE TABLE registrations ("
            " name TEXT NOT NULL PRIMARY KEY,"
            " transport TEXT NOT NULL,"
            " url TEXT,"
            " command TEXT,"
            " args TEXT NOT NULL,"  # JSON list of strings
            " env TEXT NOT NULL,"  # JSON object of strings
            " headers TEXT NOT NULL,"  # JSON object of strings
            " cwd TEXT,"
            " cpus TEXT,"  # JSON list of CPU numbers, or "auto"; NULL leaves the scheduler free
            " call_timeout DOUBLE PRECISION,"  # seconds; NULL is left free for "the bridge's default"
            " protocol TEXT NOT NULL,"
            " created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL)",
            _byte_order("registrations", "name"),
            _copy_server_blobs,
            "DROP TABLE servers",
        ),
    ),
    Migration(
        3,
        "events: the event log kept for replay",
        (
            "CREATE TABLE events ("
            " id TEXT NOT NULL PRIMARY KEY,"  # sorts in the order the events were made
            " type TEXT NOT NULL,"
            " server TEXT,"
            " at TEXT NOT NULL,"  # RFC 3339 in UTC
            " body TEXT NOT NULL)",  # the event as JSON text
            _byte_order("events", "id", "at"),
            "CREATE INDEX events_at ON events (at)",
        ),
    ),
    Migration(
        4,
        "webhooks: subscriptions with their secrets, the outbox and delivery log, every attempt",
        (
            "CREATE TABLE webhook_subscriptions ("
            " id TEXT NOT NULL PRIMARY KEY,"
            " url TEXT NOT NULL,"
            " description TEXT,"
            " types TEXT,"  # JSON list of type names and groups; NULL: every type
            " servers TEXT,"  # JSON list of server names; NULL: every server
            " include_payload INTEGER NOT NULL,"  # 0 or 1
            " enabled INTEGER NOT NULL,"  # 0 or 1
            " disabled_reason TEXT,"
            " source TEXT NOT NULL,"  # "api", or "environment" for the one WEBHOOK_URL makes
            " secret TEXT NOT NULL,"
            " previous_secret TEXT,"  # still signs, beside the new one, until previous_until
            " previous_until DOUBLE PRECISION,"  # seconds since the epoch
            " created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL)",
            _byte_order("webhook_subscriptions", "id", "created_at"),
            "CREATE TABLE webhook_deliveries ("
            " id TEXT NOT NULL PRIMARY KEY,"  # the webhook-id header: the same on every attempt
            " subscription_id TEXT NOT NULL,"
            " event_id TEXT NOT NULL,"
            " event_type TEXT NOT NULL,"
            " event_time TEXT NOT NULL,"  # RFC 3339 in UTC
            " body TEXT NOT NULL,"  # the JSON sent, as this subscription asked for it
            " status TEXT NOT NULL,"  # pending, delivered, failed
            " attempts INTEGER NOT NULL,"
            " next_attempt_at DOUBLE PRECISION,"  # seconds since the epoch; NULL once finished
            " last_status INTEGER,"  # the last response's HTTP status
            " last_error TEXT,"
            " lease_owner TEXT,"  # the instance attempting it now, for several instances later
            " lease_until DOUBLE PRECISION,"
            " created_at DOUBLE PRECISION NOT NULL,"
            " finished_at DOUBLE PRECISION)",
            _byte_order("webhook_deliveries", "id", "event_time"),
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
            "CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id)",
            "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at)",
            "CREATE TABLE webhook_attempts ("
            " delivery_id TEXT NOT NULL,"
            " attempt INTEGER NOT NULL,"
            " at DOUBLE PRECISION NOT NULL,"
            " status INTEGER,"  # NULL when no HTTP answer came (refused, timed out, …)
            " error TEXT,"
            " duration_ms DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (delivery_id, attempt))",
        ),
    ),
    Migration(
        5,
        "api_keys: named keys kept as hashes, with scopes, allowlists, expiry; a change counter",
        (
            "CREATE TABLE api_keys ("
            " id TEXT NOT NULL PRIMARY KEY,"  # the key's public part: mcpb_<id>_<secret>
            " name TEXT NOT NULL,"
            " secret_hash TEXT NOT NULL,"  # SHA-256 of the whole key, hex; the key itself is never kept
            " scopes TEXT NOT NULL,"  # JSON list of scope names
            " servers TEXT,"  # JSON list of server names; NULL: every server
            " tools TEXT,"  # JSON list of server.tool or server.*; NULL: every tool
            " expires_at TEXT,"  # RFC 3339 in UTC; NULL: never
            " revoked_at TEXT,"  # NULL while the key is valid
            " created_at TEXT NOT NULL,"
            " rotated_at TEXT,"
            " last_used_at TEXT)",
            _byte_order("api_keys", "id", "created_at"),
            # Bumped by every change that matters to authentication (not by last_used_at), so a
            # bridge sees another process's changes (the CLI's) by reading one row.
            "CREATE TABLE api_key_changes (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL)",
            "INSERT INTO api_key_changes (id, version) VALUES (1, 0)",
        ),
    ),
    Migration(
        6,
        "registrations: credentials beyond headers (OAuth 2.0 client credentials, the subject header)",
        # JSON object ({"oauth": {...}, "subjectHeader": ...}); NULL: none
        ("ALTER TABLE registrations ADD COLUMN credentials TEXT",),
    ),
    Migration(
        7,
        "calls: asynchronous tool calls, each as its latest view, kept for a retention",
        (
            "CREATE TABLE calls ("
            " id TEXT NOT NULL PRIMARY KEY,"  # unguessable, URL-safe
            " subject TEXT NOT NULL,"  # whose call it is: callers see only their own
            " state TEXT NOT NULL,"  # working, input_required, completed, failed, cancelled
            " version INTEGER NOT NULL,"
            " expires_at TEXT NOT NULL,"  # RFC 3339 in UTC; swept after it
            " document TEXT NOT NULL)",  # the view as JSON (times, progress, questions, result, problem)
            _byte_order("calls", "id", "expires_at"),
            "CREATE INDEX calls_expiry ON calls (expires_at)",
        ),
    ),
    Migration(
        8,
        "idempotency_keys: each caller's Idempotency-Key and the first answer given for it",
        (
            "CREATE TABLE idempotency_keys ("
            " subject TEXT NOT NULL,"  # the caller (a principal's subject; "anonymous" on an open bridge)
            " idempotency_key TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL,"  # SHA-256 hex of method, path and the canonical JSON body
            " status INTEGER NOT NULL,"
            " headers TEXT NOT NULL,"  # JSON list of [name, value] pairs, as answered
            " body TEXT NOT NULL,"  # the answer's body (JSON text)
            " created_at DOUBLE PRECISION NOT NULL,"  # seconds since the epoch
            " expires_at DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (subject, idempotency_key))",
            "CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)",
        ),
    ),
    Migration(
        9,
        "store_changes: a change counter per kind of record other instances follow",
        (
            # Bumped in the transaction of every change to that kind, so every instance over the
            # database sees another's change by reading these rows (keys have api_key_changes).
            "CREATE TABLE store_changes (topic TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL)",
            _byte_order("store_changes", "topic"),
            # On PostgreSQL a counter's bump also wakes every instance's watcher (LISTEN), in
            # whichever process it is made (the keys command too); SQLite's watchers poll.
            PerEngine(
                sqlite=None,
                postgresql="CREATE FUNCTION mcp_bridge_changed() RETURNS trigger LANGUAGE plpgsql AS"
                " 'BEGIN PERFORM pg_notify(''mcp_bridge_changes'', TG_TABLE_NAME); RETURN NULL; END'",
            ),
            PerEngine(
                sqlite=None,
                postgresql="CREATE TRIGGER store_changes_notify AFTER UPDATE ON store_changes"
                " FOR EACH STATEMENT EXECUTE FUNCTION mcp_bridge_changed()",
            ),
            PerEngine(
                sqlite=None,
                postgresql="CREATE TRIGGER api_key_changes_notify AFTER UPDATE ON api_key_changes"
                " FOR EACH STATEMENT EXECUTE FUNCTION mcp_bridge_changed()",
            ),
            "INSERT INTO store_changes (topic, version) VALUES ('registrations', 0)",
            "INSERT INTO store_changes (topic, version) VALUES ('webhooks', 0)",
            # Deliveries made pending for anyone to take (handed back, redelivered): sweep now.
            "INSERT INTO store_changes (topic, version) VALUES ('deliveries', 0)",
        ),
    ),
    Migration(
        10,
        "ended_sessions: handshake-era MCP sessions their clients ended, not to be served by any instance",
        (
            "CREATE TABLE ended_sessions ("
            " digest TEXT NOT NULL PRIMARY KEY,"  # SHA-256 hex of the session id (never the id itself)
            " ended_at DOUBLE PRECISION NOT NULL)",  # seconds since the epoch; swept a day after
            _byte_order("ended_sessions", "digest"),
            "CREATE INDEX ended_sessions_ended_at ON ended_sessions (ended_at)",
            # Bumped with every session ended, so the other instances end their copies of it.
            "INSERT INTO store_changes (topic, version) VALUES ('sessions', 0)",
        ),
    ),
)
