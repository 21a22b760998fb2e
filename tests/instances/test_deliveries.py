"""Webhook deliveries with two instances on one outbox: each made by exactly one of them, and a
delivery left pending by an instance that dies (``kill -9``) or stops (SIGTERM) made by the other.

The receiver counts deliveries by their ``webhook-id``; ``/slow/…`` answers after two seconds,
longer than the pair's two-second lease, so the other instance's sweeps (every second) see
deliveries in flight whose lease only renewal keeps; ``/retry-after/…`` refuses a delivery's
first attempt (503, retry in 2 s) so that the delivery is pending when its instance goes.
"""

from __future__ import annotations

import json
import secrets
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import TimedOut, poll
from tests.instances.conftest import Instance, Pair, StoreOf, instances
from tests.webhooks.conftest import Receiver

CALLS = 16


def _subscribe(instance: Instance, url: str) -> str:
    made = instance("POST", "/webhooks", {"url": url, "types": ["tool.call.finished"], "includePayload": True})
    assert made.status_code == 201, made.text
    webhook: str = made.json()["id"]
    return webhook


def _deliveries(instance: Instance, webhook: str) -> list[dict[str, Any]]:
    answer = instance("GET", f"/webhooks/{webhook}/deliveries?limit=500")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


def _texts(heard: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.loads(h["body"])["params"]["text"] for h in heard)


def test_each_delivery_is_made_once_while_both_instances_deliver(pair: Pair, receiver: Receiver) -> None:
    path = f"/slow/{secrets.token_hex(4)}"
    webhook = _subscribe(pair.a, receiver.url(path))

    def b_follows() -> bool:  # B delivers its own calls' events once it has heard of the subscription
        assert pair.b.call("probe").status_code == 200
        return bool(receiver.heard(path))

    poll(b_follows, 10, interval=0.3, what="B to follow the subscription made on A")
    texts = [f"call {n}" for n in range(CALLS)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: (pair.a, pair.b)[n % 2].call(texts[n]), range(CALLS)))
    assert [a.status_code for a in answers] == [200] * CALLS

    def settled() -> list[dict[str, Any]] | None:
        found = _deliveries(pair.b, webhook)
        return found if all(d["status"] == "delivered" for d in found) else None

    poll(lambda: _texts(receiver.heard(path)).keys() >= set(texts), 60, what="every call's delivery")
    logged = poll(settled, 30, what="every delivery delivered")
    with pytest.raises(TimedOut):  # a second attempt at any of them would arrive within a slow answer's time
        poll(lambda: len(receiver.heard(path)) > len(logged), 3, what="a delivery made twice")
    heard = receiver.heard(path)
    assert Counter(h["headers"]["webhook-id"] for h in heard) == Counter({d["id"]: 1 for d in logged})
    assert all(_texts(heard)[text] == 1 for text in texts)
    assert all(d["attempts"] == 1 for d in logged)


def _pending_after_a_refusal(a: Instance, b: Instance, receiver: Receiver) -> tuple[str, str]:
    """A delivery, made by ``a``, whose first attempt the receiver refused: its webhook and path."""
    path = f"/retry-after/{secrets.token_hex(4)}"
    webhook = _subscribe(a, receiver.url(path))
    assert a.call("left pending").status_code == 200
    poll(lambda: receiver.heard(path), 10, what="the first attempt")
    poll(lambda: _deliveries(b, webhook)[0]["attempts"] == 1, 10, what="the refused attempt recorded")
    return webhook, path


def test_a_killed_instances_pending_delivery_is_made_by_the_other_once_its_lease_lapses(
    tmp_path: Path, receiver: Receiver, store_of: StoreOf
) -> None:
    with store_of(tmp_path) as store, instances(store, tmp_path, "--delivery-lease", "2") as (a, b):
        webhook, path = _pending_after_a_refusal(a, b, receiver)
        a.bridge.process.popen.kill()  # kill -9: no hand-back, the lease must lapse
        a.bridge.process.popen.wait(10)
        killed = time.time()
        first, second = poll(lambda: len(receiver.heard(path)) == 2 and receiver.heard(path), 30, what="a retry")
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        assert second["at"] > killed
        (delivered,) = poll(lambda: [d for d in _deliveries(b, webhook) if d["status"] == "delivered"], 10)
        assert (delivered["id"], delivered["attempts"]) == (first["headers"]["webhook-id"], 2)


def test_a_stopped_instance_hands_its_pending_delivery_back_and_the_other_makes_it_at_once(
    tmp_path: Path, receiver: Receiver, store_of: StoreOf
) -> None:
    with store_of(tmp_path) as store, instances(store, tmp_path, "--delivery-lease", "60") as (a, b):
        webhook, path = _pending_after_a_refusal(a, b, receiver)
        a.bridge.process.stop(signal.SIGTERM)
        stopped = time.time()
        assert "handed back 1 pending webhook deliveries" in a.bridge.log()
        first, second = poll(lambda: len(receiver.heard(path)) == 2 and receiver.heard(path), 15, what="a retry")
        # Its lease would have held for a minute; handed back, B's next sweep took it.
        assert second["at"] - stopped < 10
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        poll(lambda: _deliveries(b, webhook)[0]["status"] == "delivered", 10, what="B to record the delivery")
