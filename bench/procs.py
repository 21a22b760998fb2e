"""Processes the bench starts, and what ``/proc`` says about them.

Every process is started here, waited for with a bound, and stopped by its PID: SIGTERM, then
SIGKILL if it lingers. Descendants seen while it ran (an upstream a proxy started over stdio)
are stopped by PID too if they outlive it, after checking the PID still names the same process.
CPU time is ``utime + stime`` of ``/proc/PID/stat``: the process's own threads, children excluded.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Proc",
    "cpu_seconds",
    "descendants",
    "free_port",
    "http_call",
    "http_status",
    "peak_rss_kib",
    "started",
    "timed_request",
]

#: How long a process may take to stop after SIGTERM before it is killed.
STOP_GRACE = 15.0
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    # The command name may hold spaces and parentheses; fields after it are fixed.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` itself (all its threads, no children); 0 once it is gone."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _start_ticks(pid: int) -> int | None:
    try:
        return int(_stat_fields(pid)[19])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def peak_rss_kib(pid: int) -> int:
    """``VmHWM``: the most resident memory the process has had, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on, from each thread's ``children`` list."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(FileNotFoundError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    kids = [int(k) for k in (task / "children").read_text().split()]
                    found += kids
                    pending += kids
    return found


def http_call(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int | None, bytes]:
    """Status and body of one request to 127.0.0.1; ``(None, b"")`` if nothing answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None, b""
    finally:
        connection.close()


def timed_request(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None
) -> tuple[float, int]:
    """Seconds for one request on a held connection until its whole body is read, and the body's size."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    began = time.perf_counter()
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    data = response.read()
    took = time.perf_counter() - began
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return took, len(data)


def http_status(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0) -> int | None:
    return http_call(port, method, path, body, timeout)[0]


@dataclass
class Proc:
    """One started process, and the descendants it was seen with."""

    name: str
    popen: subprocess.Popen[bytes]
    started_at: float
    log: Path | None = None
    _seen: dict[int, int | None] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """Current descendants; each is remembered, so ``stop`` can stop it if it is orphaned."""
        kids = descendants(self.pid)
        for kid in kids:
            self._seen.setdefault(kid, _start_ticks(kid))
        return kids

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``ready()`` until true; seconds since start. Fails if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return time.perf_counter() - self.started_at
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before {what}{self._log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not {what} after {timeout:.0f} s{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        tail = self.log.read_text(errors="replace").strip().splitlines()[-8:]
        return "; log ends:\n    " + "\n    ".join(tail) if tail else ""

    def stop(self) -> None:
        self.children()
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_GRACE)
        deadline = time.monotonic() + STOP_GRACE
        for kid, ticks in self._seen.items():
            while ticks is not None and _start_ticks(kid) == ticks and time.monotonic() < deadline:
                time.sleep(0.05)
            if ticks is not None and _start_ticks(kid) == ticks:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(kid, signal.SIGKILL)


@contextlib.contextmanager
def started(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Proc]:
    """Start ``argv``; yield it; stop it by PID however the block ends."""
    output = log.open("wb") if log else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=output, env=env and dict(env)
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]
    proc = Proc(name, popen, time.perf_counter(), log)
    try:
        yield proc
    finally:
        proc.stop()
