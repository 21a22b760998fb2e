"""The store's writer thread: many writes to one transaction, each submitter told, a bad write
failing only itself."""

from __future__ import annotations

import threading

from bridge.store import Store
from bridge.store.database import Transaction
from bridge.store.errors import StoreError
from bridge.store.events import EventLogStore, LoggedEvent


def _event(n: int) -> LoggedEvent:
    return LoggedEvent(f"{n:026d}", "server.removed", "a", "2026-12-05T00:00:00.000Z", "{}")


def test_writes_queued_together_commit_together_and_a_bad_one_fails_alone(store_target: str) -> None:
    with Store.open(store_target) as store:
        outcomes: dict[int, BaseException | None] = {}
        all_told = threading.Event()
        gate = threading.Event()

        def told(n: int) -> object:
            def done(error: BaseException | None) -> None:
                outcomes[n] = error
                if len(outcomes) == 21:
                    all_told.set()

            return done

        store.writer.submit(lambda _tx: gate.wait(5), told(-1))  # holds the writer while the rest queue

        def bad(tx: Transaction) -> None:
            tx.execute("INSERT INTO no_such_table VALUES (1)")

        for n in range(20):
            if n == 7:
                store.writer.submit(bad, told(n))
            else:
                event = _event(n)
                store.writer.submit(lambda tx, e=event: EventLogStore.append(tx, (e,)), told(n))
        gate.set()
        assert all_told.wait(10)
        assert isinstance(outcomes.pop(7), StoreError)
        assert set(outcomes.values()) == {None}
        assert [i for i, _ in store.events.after("", 100)] == [f"{n:026d}" for n in range(20) if n != 7]


def test_closing_the_store_writes_what_was_queued_first(store_target: str) -> None:
    with Store.open(store_target) as store:
        for n in range(100):
            event = _event(n)
            store.writer.submit(lambda tx, e=event: EventLogStore.append(tx, (e,)))
    with Store.open(store_target) as store:
        assert len(store.events.after("", 1000)) == 100


def test_writes_made_together_are_handed_over_when_the_block_ends_and_flush_is_never_held(store_target: str) -> None:
    with Store.open(store_target) as store:
        store.writer.flush(5)
        told: list[BaseException | None] = []
        with store.writer.together():
            with store.writer.together():  # nested: held into the outer block
                store.writer.submit(lambda tx: EventLogStore.append(tx, (_event(1),)))
            store.writer.submit(lambda tx: EventLogStore.append(tx, (_event(2),)), told.append)
            assert store.writer.flush(5)  # a flush inside the block waits only for what was queued
            assert store.events.after("", 10) == []
            assert told == []
        assert store.writer.flush(5)
        assert told == [None]
        assert [i for i, _ in store.events.after("", 10)] == [f"{n:026d}" for n in (1, 2)]
