"""What the bench measures of a process it started: CPU time, peak memory, one timed request.

Starting, waiting for and stopping processes is the harness's (``harness.procs``), shared with
the tests. CPU time is ``utime + stime`` of ``/proc/PID/stat``: the process's own threads,
children excluded.
"""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path

from harness import stat_fields

__all__ = ["cpu_seconds", "peak_rss_kib", "timed_request"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` itself (all its threads, no children); 0 once it is gone."""
    try:
        fields = stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def peak_rss_kib(pid: int) -> int:
    """``VmHWM``: the most resident memory the process has had, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


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
