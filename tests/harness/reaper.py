"""Stops a server a test session started, by its PID, if that session dies without stopping it.

A daemon such as PostgreSQL's postmaster (``pg_ctl start``) is no child of the test process, so
nothing ends it when a run is killed (``kill -9`` of a worker, a CI timeout): it would hold its
port, memory and folder until someone finds it. ``watch(pid, folder)`` starts this module as a
process of its own session, which polls the test process that called it; once that process is
gone it sends the server ``SIGINT`` (PostgreSQL's fast shutdown), waits for it (``SIGKILL`` after
``GRACE`` seconds), and removes ``folder``. A session that stops the server itself stops its
reaper first (``Popen.kill``); and the reaper signals a PID only while its command line still
names ``folder``, so a number the system has given to another process since is left alone::

    python -m tests.harness.reaper PARENT_PID SERVER_PID FOLDER
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

__all__ = ["watch"]

#: Seconds between looks at the test process.
POLL: Final = 0.5
#: Seconds the server has to stop after SIGINT.
GRACE: Final = 30.0
_ROOT: Final = Path(__file__).resolve().parents[2]


def watch(pid: int, folder: Path) -> subprocess.Popen[bytes]:
    """Stop the server ``pid`` and remove ``folder`` once this process has died."""
    argv = [sys.executable, "-m", "tests.harness.reaper", str(os.getpid()), str(pid), str(folder)]
    return subprocess.Popen(
        argv, cwd=_ROOT, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process by that number: alive
        return True
    return True


def _serves(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is still the server of ``folder`` (its command line names the folder)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return os.fsencode(folder) in command


def main(parent: int, pid: int, folder: Path) -> None:
    while _alive(parent):
        time.sleep(POLL)
    if _serves(pid, folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + GRACE
        while _serves(pid, folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _serves(pid, folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
