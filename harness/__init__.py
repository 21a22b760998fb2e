"""The one process harness of the tests and the bench: start, wait with a bound, stop by PID.

Neither ``tests/`` nor ``bench/`` starts, waits for or stops a process its own way: both use
this package, which is neither's (the bench must run without the tests, and the other way
round) and is not shipped in the wheel.

- ``harness.procs``: ``started`` a command with its log; ``Proc.wait_until`` its readiness
  check passes; stopped by PID (SIGTERM, then SIGKILL), with the descendants that outlive it.
- ``harness.waiting``: ``poll`` and ``apoll``, a condition asked until it holds, with a bound.
- ``harness.net``: free loopback ports, and the probes a readiness check asks.
- ``harness.nginx``: nginx with the shipped ``deploy/`` config in front of bridge instances.

Both of its errors are ``RuntimeError``, so a bench run that reports failures and carries on
catches them like its own::

    RuntimeError
    ├── TimedOut   a bounded wait ran out before its condition held
    └── NotReady   a started process exited, or was not ready at the bound (quotes its log)
"""

from harness.net import LOOPBACK, accepting, free_port, http_call, http_status, serving
from harness.nginx import deployed_config, running_nginx
from harness.procs import STOP_GRACE, NotReady, Proc, children, descendants, pid_alive, started, stat_fields
from harness.waiting import INTERVAL, WAIT, TimedOut, apoll, poll

__all__ = [
    "INTERVAL",
    "LOOPBACK",
    "STOP_GRACE",
    "WAIT",
    "NotReady",
    "Proc",
    "TimedOut",
    "accepting",
    "apoll",
    "children",
    "deployed_config",
    "descendants",
    "free_port",
    "http_call",
    "http_status",
    "pid_alive",
    "poll",
    "running_nginx",
    "serving",
    "started",
    "stat_fields",
]
