"""Handshake-era sessions ended by their clients, kept so that no instance on the store serves them again."""

from __future__ import annotations

from bridge.store import Store
from bridge.store.changes import versions
from bridge.store.sessions import KEPT_FOR, OVERLAP, EndedSessionStore, SessionEnds, digest
from tests.store.conftest import Clock


def recorded(ends: SessionEnds, store: Store, session_id: str) -> None:
    ends.record(session_id)
    assert store.writer.flush(10)


def test_a_session_ended_here_is_ended_for_every_instance_and_counted_once(store: Store) -> None:
    clock = Clock()
    here = SessionEnds(store.sessions, store.writer, clock=clock)
    elsewhere = SessionEnds(EndedSessionStore(store.database), store.writer, clock=clock)
    before = versions(store.database)["sessions"]
    assert not elsewhere.ended("m1.a.b.c")
    recorded(here, store, "m1.a.b.c")
    assert elsewhere.ended("m1.a.b.c")
    assert not elsewhere.ended("m1.a.b.d")
    assert versions(store.database)["sessions"] == before + 1
    recorded(elsewhere, store, "m1.a.b.c")  # an instance dropping its copy records it again: no echo
    assert versions(store.database)["sessions"] == before + 1


def test_the_store_keeps_a_digest_of_the_id_never_the_id(store: Store) -> None:
    ends = SessionEnds(store.sessions, store.writer)
    recorded(ends, store, "m1.0011.2233.4455")
    with store.database.transaction() as tx:
        rows = tx.query("SELECT digest FROM ended_sessions")
    assert rows == [(digest("m1.0011.2233.4455"),)]
    assert len(digest("m1.0011.2233.4455")) == 64
    assert "0011" not in str(rows)


def test_reloading_tells_each_listener_what_was_ended_since_the_last_read(store: Store) -> None:
    clock = Clock()
    here = SessionEnds(store.sessions, store.writer, clock=clock)
    there = SessionEnds(store.sessions, store.writer, clock=clock)
    heard: list[set[str]] = []
    there.on_ended(heard.append)
    there.reload()
    assert heard == []  # nothing ended yet: nobody told
    clock.now += 1
    recorded(here, store, "first")
    there.reload()
    assert heard == [{digest("first")}]
    clock.now += OVERLAP + 5
    there.reload()  # within the overlap of the last read: told again (dropping a session twice is nothing)
    assert heard[-1] == {digest("first")}
    recorded(here, store, "second")
    there.reload()  # past the overlap of the last read: only what is new
    assert heard[-1] == {digest("second")}


def test_a_record_older_than_a_day_is_swept_at_the_next_end(store: Store) -> None:
    clock = Clock()
    ends = SessionEnds(store.sessions, store.writer, clock=clock)
    recorded(ends, store, "old")
    clock.now += KEPT_FOR + 3600
    recorded(ends, store, "new")
    assert not ends.ended("old")
    assert ends.ended("new")
