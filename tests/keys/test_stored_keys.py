"""Named keys against a real store file: kept as hashes, checked in constant time, refused when
revoked or expired, picked up from another process's changes, and their last use written off the
request's path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import FieldError, NotFound, RequestInvalid, Unauthorized, Unprocessable
from bridge.gate import KEY_PREFIX, ApiKeys, Authenticator, StaticKeys, StoredKeys
from bridge.model import DESTRUCTIVE, USE, Principal
from bridge.store import Store
from bridge.store.changes import ChangeWatcher
from harness import poll


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "registry.db") as opened:
        yield opened


@pytest.fixture
def source(store: Store) -> StoredKeys:
    return StoredKeys(store.keys, store.writer)


def _admin(store: Store, source: StoredKeys) -> ApiKeys:
    return ApiKeys(store.keys, source.reload)


def test_a_key_is_shown_once_and_kept_only_as_its_hash(store: Store, source: StoredKeys, tmp_path: Path) -> None:
    made = _admin(store, source).create({"name": "ci", "scopes": ["use"]})
    key = made["key"]
    assert key.startswith(f"{KEY_PREFIX}{made['id']}_")
    assert len(key) > 40
    assert made["prefix"] == f"{KEY_PREFIX}{made['id']}_"
    store.writer.flush(5)
    for name in ("registry.db", "registry.db-wal"):
        kept = (tmp_path / name).read_bytes() if (tmp_path / name).exists() else b""
        assert key.encode() not in kept
        assert key.split("_", 2)[2].encode() not in kept  # nor its secret part
    assert "key" not in _admin(store, source).get(made["id"])
    assert all("key" not in listed for listed in _admin(store, source).list())


def test_a_valid_key_stands_for_its_record_with_scopes_and_allowlists(store: Store, source: StoredKeys) -> None:
    made = _admin(store, source).create(
        {"name": "team", "scopes": ["use", "destructive"], "servers": ["demo", "time"], "tools": ["demo.*"]}
    )
    principal = source.principal_for(made["key"])
    assert principal == Principal(
        subject=f"key:{made['id']}",
        scopes=frozenset({USE, DESTRUCTIVE}),
        servers=frozenset({"demo"}),  # "time" is allowed, but none of its tools is
        tools=frozenset({"demo.*"}),
    )
    assert source.principal_for("some-other-credential") is None  # not this source's kind
    assert source.principal_for(f"{KEY_PREFIX}000000000000_x") is None  # not one of its keys


def test_a_key_with_a_wrong_secret_revoked_or_expired_is_refused(store: Store, source: StoredKeys) -> None:
    admin = _admin(store, source)
    made = admin.create({"name": "short-lived"})
    with pytest.raises(Unauthorized) as wrong:
        source.principal_for(made["key"][:-2] + "xx")
    assert wrong.value.detail == "the API key is not valid"
    admin.revoke(made["id"])
    with pytest.raises(Unauthorized) as revoked:
        source.principal_for(made["key"])
    assert revoked.value.detail == "the API key has been revoked"
    soon = admin.create({"name": "expiring", "expiresAt": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    assert source.principal_for(soon["key"]) is not None

    def expired() -> str | None:
        try:
            source.principal_for(soon["key"])
        except Unauthorized as refused:
            return refused.detail
        return None

    assert poll(expired, 10, what="the key to expire") == "the API key has expired"


def test_rotating_gives_a_new_key_and_the_old_one_stops_working(store: Store, source: StoredKeys) -> None:
    admin = _admin(store, source)
    made = admin.create({"name": "rotating", "tools": ["demo.*"]})
    rotated = admin.rotate(made["id"])
    assert rotated["id"] == made["id"]
    assert rotated["tools"] == ["demo.*"]
    assert rotated["rotatedAt"] is not None
    assert rotated["key"] != made["key"]
    assert source.principal_for(rotated["key"]) is not None
    with pytest.raises(Unauthorized):
        source.principal_for(made["key"])
    admin.revoke(made["id"])
    with pytest.raises(Unprocessable) as revoked:
        admin.rotate(made["id"])
    assert revoked.value.detail == f"API key {made['id']!r} is revoked; create a new one"
    with pytest.raises(NotFound):
        admin.rotate("0123456789ab")


def test_another_process_changes_are_seen_within_a_second_or_so(
    store: Store, source: StoredKeys, tmp_path: Path
) -> None:
    watcher = ChangeWatcher(store.database, interval=0.05)
    watcher.on("keys", source.refresh)
    watcher.start()
    try:
        with Store.open(tmp_path / "registry.db") as other:  # another process's connection to the same file
            made = ApiKeys(other.keys).create({"name": "from-the-cli"})
            poll(lambda: source.principal_for(made["key"]) is not None, 10, what="the new key to be picked up")
            ApiKeys(other.keys).revoke(made["id"])

        def refused() -> bool:
            try:
                source.principal_for(made["key"])
            except Unauthorized:
                return True
            return False

        poll(refused, 10, what="the revocation to be picked up")
    finally:
        watcher.close()


def test_the_first_stored_key_closes_an_open_bridge_and_an_admin_key_enables_admin(
    store: Store, source: StoredKeys
) -> None:
    authenticator = Authenticator([StaticKeys([]), source])
    assert not authenticator.enabled
    admin = _admin(store, source)
    made = admin.create({"name": "first"})
    assert authenticator.enabled
    assert not authenticator.admin_enabled
    root = admin.create({"name": "root", "scopes": ["use", "admin"]})
    assert authenticator.admin_enabled
    assert authenticator.authenticate({"x-api-key": made["key"]}).subject == f"key:{made['id']}"
    with pytest.raises(Unauthorized):
        authenticator.authenticate({})
    admin.revoke(root["id"])
    assert not authenticator.admin_enabled


def test_command_line_keys_keep_working_beside_stored_ones(store: Store, source: StoredKeys) -> None:
    authenticator = Authenticator([StaticKeys(["plain-key"]), source])
    made = _admin(store, source).create({"name": "stored"})
    assert authenticator.authenticate({"authorization": "Bearer plain-key"}).scopes == frozenset({USE, DESTRUCTIVE})
    assert authenticator.authenticate({"authorization": f"Bearer {made['key']}"}).scopes == frozenset({USE})


def _last_used(path: Path, key_id: str) -> Any:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,)).fetchone()[0]


def test_last_use_is_written_through_the_writer_at_most_once_a_minute(
    store: Store, source: StoredKeys, tmp_path: Path
) -> None:
    made = _admin(store, source).create({"name": "used"})
    assert _last_used(tmp_path / "registry.db", made["id"]) is None
    source.principal_for(made["key"])
    store.writer.flush(5)
    first = _last_used(tmp_path / "registry.db", made["id"])
    assert first is not None
    source.principal_for(made["key"])
    store.writer.flush(5)
    assert _last_used(tmp_path / "registry.db", made["id"]) == first  # the same minute: not written again
    assert _admin(store, source).get(made["id"])["lastUsedAt"] == first


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"name": "x", "scopes": ["use", "root"]},
            [FieldError("/body/scopes/1", "'root' is not a scope (the scopes are use, admin, destructive)")],
        ),
        ({"name": "x", "scopes": []}, [FieldError("/body/scopes", "give at least one of use, admin, destructive")]),
        (
            {"name": "x", "servers": ["Demo"]},
            [FieldError("/body/servers/0", "'Demo' is not a server name (lowercase letters, digits and '-')")],
        ),
        (
            {"name": "x", "tools": ["demo", "time.*", "*.x"]},
            [
                FieldError("/body/tools/0", "'demo' is not 'server.tool' or 'server.*'"),
                FieldError("/body/tools/2", "'*.x' is not 'server.tool' or 'server.*'"),
            ],
        ),
        (
            {"name": "x", "expiresAt": "2020-01-01T00:00:00Z"},
            [FieldError("/body/expiresAt", "this time has passed; give one in the future")],
        ),
        (
            {"name": "x", "expiresAt": "next week"},
            [FieldError("/body/expiresAt", "give an RFC 3339 time, such as 2027-01-31T00:00:00Z")],
        ),
        ({"name": " "}, [FieldError("/body/name", "give the key a name of 1 to 100 characters")]),
    ],
)
def test_a_bad_create_body_is_400_pointing_at_each_problem(
    store: Store, source: StoredKeys, body: dict[str, Any], errors: list[FieldError]
) -> None:
    with pytest.raises(RequestInvalid) as refused:
        _admin(store, source).create(body)
    assert refused.value.errors == errors
    assert _admin(store, source).list() == []
