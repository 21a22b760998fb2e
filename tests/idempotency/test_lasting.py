"""Kept answers outlive the bridge process, expire, and are never made of a failure or a crash."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import sqlite3
from pathlib import Path

import pytest
import requests

from harness import poll
from tests.idempotency.conftest import KEYS, Caller, Ledger, ledger_config, new_key
from tests.support import bridge_process


def kept(registry: Path, key: str | None = None) -> int:
    """Answers kept in the bridge's store file (for ``key`` only, when given)."""
    with contextlib.closing(sqlite3.connect(registry)) as db:
        if key is None:
            (count,) = db.execute("SELECT COUNT(*) FROM idempotency_keys").fetchone()
        else:
            (count,) = db.execute("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = ?", (key,)).fetchone()
    return int(count)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.txt")


def test_a_kept_answer_is_replayed_by_the_restarted_bridge(tmp_path: Path, ledger: Ledger) -> None:
    registry, key = tmp_path / "store.db", new_key()
    args = (*KEYS, "--registry", str(registry))
    with bridge_process(tmp_path / "one", ledger_config(ledger.path), *args) as bridge:
        first = Caller(bridge).call("/servers/ledger/tools/pay", {"amount": 7}, key)
        assert first.status_code == 200, first.text
    with bridge_process(tmp_path / "two", ledger_config(ledger.path), *args) as bridge:
        again = Caller(bridge).call("/servers/ledger/tools/pay", {"amount": 7}, key)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ledger.runs("pay", 7) == 1


def test_an_answer_is_kept_before_it_is_sent_so_a_kill_after_it_loses_nothing(tmp_path: Path, ledger: Ledger) -> None:
    registry, key = tmp_path / "store.db", new_key()
    args = (*KEYS, "--registry", str(registry))
    with bridge_process(tmp_path / "one", ledger_config(ledger.path), *args) as bridge:
        first = Caller(bridge).call("/servers/ledger/tools/pay", {"amount": 8}, key)
        assert first.status_code == 200, first.text
        bridge.process.stop(signal.SIGKILL)
    with bridge_process(tmp_path / "two", ledger_config(ledger.path), *args) as bridge:
        again = Caller(bridge).call("/servers/ledger/tools/pay", {"amount": 8}, key)
    assert (again.status_code, again.content) == (200, first.content)
    assert ledger.runs("pay", 8) == 1


def test_a_call_cut_off_by_a_crash_frees_its_key_and_a_retry_runs(tmp_path: Path, ledger: Ledger) -> None:
    registry, key = tmp_path / "store.db", new_key()
    args = (*KEYS, "--registry", str(registry))
    body = {"amount": 9, "seconds": 30}
    with bridge_process(tmp_path / "one", ledger_config(ledger.path), *args) as bridge:
        caller = Caller(bridge)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            cut = pool.submit(caller.call, "/servers/ledger/tools/slow_pay", body, key)
            poll(lambda: ledger.runs("slow_pay_started", 9), 10, what="the tool running")
            bridge.process.stop(signal.SIGKILL)
            with pytest.raises(requests.ConnectionError):  # the connection died with the bridge
                cut.result(30)
    with bridge_process(tmp_path / "two", ledger_config(ledger.path), *args) as bridge:
        retried = Caller(bridge).call("/servers/ledger/tools/slow_pay", {**body, "seconds": 0}, key)
        assert retried.status_code == 200, retried.text  # another body: only an answer kept would refuse it
    assert kept(registry) == 1


def test_kept_answers_expire_and_are_swept(tmp_path: Path, ledger: Ledger) -> None:
    registry = tmp_path / "store.db"
    args = (*KEYS, "--registry", str(registry), "--idempotency-ttl", "1")
    with bridge_process(tmp_path / "bridge", ledger_config(ledger.path), *args) as bridge:
        caller, key = Caller(bridge), new_key()
        assert caller.call("/servers/ledger/tools/pay", {"amount": 11}, key).status_code == 200
        assert caller.call("/servers/ledger/tools/pay", {"amount": 11}, key).headers["Idempotent-Replayed"] == "true"
        assert kept(registry, key) == 1

        def swept() -> bool:  # the writes keeping other keys' answers sweep the expired ones
            assert caller.call("/servers/ledger/tools/pay", {"amount": 12}, new_key()).status_code == 200
            return kept(registry, key) == 0

        poll(swept, 10, interval=0.2, what="the expired answer swept")
        again = caller.call("/servers/ledger/tools/pay", {"amount": 11}, key)
        assert again.status_code == 200
        assert "Idempotent-Replayed" not in again.headers
    assert ledger.runs("pay", 11) == 2


def test_an_upstream_failure_is_not_kept_and_a_retry_runs(tmp_path: Path, ledger: Ledger) -> None:
    registry, key = tmp_path / "store.db", new_key()
    with bridge_process(tmp_path / "bridge", ledger_config(ledger.path), *KEYS, "--registry", str(registry)) as bridge:
        caller = Caller(bridge)
        failed = caller.call("/servers/ledger/tools/flaky", {"label": "x"}, key)  # the server dies mid-call
        assert failed.status_code in (502, 503), failed.text
        assert kept(registry) == 0

        def answered() -> bool:  # 503 with Retry-After while the bridge starts the server again
            answer = caller.call("/servers/ledger/tools/flaky", {"label": "x"}, key)
            assert answer.status_code in (200, 502, 503), answer.text
            return answer.status_code == 200 and "Idempotent-Replayed" not in answer.headers

        poll(answered, 30, interval=0.2, what="the retry running")
    assert ledger.runs("flaky", "x") == 2
    assert kept(registry) == 1
