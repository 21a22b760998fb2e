"""Named keys on each engine: kept as hashes, listed oldest first, each change counted once."""

from __future__ import annotations

from bridge.store import KeyRecord, Store


def _key(key_id: str, created: str) -> KeyRecord:
    return KeyRecord(key_id, f"name-{key_id}", "ab" * 32, ("use",), ("rich",), ("rich.*",), None, None, created)


def test_keys_come_back_whole_oldest_first_and_every_change_that_matters_bumps_the_counter(store: Store) -> None:
    start = store.keys.version()
    store.keys.insert(_key("b", "2026-12-06T00:00:01.000+00:00"))
    store.keys.insert(_key("A", "2026-12-06T00:00:01.000+00:00"))  # same time: by id, in byte order
    store.keys.insert(_key("c", "2026-12-06T00:00:00.000+00:00"))
    assert [k.id for k in store.keys.every()] == ["c", "A", "b"]
    assert store.keys.key("A") == _key("A", "2026-12-06T00:00:01.000+00:00")
    assert store.keys.version() == start + 3
    assert store.keys.rotate("A", "cd" * 32)
    assert store.keys.revoke("A")
    assert not store.keys.revoke("A")  # revoked already: no change, no bump
    assert not store.keys.rotate("A", "ef" * 32)
    assert store.keys.version() == start + 5
    with store.database.transaction() as tx:
        store.keys.touch(tx, "b", "2026-12-06T01:00:00.000+00:00")
    assert store.keys.version() == start + 5  # a use is no change to authentication
    kept = store.keys.key("A")
    assert kept is not None
    assert (kept.secret_hash, kept.revoked_at is not None, kept.rotated_at is not None) == ("cd" * 32, True, True)
    used = store.keys.key("b")
    assert used is not None
    assert used.last_used_at == "2026-12-06T01:00:00.000+00:00"
