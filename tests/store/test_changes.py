"""Change counters over one store, on each engine: every change another instance follows bumps its
topic's counter, and a ``ChangeWatcher`` calls that topic's reloads within a second (on
PostgreSQL woken by a notice: its fallback read comes only every five), once per move, again
after a failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bridge.config import ServerConfig
from bridge.store import Store
from bridge.store.changes import ChangeWatcher, versions
from bridge.store.keys import KeyRecord
from harness import poll
from tests.store.test_webhooks import SUBSCRIPTION

#: How soon each change must be heard.
LIVE_WITHIN = 1.0
SERVER = ServerConfig(name="far", transport="streamable-http", url="http://127.0.0.1:9/mcp")
KEY = KeyRecord("0123456789ab", "ci", "00" * 32, ("use",), None, None, None, None, "2026-12-06T00:00:00.000+00:00")


@pytest.fixture
def stores(store_target: str) -> Iterator[tuple[Store, Store]]:
    """Two processes' views of one store: one changes it, the other watches."""
    with Store.open(store_target) as one, Store.open(store_target) as other:
        yield one, other


def test_each_change_bumps_its_own_topic_only(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    start = versions(store.database)
    assert start == {"keys": 0, "registrations": 0, "webhooks": 0, "deliveries": 0, "sessions": 0}
    store.registrations.save(SERVER)
    store.registrations.delete("far")
    store.registrations.delete("never-registered")  # nothing changed: nothing to reload
    store.keys.insert(KEY)
    store.keys.revoke(KEY.id)
    store.webhooks.insert(SUBSCRIPTION)
    assert store.webhooks.redeliver(SUBSCRIPTION.id, 1.0, delivery_ids=["none-such"]) == 0
    with store.database.transaction() as tx:
        assert store.sessions.end(tx, "a-digest", 1.0)
        assert not store.sessions.end(tx, "a-digest", 2.0)  # already ended: no news
    assert versions(store.database) == {"keys": 2, "registrations": 2, "webhooks": 1, "deliveries": 0, "sessions": 1}


def test_the_watcher_calls_the_reloads_of_what_another_process_changed(stores: tuple[Store, Store]) -> None:
    changer, watched = stores
    heard: list[str] = []
    watcher = ChangeWatcher(watched.database)
    for topic in ("keys", "registrations", "webhooks"):
        watcher.on(topic, lambda topic=topic: heard.append(topic))  # type: ignore[misc]
    watcher.start()
    try:
        began = time.monotonic()
        changer.registrations.save(SERVER)
        poll(lambda: heard == ["registrations"], 5, interval=0.01, what="the registration's reload")
        changer.keys.insert(KEY)
        poll(lambda: heard == ["registrations", "keys"], 5, interval=0.01, what="the keys' reload")
        assert time.monotonic() - began < 2 * LIVE_WITHIN
    finally:
        watcher.close()


def test_a_reload_that_fails_is_tried_again_until_it_succeeds(stores: tuple[Store, Store]) -> None:
    changer, watched = stores
    tries: list[int] = []
    done = threading.Event()

    def flaky() -> None:
        tries.append(1)
        if len(tries) < 3:
            raise RuntimeError("the upstream pool is busy")
        done.set()

    watcher = ChangeWatcher(watched.database, interval=0.02)
    watcher.on("registrations", flaky)
    watcher.start()
    try:
        changer.registrations.save(SERVER)
        assert done.wait(5)
    finally:
        watcher.close()
    assert len(tries) == 3  # and not again once it succeeded


def test_reloads_are_added_before_the_watcher_starts(stores: tuple[Store, Store]) -> None:
    watcher = ChangeWatcher(stores[0].database)
    watcher.start()
    try:
        with pytest.raises(RuntimeError, match="add reloads before start"):
            watcher.on("keys", lambda: None)
    finally:
        watcher.close()
