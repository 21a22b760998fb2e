"""The ``calls`` table: a call's latest view kept, never overwritten by an older one, swept when expired."""

from __future__ import annotations

from bridge.store import Store
from bridge.store.calls import CallRecord, CallStore


def _record(version: int, state: str = "working", expires: str = "2026-12-07T00:00:00+00:00") -> CallRecord:
    return CallRecord("c1", "key:alice", state, version, expires, f'{{"v": {version}}}')


def _write(store: Store, *writes: object) -> None:
    for write in writes:
        store.writer.submit(write)  # type: ignore[arg-type]
    assert store.writer.flush(10)


def test_the_newest_version_of_a_call_is_kept(store: Store) -> None:
    _write(store, CallStore.put(_record(1)), CallStore.put(_record(3, "completed")), CallStore.put(_record(2)))
    assert store.calls.load("2026-12-06T00:00:00+00:00") == [_record(3, "completed")]


def test_expired_calls_are_not_loaded_and_are_swept(store: Store) -> None:
    _write(store, CallStore.put(_record(1, expires="2026-12-06T00:00:00+00:00")))
    assert store.calls.load("2026-12-06T00:00:01+00:00") == []
    assert store.calls.load("2026-12-05T23:59:59+00:00") == [_record(1, expires="2026-12-06T00:00:00+00:00")]
    _write(store, CallStore.sweep("2026-12-06T00:00:01+00:00"))
    assert store.calls.load("2026-12-05T00:00:00+00:00") == []


def test_calls_load_in_the_byte_order_of_their_ids_on_every_engine(store: Store) -> None:
    ids = ["aa", "Zz", "a-b", "B9", "_x"]  # a language's collation (the test databases') puts aa before Zz
    _write(store, *(CallStore.put(CallRecord(i, "s", "working", 1, "2026-12-07T00:00:00+00:00", "{}")) for i in ids))
    assert [r.id for r in store.calls.load("2026-12-06T00:00:00+00:00")] == sorted(ids)


def test_a_callers_unexpired_calls_are_found_by_subject_on_every_engine(store: Store) -> None:
    later, sooner = "2026-12-07T00:00:00+00:00", "2026-12-06T00:00:00+00:00"
    kept = [
        CallRecord("a1", "key:alice", "working", 1, later, "{}"),
        CallRecord("a2", "key:alice", "completed", 2, sooner, "{}"),
        CallRecord("b1", "key:bob", "working", 1, later, "{}"),
    ]
    _write(store, *(CallStore.put(record) for record in kept))
    assert sorted(r.id for r in store.calls.of_subject("key:alice", "2026-12-05T00:00:00+00:00")) == ["a1", "a2"]
    assert [r.id for r in store.calls.of_subject("key:alice", "2026-12-06T12:00:00+00:00")] == ["a1"]  # a2 expired
    assert store.calls.of_subject("key:carol", "2026-12-05T00:00:00+00:00") == []
