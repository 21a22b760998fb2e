"""The harness starts a process with its log, waits for it with a bound, and stops it and what it left."""

import signal
import sys
from pathlib import Path

import pytest

from harness import NotReady, accepting, free_port, pid_alive, poll, started

#: A Python program that ignores SIGTERM, says so in its log, and waits.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ignoring', flush=True); time.sleep(600)"
)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_process_that_exits_before_it_is_ready_fails_quoting_the_end_of_its_log(tmp_path: Path) -> None:
    log = tmp_path / "dies.log"
    with (
        pytest.raises(NotReady) as failed,
        started("dies", _python("print('line 1'); print('it broke'); raise SystemExit(3)"), log=log) as dies,
    ):
        dies.wait_until(lambda: False, 30, "ready")
    assert str(failed.value) == "dies exited with 3 before ready; its log ends:\n    line 1\n    it broke"


def test_a_process_that_is_never_ready_fails_at_the_bound_and_is_stopped() -> None:
    with (
        pytest.raises(NotReady, match=r"^sleeper not listening after 0.2 s$"),
        started("sleeper", _python("import time; time.sleep(600)")) as sleeper,
    ):
        sleeper.wait_until(lambda: False, 0.2, "listening")
    assert sleeper.returncode == -signal.SIGTERM


def test_readiness_is_the_seconds_since_the_start_once_the_check_passes() -> None:
    port = free_port()
    server = f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(600)"
    with started("listener", _python(server)) as listener:
        took = listener.wait_until(lambda: accepting(port), 30, "accepting")
        assert 0 < took < 30
    assert not accepting(port)


def test_stop_kills_a_process_that_ignores_its_signal_after_the_grace(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    with started("stubborn", _python(STUBBORN), log=log) as stubborn:
        stubborn.wait_until(lambda: "ignoring" in stubborn.log_text(), 30, "ignoring SIGTERM")
        assert stubborn.stop(grace=0.3) == -signal.SIGKILL
        assert stubborn.stop() == -signal.SIGKILL  # stopping again only says how it ended


def test_descendants_that_outlive_the_process_are_reaped(tmp_path: Path) -> None:
    log = tmp_path / "parent.log"
    # The parent starts a grandchild that ignores SIGTERM too, then exits at once when told to.
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {STUBBORN!r}]); time.sleep(600)"
    with started("parent", _python(parent), log=log) as proc:
        proc.wait_until(lambda: proc.children(), 30, "with a child")
        (child,) = proc.children()
        poll(lambda: "ignoring" in proc.log_text(), what="the child ignoring SIGTERM")
        proc.stop()
        assert pid_alive(child)  # the process is gone, its orphan is not: only leaving the block reaps it
        proc.reap(grace=0.3)
    assert not pid_alive(child)
