"""Processes a test or a bench run starts: with a log, waited for with a bound, stopped by their PID.

``started`` runs a command with its output in a log file and yields a ``Proc``. ``Proc.wait_until``
polls a readiness check and fails with the end of the log if the process exits first or the bound
is spent. However the block ends, the process is stopped by its PID (SIGTERM, then SIGKILL after a
grace), and any descendant seen while it ran that outlives it (an upstream a proxy started over
stdio) is stopped by PID too, once ``/proc`` confirms the PID still names the same process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.waiting import TimedOut, poll

__all__ = ["STOP_GRACE", "NotReady", "Proc", "children", "descendants", "pid_alive", "started", "stat_fields"]

#: How long a process may take to stop after its signal before it is killed: a bridge first stops
#: its own stdio children, each with a grace of its own.
STOP_GRACE = 30.0
#: Lines of a log quoted when a process fails to become ready: enough for a Python traceback.
LOG_TAIL_LINES = 20


class NotReady(RuntimeError):
    """A started process exited, or still failed its readiness check at the bound."""


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: the state is ``[0]``, field N of
    proc(5) is ``[N - 3]``. Raises ``OSError`` once the process is gone."""
    # The command name may hold spaces and parentheses; the fields after it are fixed.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _identity(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot) while it runs; None once it is gone or a zombie."""
    try:
        fields = stat_fields(pid)
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie, dead but not yet reaped, counts as gone."""
    return _identity(pid) is not None


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, from each of its threads' ``children`` list."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found += [int(kid) for kid in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on."""
    found: list[int] = []
    pending = [pid]
    while pending:
        kids = children(pending.pop())
        found += kids
        pending += kids
    return found


@dataclass
class Proc:
    """One started process, and the descendants it was seen with."""

    name: str
    popen: subprocess.Popen[bytes]
    #: ``time.perf_counter()`` when it was started.
    started_at: float
    log: Path | None = None
    _seen: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """Current descendants; each is remembered, so it is stopped if it outlives this process."""
        kids = descendants(self.pid)
        for kid in kids:
            identity = _identity(kid)
            if identity is not None:
                self._seen.setdefault(kid, identity)
        return kids

    def wait_until(self, ready: Callable[[], object], timeout: float, what: str) -> float:
        """Poll ``ready()`` until it is truthy; the seconds since the start.

        Raises ``NotReady``, quoting the end of the log, if the process exits first or ``timeout``
        seconds pass.
        """
        try:
            poll(lambda: ready() or not self.alive(), timeout, what=what)
        except TimedOut:
            raise NotReady(f"{self.name} not {what} after {timeout:g} s{self._tail()}") from None
        if not self.alive():
            raise NotReady(f"{self.name} exited with {self.popen.returncode} before {what}{self._tail()}")
        return time.perf_counter() - self.started_at

    def log_text(self) -> str:
        """Everything the process wrote to its log so far ("" without one)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _tail(self) -> str:
        tail = self.log_text().strip().splitlines()[-LOG_TAIL_LINES:]
        return "; its log ends:\n    " + "\n    ".join(tail) if tail else ""

    def stop(self, sig: int = signal.SIGTERM, grace: float = STOP_GRACE) -> int:
        """Send ``sig`` (unless it has exited), kill it after ``grace`` seconds; its exit status.

        Its descendants are remembered first but left alone: they are the process's own to stop.
        """
        self.children()
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(grace)
        return self.popen.returncode

    def reap(self, grace: float = STOP_GRACE) -> None:
        """Kill the descendants seen earlier that still run ``grace`` seconds from now, and see them go."""

        def lingering() -> list[int]:
            return [kid for kid, identity in self._seen.items() if _identity(kid) == identity]

        try:
            poll(lambda: not lingering(), grace, what=f"the descendants of {self.name} ending")
        except TimedOut:
            for kid in lingering():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(kid, signal.SIGKILL)
            poll(lambda: not lingering(), grace, what=f"the killed descendants of {self.name} going")


@contextlib.contextmanager
def started(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Proc]:
    """Start ``argv`` (stdout and stderr to ``log``, none without one; environment ``env``, this
    process's without one); yield it; stop it and its lingering descendants however the block ends."""
    output = log.open("wb") if log else None
    try:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
        )
    finally:
        if output:
            output.close()
    proc = Proc(name, popen, time.perf_counter(), log)
    try:
        yield proc
    finally:
        proc.stop()
        proc.reap()
