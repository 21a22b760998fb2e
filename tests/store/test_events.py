"""The event log on each engine: kept once per id, replayed in id order, pruned by age and count."""

from __future__ import annotations

from bridge.store import Store
from bridge.store.events import EventLogStore, LoggedEvent, Retention


def _event(n: int, at: str = "2026-12-06T00:00:00.000+00:00", body: str = "{}") -> LoggedEvent:
    return LoggedEvent(f"01J{n:023d}", "tool.call.finished", "rich", at, body)


def _keep(store: Store, *events: LoggedEvent) -> None:
    with store.database.transaction() as tx:  # the writer thread's job, done inline
        EventLogStore.append(tx, events)


def test_events_replay_after_an_id_in_order_a_page_at_a_time_and_an_id_is_kept_once(store: Store) -> None:
    assert store.events.oldest() is None
    _keep(store, *(_event(n) for n in (3, 1, 2, 4)))
    _keep(store, _event(2, body='{"second": "copy"}'))  # the first one kept stays
    assert store.events.oldest() == _event(1).id
    assert store.events.after("", 2) == [(_event(1).id, "{}"), (_event(2).id, "{}")]
    assert store.events.after(_event(2).id, 10) == [(_event(3).id, "{}"), (_event(4).id, "{}")]


def test_the_log_is_pruned_by_age_then_to_its_newest_count(store: Store) -> None:
    _keep(store, *(_event(n, at=f"2026-12-06T00:00:0{n}.000+00:00") for n in range(1, 7)))
    with store.database.transaction() as tx:
        dropped = EventLogStore.prune(tx, Retention(count=3), "2026-12-06T00:00:02.000+00:00")
    assert dropped == 3  # event 1 by age, then 2 and 3 by count
    assert [i for i, _ in store.events.after("", 10)] == [_event(n).id for n in (4, 5, 6)]
